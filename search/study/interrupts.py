"""Ctrl-C in a worker process: the first finishes the running trial, then the worker stops; the
second abandons the trial (it is failed and re-queued).  The parent learns when a worker heard an
interrupt itself (:data:`HEARD`), so that it passes on only the interrupts sent to it alone
(:func:`.parent._forwarding`)."""
from __future__ import annotations

import signal
import threading
import time
from typing import Any

from .urls import say

__all__ = ["HEARD", "TrialInterrupts"]

#: shared time of the last interrupt a worker process received (set by the parent's worker start)
HEARD: Any = None


class TrialInterrupts:
    """SIGINT while a worker runs: first finish the current trial (:attr:`in_trial`), then stop
    (:attr:`requested`); a second, or one between trials, raises ``KeyboardInterrupt``."""

    def __init__(self) -> None:
        self.requested = False
        self.in_trial: int | None = None
        self._old: Any = None

    def __enter__(self) -> "TrialInterrupts":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def _handle(self, signum: int, frame: Any) -> None:
        if HEARD is not None:  # tell the parent when this interrupt arrived (see run_workers)
            HEARD.value = time.time()
        if self.requested or self.in_trial is None:
            self.requested = True
            raise KeyboardInterrupt
        self.requested = True
        say(f"designspace study: interrupt: finishing trial {self.in_trial}, then stopping "
            "(Ctrl-C again abandons it)")
