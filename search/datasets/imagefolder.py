"""A directory of class folders as a :class:`designspace.search.data.Dataset`.

Layouts: ``root/train/<class>/*`` with ``root/val/<class>/*`` (the ImageNet convention), or
``root/<class>/*`` split by a seeded permutation.  Images of any size are resized to
``resolution``; they are decoded into memory as uint8 when that fits in ``max_memory_bytes``,
otherwise kept as paths and decoded in DataLoader workers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..augment import Augment
from .base import Dataset, DatasetError, FileImages, _read_image

__all__ = ["load_imagefolder", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _scan(root: Path, classes: list[str] | None = None) -> tuple[list[str], list[str], list[int]]:
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = classes if classes is not None else found
    paths: list[str] = []
    labels: list[int] = []
    for k, c in enumerate(classes):
        d = root / c
        if not d.is_dir():
            continue
        for f in sorted(d.rglob("*")):
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                paths.append(str(f))
                labels.append(k)
    return classes, paths, labels


def load_imagefolder(
    root: Path,
    resolution: int,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    max_memory_bytes: int = 4 << 30,
) -> Dataset:
    """Load ``root`` as class folders; see the module docstring for the layouts."""
    if not root.is_dir():
        raise DatasetError(f"imagefolder: {root} is not a directory; pass --data-root DIR holding one folder per class")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction!r} must be in (0, 1)")
    if (root / "train").is_dir() and (root / "val").is_dir():
        classes, tr_paths, tr_labels = _scan(root / "train")
        _, va_paths, va_labels = _scan(root / "val", classes)
    else:
        classes, paths, labels = _scan(root)
        order = np.random.default_rng(seed).permutation(len(paths))
        n_val = max(1, int(round(val_fraction * len(paths)))) if len(paths) > 1 else 0
        va, tr = order[:n_val], order[n_val:]
        tr_paths, tr_labels = [paths[i] for i in tr], [labels[i] for i in tr]
        va_paths, va_labels = [paths[i] for i in va], [labels[i] for i in va]
    if len(classes) < 2 or not tr_paths or not va_paths:
        raise DatasetError(
            f"imagefolder: found {len(classes)} class folders and {len(tr_paths)} train / {len(va_paths)} "
            f"validation images under {root}; expected root/<class>/<image> (at least 2 classes) or "
            f"root/train/<class>/... with root/val/<class>/... (suffixes {', '.join(IMAGE_SUFFIXES)})")
    tr_files = FileImages(tuple(tr_paths), tuple(tr_labels), resolution)
    va_files = FileImages(tuple(va_paths), tuple(va_labels), resolution)
    per_image = 3 * resolution * resolution
    if (len(tr_paths) + len(va_paths)) * per_image <= max_memory_bytes:
        tr_x: torch.Tensor | FileImages = _decode_all(tr_files)
        va_x: torch.Tensor | FileImages = _decode_all(va_files)
    else:
        tr_x, va_x = tr_files, va_files
    return Dataset("imagefolder", tr_x, torch.tensor(tr_labels), va_x, torch.tensor(va_labels), len(classes),
                   IMAGENET_MEAN, IMAGENET_STD, Augment(max(1, resolution // 8), True), tuple(classes))


def _decode_all(files: FileImages) -> torch.Tensor:
    out = torch.empty((len(files), 3, files.resolution, files.resolution), dtype=torch.uint8)
    for i, p in enumerate(files.paths):
        try:
            out[i] = _read_image(p, files.resolution)
        except OSError as e:
            raise DatasetError(f"imagefolder: cannot read {p} ({e}); remove or replace the file") from None
    return out
