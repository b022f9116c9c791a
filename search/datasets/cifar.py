"""CIFAR-10/100 (Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009):
the standard python archives, downloaded when missing and online, checksums verified (the MD5
sums torchvision publishes)."""
from __future__ import annotations

import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..augment import Augment
from .base import Dataset, DatasetError, md5sum

__all__ = ["CIFAR", "load_cifar"]


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


def load_cifar(name: str, root: Path, download: bool) -> Dataset:
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
