"""A running trial's heartbeat: a daemon thread that refreshes it every ``heartbeat_interval`` s.

RDB storages record Optuna's own heartbeat (``record_heartbeat``); a journal file, which has
none, a trial system attribute (:data:`~.storage.HEARTBEAT_ATTR`).  A beat that fails (the storage
away for a moment, the trial finished meanwhile) is skipped: the storage facade's stale check
gives live workers a grace period after an outage.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .storage import HEARTBEAT_ATTR, storage_of

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["Heartbeat"]


class Heartbeat:
    """Refresh a running trial's heartbeat every ``interval`` seconds from a daemon thread."""

    def __init__(self, study: "optuna.Study", trial_id: int, interval: int) -> None:
        self._study, self._trial_id, self._interval = study, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="designspace-heartbeat")

    def _beat(self) -> None:
        st = storage_of(self._study)
        if hasattr(st, "record_heartbeat") and getattr(st, "get_heartbeat_interval", lambda: None)():
            st.record_heartbeat(self._trial_id)
        else:
            st.set_trial_system_attr(self._trial_id, HEARTBEAT_ATTR, time.time())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:  # the trial finished meanwhile, or a transient storage error
                pass

    def start(self) -> "Heartbeat":
        """Beat every ``interval`` seconds until :meth:`stop`.  The first beat comes after
        ``interval`` seconds: until then the trial's start time stands for one (a trial that never
        beat is stale ``grace_period`` seconds after it started, see :func:`.storage.fail_stale`)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join()

    def __enter__(self) -> "Heartbeat":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
