"""The storage facade: the one package of the study runtime that talks to Optuna's storages.

Every read and write of trials that needs more than ``optuna.Study``'s public API goes through
here: opening a storage (:func:`open_storage`), taking and finishing a trial without re-reading
the study (:func:`take_trial`, :func:`finish_trial`), compare-and-set state changes, one-transaction
attribute writes (:func:`put_attrs`), stale-trial handling (:func:`fail_stale`), heartbeat ages,
and the few private names of Optuna that the runtime reads (:func:`trial_id`, :func:`storage_of`,
...).  Those names are listed in :data:`PRIVATE`; ``tests/search/test_study_storage.py`` fails
with a clear message on an Optuna version they were not checked against (:data:`OPTUNA_CHECKED`).

Storages:

* SQLite (the default, a file next to the spec): every connection waits up to
  :data:`SQLITE_TIMEOUT_S` for the write lock (the "database is locked" of optuna/optuna#820),
  and the file is switched to WAL so readers (``status``, the dashboard) never block writers.
* any Optuna RDB URL; PostgreSQL for workers on many machines.
* a journal file (``JournalFileBackend``), made for multi-process work on one machine; Optuna has
  no heartbeat for journals, so ours is a trial system attribute (:data:`HEARTBEAT_ATTR`).
* ``grpc://HOST:PORT``: Optuna's gRPC proxy (``designspace storage serve``) in front of an RDB.

Outages.  Every call of an RDB storage that fails because the database cannot be reached (a
PostgreSQL restart, a network blip) is retried with backoff for up to ``storage_retry_s``
seconds, with one line "storage ... unreachable, retrying (12 s)"; past that, one line naming
the storage (:class:`StorageUnreachable`, exit 1).  Bad addresses are refused before anything is
created (:mod:`.storage_input`, exit 2).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..urls import Scrub, install_scrub, is_url, mask, resolve
from .access import (OPTUNA_CHECKED, PRIVATE, cached_trial, close_storage, fix_params, missing_private_names,
                     rdb_backend, storage_of, study_id, trial_id)
from .outage import Outage, StorageUnreachable
from .rdb import atomic_rdb_storage, ping, put_attrs, retrying, wal
from .reads import read_trials_since
from .stale import HEARTBEAT_ATTR, fail_stale, heartbeat_ages
from .trials import finish_trial, take_trial

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..spec import StudySpec

__all__ = ["mask", "Scrub", "resolve", "is_url", "open_storage", "serve_storage", "close_storage", "fail_stale",
           "heartbeat_ages", "put_attrs", "StorageUnreachable", "Outage", "trial_id", "storage_of", "study_id",
           "cached_trial", "fix_params", "rdb_backend", "read_trials_since", "atomic_rdb_storage", "OPTUNA_CHECKED",
           "PRIVATE", "missing_private_names", "SQLITE_TIMEOUT_S", "HEARTBEAT_ATTR", "install_scrub", "take_trial",
           "finish_trial"]

SQLITE_TIMEOUT_S = 120


def open_storage(url: str, spec: "StudySpec") -> "optuna.storages.BaseStorage":
    """An Optuna storage for ``url`` (see :func:`resolve`) with heartbeats, stale-trial retry
    and outage retry; refuses a bad address with one line (:mod:`.storage_input`)."""
    import optuna

    from ..storage_input import check_storage

    install_scrub()
    check_storage(url)
    if url.startswith("grpc://"):
        host, _, port = url[len("grpc://"):].rstrip("/").rpartition(":")
        return optuna.storages.GrpcStorageProxy(host=host, port=int(port))
    if not is_url(url):
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.max_retry)
    return _open_rdb(url, spec.storage_retry_s, heartbeat_interval=spec.heartbeat_interval,
                     grace_period=spec.grace_period, heartbeat_stale_trial_callback=retry)


def _open_rdb(url: str, storage_retry_s: int, **options: Any) -> "optuna.storages.BaseStorage":
    """The compare-and-set RDB storage of ``url`` (``options`` go to Optuna's RDBStorage),
    opened through outages (:class:`Outage`), SQLite in WAL mode; a failure that is not an
    outage becomes one line naming the storage (:func:`.storage_input.explain`)."""
    import optuna

    from ..storage_input import explain

    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    outage = Outage(url, storage_retry_s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            st = outage.call(lambda: retrying(lambda: atomic_rdb_storage()(url, engine_kwargs=kwargs, **options)))
        if url.startswith("sqlite"):
            outage.call(lambda: retrying(lambda: wal(st)))
    except StorageUnreachable:
        raise
    except Exception as e:
        raise explain(url, e) from None
    st._outage = outage
    outage.ping = lambda: ping(st)
    return st


def serve_storage(url: str, storage_retry_s: int) -> "optuna.storages.BaseStorage":
    """The RDB storage a gRPC proxy serves (``designspace storage serve``): compare-and-set state
    changes and outage retry as for workers; heartbeats are the workers' (trial attributes)."""
    from ..storage_input import check_storage

    install_scrub()
    check_storage(url)
    return _open_rdb(url, storage_retry_s)


def __getattr__(name: str) -> Any:  # ``AtomicRDBStorage`` by name, built on first use
    if name == "AtomicRDBStorage":
        return atomic_rdb_storage()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
