"""The 8x8 handwritten digits that scikit-learn bundles (UCI "Optical Recognition of Handwritten
Digits", Alpaydin & Kaynak 1998, CC BY 4.0): 1,797 real images shipped with this package
(``digits.npz``), upsampled; a fixed seeded split of 300 for validation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import Augment
from .base import Dataset, UnknownDataset, _no_options

__all__ = ["load_digits", "DIGITS_SPLIT_SEED", "DIGITS_VAL"]


#: Fixed split of the 1,797 digits: a permutation by this seed, the first 300 for validation.
DIGITS_SPLIT_SEED, DIGITS_VAL = 20240601, 300


def load_digits(resolution: int, rgb: bool = False, **options: Any) -> Dataset:
    """Grey images (``in_chans=1``), or the grey channel repeated three times with ``rgb=True``
    (what the digits studies recorded before grey data reached networks as one channel)."""
    _no_options("digits", options)
    if not isinstance(rgb, bool):
        raise UnknownDataset(f"digits: rgb={rgb!r} must be true or false")
    with np.load(Path(__file__).parent.parent / "digits.npz") as d:  # scikit-learn's copy, bundled
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
