"""Progress bars for the commands (tqdm): on standard error, and only when it is a terminal.

``bar(total=..., desc=...)`` returns a ``tqdm`` bar that draws nothing when standard error is not
a terminal (a pipe, a log file, a test) or when ``enabled`` is false, so command output stays
clean wherever it is captured.  Library functions take plain callbacks (``progress(done,
total)``); only the command line turns them into bars.
"""
from __future__ import annotations

import sys
from typing import Any

__all__ = ["bar", "enabled"]


def enabled(quiet: bool = False) -> bool:
    """Bars are drawn when not ``quiet`` and standard error is a terminal."""
    return not quiet and bool(getattr(sys.stderr, "isatty", lambda: False)())


def bar(total: float | None = None, desc: str = "", *, unit: str = "it", quiet: bool = False, **kw: Any) -> Any:
    """A tqdm bar on standard error (disabled off a terminal or when ``quiet``); it vanishes
    when closed (``leave=False``)."""
    from tqdm import tqdm

    kw.setdefault("leave", False)
    kw.setdefault("dynamic_ncols", True)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled(quiet), **kw)
