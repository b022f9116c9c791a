"""Outages of a study storage: a database that cannot be reached now is waited out, with backoff,
for up to ``storage_retry_s`` seconds (:class:`Outage`); past that, :class:`StorageUnreachable`
(one line naming the storage, exit 1).  :func:`with_retry` routes every method of a storage
class through its instance's :class:`Outage`.  Only Optuna's and SQLAlchemy's public names here.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any, Callable

from ..urls import mask

__all__ = ["StorageUnreachable", "Outage", "with_retry", "call"]

log = logging.getLogger("designspace.search.study.storage")


class StorageUnreachable(RuntimeError):
    """The storage could not be reached for ``storage_retry_s`` seconds (exit 1)."""


#: fragments of the messages of a database that cannot be reached now (as opposed to a bad input)
_UNREACHABLE = ("could not connect", "connection refused", "server closed the connection", "terminating connection",
                "connection to server", "the database system is", "ssl syscall", "connection reset", "broken pipe",
                "no connection to the server", "timeout expired", "timed out", "lost connection", "gone away",
                "can't connect", "connection is closed", "closed the connection", "cannot connect now",
                "connection already closed", "server login has been failing", "unavailable", "failed to connect",
                "could not receive data", "could not send data", "ssl connection has been closed", "database is locked")


def _reason(e: BaseException) -> str | None:
    """The first line of the database's message when ``e`` means "unreachable", else ``None``:
    a known "cannot reach" message, or any operational or interface error of the database driver
    that is not a fault of the input (a refused password, a missing database: those are not waited on)."""
    from sqlalchemy import exc

    from ..storage_input import input_fault

    chain: list[BaseException] = []
    while e is not None and len(chain) < 6:
        chain.append(e)
        e = e.__cause__ or e.__context__  # type: ignore[assignment]
    if any(input_fault(str(x)) for x in chain):
        return None
    for x in chain:
        text = str(x).strip()
        if (any(f in text.lower() for f in _UNREACHABLE) or getattr(x, "connection_invalidated", False)
                or isinstance(x, (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError))):
            line = (text.splitlines() or [type(x).__name__])[0]
            return re.sub(r"^\([\w.]+\)\s*", "", line)[:200]  # without SQLAlchemy's "(psycopg2.OperationalError)"
    return None


class Outage:
    """Retry a storage call while the storage is unreachable, for up to ``limit_s`` seconds in all."""

    def __init__(self, where: str, limit_s: float) -> None:
        self.where, self.limit_s = mask(where), float(limit_s)
        self.gave_up = False
        self.recovered_at = 0.0  # when the last outage ended (stale checks wait a grace period after it)
        self.ping: Callable[[], None] | None = None  # a round trip to the database, set by open_storage

    def call(self, fn: Callable[[], Any]) -> Any:
        if self.gave_up:
            raise StorageUnreachable(self._final("earlier"))
        start, delay, said = time.monotonic(), 0.5, -1e9
        while True:
            try:
                out = fn()
            except Exception as e:
                why = _reason(e) or self._unreachable_now(e)
                if why is None:
                    raise
                waited = time.monotonic() - start
                if waited >= self.limit_s:
                    self.gave_up = True
                    raise StorageUnreachable(self._final(why)) from None
                if waited - said >= 10 or said < 0:
                    log.warning("designspace study: storage %s unreachable, retrying (%.0f s of %.0f s)",
                                self.where, waited, self.limit_s)
                    said = waited
                time.sleep(min(delay, max(0.05, self.limit_s - waited)))
                delay = min(delay * 2, 10.0)
                continue
            if said >= 0:
                self.recovered_at = time.time()
                log.warning("designspace study: storage %s reachable again", self.where)
            return out

    def _unreachable_now(self, e: Exception) -> str | None:
        """For a commit that failed without saying why (Optuna's StorageInternalError), whether the
        database answers now: if not, the failure was the outage beginning."""
        import optuna

        if self.ping is None or not isinstance(e, optuna.exceptions.StorageInternalError):
            return None
        try:
            self.ping()
        except Exception as p:
            return _reason(p)
        return None

    def _final(self, why: str) -> str:
        return (f"storage {self.where} unreachable for {self.limit_s:.0f} s ({why}); nothing is lost: start it and "
                "run the same command again (raise [workers] storage_retry_s or --storage-retry to wait longer)")


#: RDB storage methods that are not retried: a heartbeat is skipped while the storage is away
_NOT_RETRIED = {"record_heartbeat", "get_heartbeat_interval", "get_heartbeat_stale_trial_callback",
                "get_failed_trial_callback", "check_trial_is_updatable", "remove_session"}


def _retried_methods(cls: type) -> list[str]:
    from optuna.storages import BaseStorage

    # the public methods, and the private ones Optuna's own cache and heartbeat call on the RDB storage
    names = [n for n in dir(BaseStorage) if not n.startswith("_")] + [
        "record_heartbeat", "_get_trials", "_get_stale_trial_ids", "_create_new_trial", "_get_best_trial_id",
        "_set_trial_param"]
    return [n for n in names if n not in _NOT_RETRIED and callable(getattr(cls, n, None))]


def with_retry(cls: type) -> type:
    """``cls`` whose storage calls go through its instance's :class:`Outage` (``self._outage``)."""
    for name in _retried_methods(cls):
        orig = getattr(cls, name)

        def method(self: Any, *a: Any, __orig: Any = orig, **k: Any) -> Any:
            outage = getattr(self, "_outage", None)
            return __orig(self, *a, **k) if outage is None else outage.call(lambda: __orig(self, *a, **k))

        method.__name__ = name
        setattr(cls, name, method)
    return cls


def call(backend: Any, fn: Callable[[], Any]) -> Any:
    """``fn()`` through the backend's outage retry, where it has one."""
    outage = getattr(backend, "_outage", None)
    return fn() if outage is None else outage.call(fn)
