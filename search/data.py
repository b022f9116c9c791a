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
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from designspace.errors import InputError

from .augment import Augment

__all__ = ["Dataset", "FileImages", "DatasetError", "load", "default_root", "NAMES", "CIFAR"]

NAMES = ("fashion_mnist", "mnist", "kmnist", "cifar10", "cifar100", "imagefolder", "digits", "synthetic")


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or unreadable; the message says where we looked and what to do."""


class UnknownDataset(DatasetError, InputError):
    """The name (or an option) of a data set is wrong: a bad input, exit status 2 at the command line."""


@dataclass(frozen=True)
class FileImages(torch.utils.data.Dataset):
    """Image files decoded lazily (in DataLoader workers) to uint8 ``(C, H, W)`` at ``resolution``."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]
    resolution: int

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return _read_image(self.paths[i], self.resolution), self.labels[i]


@dataclass(frozen=True)
class Dataset:
    """Train and validation images (uint8 tensors, or :class:`FileImages` to stream) and labels."""

    name: str
    train_images: torch.Tensor | FileImages
    train_labels: torch.Tensor
    val_images: torch.Tensor | FileImages
    val_labels: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: Augment = field(default_factory=Augment)
    classes: tuple[str, ...] = ()
    #: what the validation part is: ``val`` (held out of the training set) or ``test`` (the
    #: official test set, for a final report)
    split: str = "val"

    @property
    def channels(self) -> int:
        """Image channels (1 for grey data sets, 3 for RGB): the networks' ``in_chans``."""
        x = self.train_images
        return 3 if isinstance(x, FileImages) else int(x.shape[1])

    @property
    def resolution(self) -> int:
        x = self.train_images
        return x.resolution if isinstance(x, FileImages) else int(x.shape[-1])

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train_images, torch.Tensor) and isinstance(self.val_images, torch.Tensor)

    @property
    def nbytes(self) -> int:
        """Bytes of the uint8 images (0 when streamed from files)."""
        if not self.in_memory:
            return 0
        return int(self.train_images.numel() + self.val_images.numel())  # type: ignore[union-attr]

    def __repr__(self) -> str:
        kind = "in memory" if self.in_memory else "streamed from files"
        return (f"Dataset({self.name!r}, train={len(self.train_labels)}, val={len(self.val_labels)}, "
                f"classes={self.num_classes}, resolution={self.resolution}, {kind})")


def default_root() -> Path:
    """``$DESIGNSPACE_DATA``, else ``$XDG_CACHE_HOME/designspace/data`` (``~/.cache/...``)."""
    env = os.environ.get("DESIGNSPACE_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "designspace" / "data"


def data_roots(root: str | os.PathLike | None) -> list[Path]:
    """Where data sets are looked for, in order: ``root`` (``--data-root``), ``$DESIGNSPACE_DATA``,
    then (after a data set's system folder, e.g. Debian's) the cache folder downloads go to."""
    out: list[Path] = []
    if root is not None:
        out.append(Path(root).expanduser())
    env = os.environ.get("DESIGNSPACE_DATA")
    if env:
        out.append(Path(env).expanduser())
    return out


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
    if name in ("fashion_mnist", "mnist", "kmnist"):
        from .mnist import load_idx

        return load_idx(name, data_roots(root), base if download else None, cache=[default_root()],
                        resolution=resolution, **options)
    if name in CIFAR:
        _no_options(name, options)
        ds = _cifar(name, base, download)
    elif name == "digits":
        ds = _digits(resolution or 32, **options)
    elif name == "synthetic":
        ds = _synthetic(resolution or 32, **options)
    else:  # imagefolder
        if root is None:
            raise UnknownDataset("imagefolder needs a root directory of class folders (--data-root DIR)")
        from .imagefolder import load_imagefolder

        return load_imagefolder(base, resolution or 224, **options)
    if resolution is not None and resolution != ds.resolution:
        ds = _resized(ds, resolution)
    return ds


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise UnknownDataset(f"{name} takes no options, got {', '.join(sorted(options))}")


# ------------------------------------------------------------------------------ CIFAR
@dataclass(frozen=True)
class _Cifar:
    url: str
    archive: str
    archive_md5: str
    folder: str
    train: tuple[tuple[str, str], ...]
    test: tuple[tuple[str, str], ...]
    meta: tuple[str, str, str]  # file, md5, key of class names
    label_key: bytes
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


CIFAR: dict[str, _Cifar] = {
    "cifar10": _Cifar(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
        (("data_batch_1", "c99cafc152244af753f735de768cd75f"), ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
         ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"), ("data_batch_4", "634d18415352ddfa80567beed471001a"),
         ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb")),
        (("test_batch", "40351d587109b95175f43aff81a1287e"),),
        ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888", "label_names"), b"labels", 10,
        (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
    ),
    "cifar100": _Cifar(
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python",
        (("train", "16019d7e3df5f24257cddd939b257f8d"),), (("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),),
        ("meta", "7973b15100ade9c7d40fb424638fde48", "fine_label_names"), b"fine_labels", 100,
        (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
    ),
}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _cifar(name: str, root: Path, download: bool) -> Dataset:
    c = CIFAR[name]
    folder, archive = root / c.folder, root / c.archive
    fix = (f"download {c.url} into {root} (or pass --data-root DIR / root=DIR where "
           f"{c.archive} or {c.folder}/ already is)")
    if not folder.is_dir():
        if not archive.is_file():
            if not download:
                raise DatasetError(f"{name}: neither {folder}/ nor {archive} exists; {fix}")
            _download(c.url, archive, name, fix)
        got = md5sum(archive)
        if got != c.archive_md5:
            raise DatasetError(
                f"{name}: {archive} is corrupt (md5 {got}, expected {c.archive_md5}); "
                f"delete it and run again to download it afresh, or {fix}")
        try:
            with tarfile.open(archive, "r:gz") as tar:
                try:
                    tar.extractall(root, filter="data")
                except TypeError:  # Python < 3.10.12 has no extraction filters
                    tar.extractall(root)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DatasetError(f"{name}: cannot extract {archive} ({e}); delete it and {fix}") from None
    for fname, md5 in (*c.train, *c.test, c.meta[:2]):
        p = folder / fname
        if not p.is_file():
            raise DatasetError(f"{name}: {p} is missing; delete {folder}/ and {fix}")
        got = md5sum(p)
        if got != md5:
            raise DatasetError(f"{name}: {p} is corrupt (md5 {got}, expected {md5}); delete {folder}/ and {fix}")

    def read(files: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for fname, _ in files:
            with open(folder / fname, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[c.label_key], dtype=np.int64))
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    xtr, ytr = read(c.train)
    xva, yva = read(c.test)
    with open(folder / c.meta[0], "rb") as f:
        classes = tuple(s.decode() if isinstance(s, bytes) else s for s in pickle.load(f, encoding="bytes")[c.meta[2].encode()])
    return Dataset(name, xtr, ytr, xva, yva, c.num_classes, c.mean, c.std, Augment(4, True), classes)


def _download(url: str, dest: Path, name: str, fix: str) -> None:
    import shutil
    import urllib.request

    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + f".{os.getpid()}.part")
    try:
        with urllib.request.urlopen(url, timeout=30) as r, open(part, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        part.unlink(missing_ok=True)
        for p in created:  # leave no empty data folder behind (innermost first)
            try:
                p.rmdir()
            except OSError:
                break
        raise DatasetError(f"{name}: no copy under {dest.parent} and the download of {url} failed ({e}); {fix}") from None
    part.replace(dest)


# ----------------------------------------------------------------------------- digits
#: Fixed split of the 1,797 digits: a permutation by this seed, the first 300 for validation.
DIGITS_SPLIT_SEED, DIGITS_VAL = 20240601, 300


def _digits(resolution: int, rgb: bool = False, **options: Any) -> Dataset:
    """Grey images (``in_chans=1``), or the grey channel repeated three times with ``rgb=True``
    (what the digits studies recorded before grey data reached networks as one channel)."""
    _no_options("digits", options)
    if not isinstance(rgb, bool):
        raise UnknownDataset(f"digits: rgb={rgb!r} must be true or false")
    with np.load(Path(__file__).with_name("digits.npz")) as d:  # scikit-learn's copy, bundled
        images, target = d["images"], d["labels"]
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]  # (N,1,8,8) in [0, 16]
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    x = (x * (255.0 / 16.0)).round().clamp(0, 255).to(torch.uint8)
    if rgb:
        x = x.expand(-1, 3, -1, -1).contiguous()
    y = torch.from_numpy(np.asarray(target, dtype=np.int64))
    order = torch.from_numpy(np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(y)))
    va, tr = order[:DIGITS_VAL], order[DIGITS_VAL:]
    mean = float(x.float().mean() / 255)
    std = float(x.float().std() / 255)
    pad = max(1, resolution // 8)
    c = x.shape[1]
    return Dataset("digits", x[tr], y[tr], x[va], y[va], 10, (mean,) * c, (std,) * c,
                   Augment(pad, flip=False), tuple(str(i) for i in range(10)))


# -------------------------------------------------------------------------- synthetic
def _synthetic(resolution: int, n_train: int = 50_000, n_val: int = 10_000, num_classes: int = 10,
               seed: int = 0, channels: int = 3) -> Dataset:
    for k, v in (("n_train", n_train), ("n_val", n_val), ("num_classes", num_classes), ("channels", channels)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{k}={v!r} must be a positive integer")
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_val
    x = torch.randint(0, 256, (n, channels, resolution, resolution), dtype=torch.uint8, generator=g)
    y = torch.randint(0, num_classes, (n,), generator=g)
    return Dataset("synthetic", x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes,
                   (0.5,) * channels, (0.289,) * channels, Augment(resolution // 8, True))


# ----------------------------------------------------------------------------- helpers
def resize_uint8(x: torch.Tensor, resolution: int, chunk: int = 4096) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of uint8 ``(N, C, H, W)`` images, in chunks."""
    out = []
    for i in range(0, len(x), chunk):
        xi = x[i:i + chunk].float()
        xi = F.interpolate(xi, size=(resolution, resolution), mode="bilinear", align_corners=False,
                           antialias=resolution < x.shape[-1])
        out.append(xi.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out) if out else x.new_empty((0, x.shape[1], resolution, resolution))


def _resized(ds: Dataset, resolution: int) -> Dataset:
    from dataclasses import replace

    scale = resolution / ds.resolution
    aug = Augment(max(0, round(ds.augment.pad * scale)), ds.augment.flip)
    return replace(ds, train_images=resize_uint8(ds.train_images, resolution),  # type: ignore[arg-type]
                   val_images=resize_uint8(ds.val_images, resolution), augment=aug)  # type: ignore[arg-type]


def _read_image(path: str, resolution: int) -> torch.Tensor:
    """Decode an image file to uint8 ``(3, resolution, resolution)`` (RGB, bilinear resize)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB").resize((resolution, resolution), Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
    return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous()
