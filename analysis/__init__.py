"""Error distribution functions, statistics, fits, figures and reports.

The network is the unit: rows sharing a spec ``id`` are one network, averaged over its seeds.
:func:`summarize` returns the machine-readable result of ``designspace analyze --json``
(groups, comparisons with verdicts "different" / "equivalent" / "inconclusive", trends).
"""
from __future__ import annotations

from typing import Any

__all__ = ["summarize"]


def __getattr__(name: str) -> Any:  # lazy: importing the package loads no scipy or pandas
    if name == "summarize":
        from .summary import summarize

        return summarize
    raise AttributeError(f"module 'designspace.analysis' has no attribute {name!r}")
