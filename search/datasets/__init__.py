"""Datasets for short-schedule training: CIFAR-10/100, ImageFolder, offline digits, synthetic.

Every dataset is returned as a :class:`Dataset` of uint8 ``(N, C, H, W)`` images and int64
labels split into train and validation parts, plus the per-channel mean/std used to normalise
and the default training augmentation.  The trainer puts the uint8 tensors on the device and
augments them there (:mod:`designspace.search.augment`); an ImageFolder too large for memory is kept as
file paths and streamed through a DataLoader instead.

* ``cifar10`` / ``cifar100``: Krizhevsky, "Learning Multiple Layers of Features from Tiny
  Images", 2009.  Read from the standard python archives under ``root`` (or the cache dir),
  downloaded when missing and online; checksums verified (the MD5 sums torchvision publishes).
* ``imagefolder``: ``root/<class>/<image>``, or ``root/train/<class>/...`` and ``root/val/...``;
  any image size, resized to the requested resolution.
* ``digits``: the 8x8 handwritten digits that scikit-learn bundles (UCI "Optical Recognition of
  Handwritten Digits", Alpaydin & Kaynak 1998, CC BY 4.0), 1,797 real images shipped with this
  package (``digits.npz``, 45 KB; the tests hold it equal to ``sklearn.datasets.load_digits``),
  upsampled; a fixed seeded split of 300 for validation.
* ``synthetic``: random images and labels, for throughput benchmarks only.

The package: :mod:`.base` (what a data set is, its errors, resizing), one module per format
(:mod:`.mnist` for the IDX family, :mod:`.cifar`, :mod:`.imagefolder`, :mod:`.digits`,
:mod:`.synthetic`), and here the registry (:data:`REGISTRY`, name -> loader) behind :func:`load`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from designspace.errors import InputError

from .base import (Dataset, DatasetError, FileImages, UnknownDataset, _no_options, _resized, data_roots, default_root,
                   md5sum, resize_uint8)
from .cifar import CIFAR, load_cifar
from .digits import DIGITS_SPLIT_SEED, DIGITS_VAL, load_digits
from .imagefolder import load_imagefolder
from .mnist import load_idx
from .synthetic import load_synthetic

__all__ = ["Dataset", "FileImages", "DatasetError", "UnknownDataset", "load", "default_root", "data_roots", "NAMES",
           "CIFAR", "REGISTRY", "resize_uint8", "md5sum", "DIGITS_SPLIT_SEED", "DIGITS_VAL"]

#: a loader: ``(name, root as given, root folder, resolution, download, options) -> Dataset``
Loader = Callable[[str, Any, Path, "int | None", bool, "dict[str, Any]"], Dataset]


def _idx(name: str, root: Any, base: Path, resolution: int | None, download: bool, options: dict[str, Any]) -> Dataset:
    return load_idx(name, data_roots(root), base if download else None, cache=[default_root()],
                    resolution=resolution, **options)


def _cifar(name: str, root: Any, base: Path, resolution: int | None, download: bool, options: dict[str, Any]) -> Dataset:
    _no_options(name, options)
    return load_cifar(name, base, download)


def _imagefolder(name: str, root: Any, base: Path, resolution: int | None, download: bool,
                 options: dict[str, Any]) -> Dataset:
    if root is None:
        raise UnknownDataset("imagefolder needs a root directory of class folders (--data-root DIR)")
    return load_imagefolder(base, resolution or 224, **options)


#: data set name -> loader (a new format: a module beside these and one entry here)
REGISTRY: dict[str, Loader] = {
    "fashion_mnist": _idx, "mnist": _idx, "kmnist": _idx,
    "cifar10": _cifar, "cifar100": _cifar,
    "imagefolder": _imagefolder,
    "digits": lambda name, root, base, res, download, options: load_digits(res or 32, **options),
    "synthetic": lambda name, root, base, res, download, options: load_synthetic(res or 32, **options),
}
NAMES = tuple(REGISTRY)


def load(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    resolution: int | None = None,
    download: bool = True,
    **options: Any,
) -> Dataset:
    """Load dataset ``name`` (one of :data:`NAMES`).

    ``root`` is where the files are (or go); it defaults to :func:`default_root`.  ``resolution``
    resizes the images (default: the native size; 32 for digits and synthetic).  ``options`` go
    to the dataset: ``fashion_mnist``/``mnist``/``kmnist`` (``split``, ``val_size``,
    ``train_size``, ``rgb``, ``resize``; see :mod:`designspace.search.mnist`),
    ``digits(rgb)``, ``synthetic(n_train, n_val, num_classes, seed, channels)``,
    ``imagefolder(val_fraction, seed, max_memory_bytes)``.  A bad name or option raises
    :class:`UnknownDataset`; missing or corrupt files :class:`DatasetError`.
    """
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        raise UnknownDataset(f"resolution={resolution!r} must be a positive integer")
    if not isinstance(name, str) or name not in NAMES:
        import difflib

        close = difflib.get_close_matches(str(name), NAMES, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownDataset(f"dataset={name!r} is not one of {', '.join(NAMES)}{hint}")
    try:
        return _load(name, root, resolution, download, options)
    except (TypeError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise UnknownDataset(f"{name}: {e}") from None


def _load(name: str, root: Any, resolution: int | None, download: bool, options: dict[str, Any]) -> Dataset:
    base = Path(root).expanduser() if root is not None else default_root()
    ds = REGISTRY[name](name, root, base, resolution, download, options)
    if resolution is not None and resolution != ds.resolution:
        ds = _resized(ds, resolution)
    return ds
