"""Bounds of the numeric command-line flags, checked before any work or file.

Every numeric flag of every command has a lower and an upper bound: a value outside them is a
one-line :class:`~designspace.errors.UsageError` (exit 2) naming the flag as the user typed it,
raised before any data is loaded, any model built or any file opened, instead of an hour of
silent work, an ``OverflowError`` or an allocation that never returns.  The upper bounds are far
above any sensible use; each says what it protects.
"""
from __future__ import annotations

from typing import Any

from .errors import UsageError

__all__ = ["MAX_RESOLUTION", "MAX_BATCH", "MAX_THREADS", "MAX_WORKERS", "MAX_SEED", "MAX_EPOCHS", "MAX_SAMPLES",
           "MAX_DRAWS", "MAX_CLASSES", "MAX_CHANNELS", "MAX_ROUNDS", "MAX_IMAGES", "bounded_int"]

MAX_RESOLUTION = 4096  #: pixels per side (an image of 4096 x 4096 x 3 floats is 200 MB per sample)
MAX_BATCH = 65_536  #: images per batch
MAX_THREADS = 1024  #: CPU threads per process
MAX_WORKERS = 1024  #: processes on one machine
MAX_SEED = 2**63 - 1  #: what torch and numpy take as a seed
MAX_EPOCHS = 10_000  #: epochs of one training run
MAX_SAMPLES = 1_000_000  #: models in one sample file (each record is held in memory until written)
MAX_DRAWS = 10**12  #: draws one sampling run may make (``sample --budget``)
MAX_CLASSES = 1_000_000  #: classifier outputs
MAX_CHANNELS = 4096  #: input channels
MAX_ROUNDS = 100_000  #: timed rounds or steps of a measurement
MAX_IMAGES = 10**9  #: images of a training or validation subset


def bounded_int(flag: str, value: Any, lo: int, hi: int, *, sep: str = " ") -> int:
    """``value`` (an int or its text, ``_`` allowed) as an int in ``[lo, hi]``; otherwise a
    :class:`UsageError` such as ``--n 0 must be >= 1``.  ``sep`` joins flag and value in the
    message (``"="`` for commands that write ``--n=0``)."""
    text = str(value).strip().replace("_", "")
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"{flag}{sep}{value!r} is not an integer") from None
    if v < lo:
        raise UsageError(f"{flag}{sep}{v} must be >= {lo}")
    if v > hi:
        raise UsageError(f"{flag}{sep}{v} must be <= {hi:,}")
    return v

