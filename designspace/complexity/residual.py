"""Complexity of the residual blocks (and their stems); mirrors blocks/residual.py."""
from __future__ import annotations

from . import register_block, register_stem  # noqa: F401
from .counter import Counter  # noqa: F401
