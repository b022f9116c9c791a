"""The MNIST family in the IDX format: Fashion-MNIST, MNIST and KMNIST.

* ``fashion_mnist``: Xiao, Rasul & Vollgraf, "Fashion-MNIST: a Novel Image Dataset for
  Benchmarking Machine Learning Algorithms", 2017 (Zalando Research): 60,000 training and
  10,000 test images of clothing, 28x28 grey, 10 classes of 6,000 + 1,000 each.
* ``mnist``: LeCun, Bottou, Bengio & Haffner, 1998, handwritten digits.
* ``kmnist``: Clanuwat et al., "Deep Learning for Classical Japanese Literature", 2018.

Where the four files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, gzipped or not) are looked for, in order:
the ``root`` argument (``--data-root``), ``$DESIGNSPACE_DATA``, the folder Debian's package
installs them into (``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist``), then a
download from the official mirror into the data root when online.  In each folder the files may
sit directly, or in a subfolder named after the data set (``fashion-mnist/``, torchvision's
``FashionMNIST/raw/``).

Every file is checked after decompression: the IDX header (magic, dtype uint8, shape) and, for
Fashion-MNIST, a SHA-256 of the decompressed bytes (re-packaged ``.gz`` files, such as
Debian's, differ byte-wise from the official ones but decompress to the same bytes; the
official ``.gz`` MD5 sums are not a usable check for them).  For MNIST and KMNIST only the header
and shape are checked offline.  A missing or corrupt file gets one message that names the file,
every folder searched, and the fix.

Splits (:func:`load_idx`): ``split="val"`` (the default, what model selection and studies use)
holds a stratified, seeded validation set of ``val_size`` images (default 10,000: 1,000 per
class) out of the 60,000 training images, and trains on the rest; ``split="test"`` trains on
all 60,000 and evaluates on the official 10,000 test images (for a final report).
``train_size`` subsamples the training part (stratified, seeded) for short studies.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..augment import Augment
from .base import Dataset, DatasetError, resize_uint8

__all__ = ["IDX_SETS", "IdxSet", "load_idx", "find_files", "read_idx", "VAL_SEED", "split_indices"]

#: seed of the stratified validation split (and of ``train_size`` subsamples); documented, fixed
VAL_SEED = 20261201
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxFile:
    name: str                      # without .gz
    shape: tuple[int, ...]
    sha256: str | None = None      # of the decompressed bytes (None: not known offline)


@dataclass(frozen=True)
class IdxSet:
    name: str
    title: str
    folders: tuple[str, ...]       # subfolder names tried inside each root
    system_dirs: tuple[str, ...]   # where a distribution package puts them
    package: str                   # the Debian package that ships them ("" if none)
    mirrors: tuple[str, ...]
    files: tuple[IdxFile, IdxFile, IdxFile, IdxFile]  # in ROLES order
    classes: tuple[str, ...]
    flip: bool                     # horizontal flips preserve the label


def _files(sha: tuple[str | None, ...] = (None, None, None, None)) -> tuple[IdxFile, IdxFile, IdxFile, IdxFile]:
    return (IdxFile("train-images-idx3-ubyte", (60000, 28, 28), sha[0]),
            IdxFile("train-labels-idx1-ubyte", (60000,), sha[1]),
            IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28), sha[2]),
            IdxFile("t10k-labels-idx1-ubyte", (10000,), sha[3]))


IDX_SETS: dict[str, IdxSet] = {
    "fashion_mnist": IdxSet(
        "fashion_mnist", "Fashion-MNIST", ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST"),
        ("/usr/share/datasets/fashion-mnist",), "dataset-fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        _files(("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        flip=True),
    "mnist": IdxSet(
        "mnist", "MNIST", ("mnist", "MNIST/raw", "MNIST"), ("/usr/share/datasets/mnist",), "",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        _files(), tuple(str(i) for i in range(10)), flip=False),
    "kmnist": IdxSet(
        "kmnist", "KMNIST", ("kmnist", "KMNIST/raw", "KMNIST"), ("/usr/share/datasets/kmnist",), "",
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        _files(), ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"), flip=False),
}


def _candidates(base: Path, s: IdxSet) -> list[Path]:
    return [base] + [base / f for f in s.folders]


def _find_in(folder: Path, f: IdxFile) -> Path | None:
    for name in (f.name + ".gz", f.name):
        p = folder / name
        if p.is_file():
            return p
    return None


def find_files(s: IdxSet, roots: list[Path]) -> tuple[dict[str, Path] | None, list[Path]]:
    """The four files from the first folder (in search order) that holds all of them, and the
    folders searched."""
    searched: list[Path] = []
    for root in roots:
        for folder in _candidates(root, s):
            searched.append(folder)
            found = {role: _find_in(folder, f) for role, f in zip(ROLES, s.files)}
            if all(found.values()):
                return found, searched  # type: ignore[return-value]
    return None, searched


class IdxError(RuntimeError):
    """A file is missing or corrupt (the data set's loader turns this into a DatasetError)."""


def read_idx(path: Path, f: IdxFile) -> np.ndarray:
    """Decompress and check one IDX file: magic (0x00 0x00 0x08 = uint8, then the rank), the
    shape, and the SHA-256 of the decompressed bytes when known."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise IdxError(f"{path} cannot be read or decompressed ({e})") from None
    if f.sha256 is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != f.sha256:
            raise IdxError(f"{path} is corrupt (SHA-256 of its decompressed bytes {got[:16]}..., expected "
                           f"{f.sha256[:16]}...)")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != len(f.shape):
        raise IdxError(f"{path} is not an IDX file of uint8 with {len(f.shape)} dimension(s)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(len(f.shape)))
    if dims != f.shape:
        raise IdxError(f"{path} holds shape {dims}, expected {f.shape}")
    offset = 4 + 4 * len(f.shape)
    if len(raw) != offset + int(np.prod(dims)):
        raise IdxError(f"{path} is truncated or too long ({len(raw)} bytes for shape {dims})")
    return np.frombuffer(bytearray(raw), dtype=np.uint8, offset=offset).reshape(dims)


def _download(s: IdxSet, dest: Path) -> str | None:
    """Fetch the four files into ``dest``; returns None on success, else why it failed (nothing
    is left behind: a partial file, or the folder if this call created it, is removed)."""
    created = not dest.exists()
    last = "no mirror"
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"cannot create {dest} ({e.strerror})"
    for f in s.files:
        target = dest / (f.name + ".gz")
        if target.is_file():
            continue
        ok = False
        for mirror in s.mirrors:
            part = target.with_name(target.name + f".{os.getpid()}.part")
            try:
                with urllib.request.urlopen(mirror + f.name + ".gz", timeout=30) as r, open(part, "wb") as out:
                    shutil.copyfileobj(r, out)
                part.replace(target)
                ok = True
                break
            except OSError as e:
                last = f"{mirror}{f.name}.gz: {e}"
                part.unlink(missing_ok=True)
        if not ok:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            return last
    return None


def split_indices(labels: np.ndarray, n: int, seed: int = VAL_SEED) -> np.ndarray:
    """``n`` indices stratified by class (as equal per class as ``n`` allows), chosen by a
    seeded permutation within each class; sorted."""
    classes = np.unique(labels)
    per, extra = divmod(n, len(classes))
    rng = np.random.default_rng(seed)
    picks = []
    for k, c in enumerate(classes):
        idx = np.flatnonzero(labels == c)
        take = per + (1 if k < extra else 0)
        if take > len(idx):
            raise ValueError(f"class {c} has only {len(idx)} images, {take} requested")
        picks.append(rng.permutation(idx)[:take])
    return np.sort(np.concatenate(picks))


def _resize(x: np.ndarray, resolution: int, how: str) -> torch.Tensor:
    """uint8 (N, 28, 28) -> uint8 (N, 1, R, R): zero padding (``pad``, when R - 28 is even and
    positive) or bilinear resizing (antialiased when shrinking)."""
    t = torch.from_numpy(np.ascontiguousarray(x))[:, None]
    n = x.shape[-1]
    if resolution == n:
        return t.contiguous()
    if how == "pad" and resolution > n and (resolution - n) % 2 == 0:
        p = (resolution - n) // 2
        return torch.nn.functional.pad(t, (p, p, p, p)).contiguous()

    return resize_uint8(t, resolution)


def load_idx(name: str, roots: list[Path], download_root: Path | None, *, cache: list[Path] | None = None,
             resolution: int | None = None,
             split: str = "val", val_size: int = 10_000, train_size: int | None = None, rgb: bool = False,
             resize: str = "pad", seed: int = VAL_SEED) -> Any:
    """Load ``name`` (a key of :data:`IDX_SETS`) as a :class:`designspace.search.data.Dataset`
    (see the module docstring for ``split``, ``val_size``, ``train_size``); ``rgb`` repeats the
    grey channel three times; ``resize`` is ``pad`` (zeros around, default) or ``bilinear``.

    ``roots`` are searched first, then the data set's system folders (Debian's), then ``cache``
    (where earlier downloads went); ``download_root`` (None: no download) receives a download."""

    s = IDX_SETS[name]
    _check_options(split, resize, val_size, train_size)
    found = _locate(name, s, roots + [Path(d) for d in s.system_dirs] + list(cache or []), download_root)
    try:
        arrays = {role: read_idx(found[role], f) for role, f in zip(ROLES, s.files)}
    except IdxError as e:
        pkg = f" (Debian: apt install --reinstall {s.package})" if s.package else ""
        raise DatasetError(f"{name}: {e}; replace the file with the official one{pkg}") from None
    xtr, ytr, xva, yva = _split(arrays, split, val_size, train_size, seed)
    r = resolution or 28
    xt, xv = _resize(xtr, r, resize), _resize(xva, r, resize)
    if rgb:
        xt, xv = xt.expand(-1, 3, -1, -1).contiguous(), xv.expand(-1, 3, -1, -1).contiguous()
    c = xt.shape[1]
    mean = float(xt.float().mean() / 255)
    std = float(xt.float().std() / 255)
    pad = max(1, round(2 * r / 28))
    return Dataset(name, xt, torch.from_numpy(ytr), xv, torch.from_numpy(yva), len(s.classes), (mean,) * c,
                   (std,) * c, Augment(pad, s.flip), s.classes, split=split)


def _check_options(split: str, resize: str, val_size: Any, train_size: Any) -> None:
    if split not in ("val", "test"):
        raise ValueError(f"split={split!r} is not one of val, test")
    if resize not in ("pad", "bilinear"):
        raise ValueError(f"resize={resize!r} is not one of pad, bilinear")
    for k, v, lo, hi in (("val_size", val_size, 10, 50_000), ("train_size", train_size, 10, 60_000)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
            raise ValueError(f"{k}={v!r} must be an integer in [{lo}, {hi}]")


def _locate(name: str, s: Any, folders: list[Path], download_root: Path | None) -> dict[str, Path]:
    """The four IDX files of ``s``: in ``folders``, else downloaded into ``download_root``
    (``None``: no download); a :class:`DatasetError` saying where they were looked for."""
    found, searched = find_files(s, folders)
    failure = ""
    if found is None and download_root is not None:
        why = _download(s, download_root)
        if why is None:
            found, more = find_files(s, [download_root])
            searched += more
        else:
            failure = f"; the download into {download_root} failed ({why})"
    if found is None:
        where = ", ".join(dict.fromkeys(str(p) for p in searched))
        pkg = f"install Debian's {s.package} (apt install {s.package}), or " if s.package else ""
        raise DatasetError(f"{name}: {s.files[0].name}[.gz] and the other IDX files were not found in {where}"
                           f"{failure}; {pkg}pass --data-root DIR (or set DESIGNSPACE_DATA) to a folder holding "
                           f"the four files {', '.join(f.name + '.gz' for f in s.files)}")
    return found


def _split(arrays: dict[str, np.ndarray], split: str, val_size: int, train_size: int | None,
           seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train images, train labels, evaluation images, evaluation labels)``: a stratified
    validation split of the training set (``split="val"``) or the test set, and a stratified
    ``train_size`` subset of the training images."""
    xtr, ytr = arrays["train_images"], arrays["train_labels"].astype(np.int64)
    if split == "val":
        va = split_indices(ytr, val_size, seed)
        tr = np.setdiff1d(np.arange(len(ytr)), va, assume_unique=True)
        xva, yva = xtr[va], ytr[va]
        xtr, ytr = xtr[tr], ytr[tr]
    else:
        xva, yva = arrays["test_images"], arrays["test_labels"].astype(np.int64)
    if train_size is not None:
        if train_size > len(ytr):
            raise ValueError(f"train_size={train_size} exceeds the {len(ytr)} training images of this split")
        keep = split_indices(ytr, train_size, seed + 1)
        xtr, ytr = xtr[keep], ytr[keep]
    return xtr, ytr, xva, yva
