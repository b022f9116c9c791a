"""Random images and labels, for throughput benchmarks only."""
from __future__ import annotations

from typing import Any

import torch

from ..augment import Augment
from .base import Dataset

__all__ = ["load_synthetic"]


def load_synthetic(resolution: int, n_train: int = 50_000, n_val: int = 10_000, num_classes: int = 10,
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
