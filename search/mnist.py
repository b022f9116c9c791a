"""``designspace.search.mnist``: the MNIST family (:mod:`designspace.search.datasets.mnist`)."""
from __future__ import annotations

from .datasets.mnist import *  # noqa: F401,F403
from .datasets.mnist import IDX_SETS, VAL_SEED, read_idx, split_indices  # noqa: F401
