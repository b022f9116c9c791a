"""The storage facade: the one module of the study runtime that talks to Optuna's storages.

Every read and write of trials that needs more than ``optuna.Study``'s public API goes through
here: opening a storage (:func:`open_storage`), compare-and-set state changes, one-transaction
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

import datetime as _dt
import logging
import re
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .urls import Scrub, install_scrub, is_url, mask, resolve

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from .spec import StudySpec

__all__ = ["mask", "Scrub", "resolve", "open_storage", "fail_stale", "is_url", "SQLITE_TIMEOUT_S",
           "heartbeat_ages", "put_attrs", "StorageUnreachable", "trial_id", "storage_of", "study_id", "cached_trial",
           "fix_params", "read_trials_since", "close_storage", "OPTUNA_CHECKED", "PRIVATE", "missing_private_names"]

SQLITE_TIMEOUT_S = 120
HEARTBEAT_ATTR = "designspace:heartbeat"
log = logging.getLogger(__name__)

#: Optuna versions (major.minor) whose private names (:data:`PRIVATE`) this module was checked against
OPTUNA_CHECKED = ("4.2", "4.3", "4.4", "4.5", "4.6", "5.0", "5.1")
#: the private names of Optuna the runtime uses, all of them here: where -> attributes
PRIVATE = {
    "optuna.storages._rdb.models": ("TrialModel", "TrialValueModel", "TrialUserAttributeModel",
                                    "TrialSystemAttributeModel", "TrialParamModel"),
    "optuna.storages._rdb.storage": ("_create_scoped_session",),
    "optuna.storages.RDBStorage": ("_get_trials", "_get_stale_trial_ids", "_create_new_trial", "_get_best_trial_id",
                                   "_set_trial_param", "scoped_session", "engine"),
    "optuna.study.Study": ("_storage", "_study_id"),
    "optuna.trial.Trial": ("_trial_id", "_cached_frozen_trial", "_fixed_params"),
    "optuna.trial.FrozenTrial": ("_trial_id",),
}


def missing_private_names() -> list[str]:
    """The names of :data:`PRIVATE` that this Optuna lacks (``[]``: all there)."""
    import importlib

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    trial = study.ask()
    probes = {"optuna.study.Study": study, "optuna.trial.Trial": trial,
              "optuna.trial.FrozenTrial": study.get_trials(deepcopy=False)[0]}
    out = []
    for where, names in PRIVATE.items():
        if where in probes:
            obj: Any = probes[where]
        else:
            mod, _, cls = where.rpartition(".") if where.endswith("RDBStorage") else (where, "", "")
            obj = getattr(importlib.import_module(mod), cls) if cls else importlib.import_module(mod)
        for n in names:
            ok = hasattr(obj, n) or (cls_has_init_attr(obj, n))
            if not ok:
                out.append(f"{where}.{n}")
    return out


def cls_has_init_attr(obj: Any, name: str) -> bool:
    """Instance attributes set in ``__init__`` (``RDBStorage.engine``) are seen in its source."""
    import inspect

    try:
        return isinstance(obj, type) and f"self.{name} " in inspect.getsource(obj.__init__)
    except (OSError, TypeError):  # pragma: no cover
        return False


# ------------------------------------------------------------------------------ private access
def storage_of(study: "optuna.Study") -> Any:
    return study._storage


def study_id(study: "optuna.Study") -> int:
    return study._study_id


def trial_id(trial: Any) -> int:
    return trial._trial_id


def cached_trial(trial: "optuna.trial.Trial") -> "optuna.trial.FrozenTrial":
    """The frozen trial ``study.ask()`` read (no second read of the storage)."""
    return trial._cached_frozen_trial


def fix_params(trial: "optuna.trial.Trial", params: dict[str, Any]) -> "optuna.trial.Trial":
    """The trial with ``params`` fixed, as re-reading it after enqueueing them would give."""
    import optuna

    if hasattr(trial, "_fixed_params"):
        trial._fixed_params = params
        return trial
    return optuna.trial.Trial(trial.study, trial._trial_id)  # pragma: no cover - another Optuna layout


def rdb_backend(storage: Any) -> Any:
    """The RDB storage under Optuna's cache, if ``storage`` is one (else ``None``)."""
    from optuna.storages import RDBStorage

    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) and hasattr(backend, "_get_trials") else None


def read_trials_since(study: "optuna.Study", open_ids: set[int], above_id: int) -> "list[optuna.trial.FrozenTrial]":
    """Trials with ids above ``above_id`` and those in ``open_ids`` (one query on an RDB);
    every trial elsewhere."""
    backend = rdb_backend(study._storage)
    if backend is None:
        return study._storage.get_all_trials(study._study_id, deepcopy=False)
    return backend._get_trials(study._study_id, None, open_ids, above_id)


def close_storage(study: "optuna.Study | None") -> None:
    """Close the storage's connections (a SQLite reader leaves no ``-wal``/``-shm`` behind)."""
    backend = rdb_backend(study._storage) if study is not None else None
    if backend is not None:
        backend.scoped_session.remove()
        backend.engine.dispose()


# ------------------------------------------------------------------------------ outages
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

    from .storage_input import input_fault

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


def _with_retry(cls: type) -> type:
    """``cls`` whose storage calls go through its instance's :class:`Outage` (``self._outage``)."""
    for name in _retried_methods(cls):
        orig = getattr(cls, name)

        def method(self: Any, *a: Any, __orig: Any = orig, **k: Any) -> Any:
            outage = getattr(self, "_outage", None)
            return __orig(self, *a, **k) if outage is None else outage.call(lambda: __orig(self, *a, **k))

        method.__name__ = name
        setattr(cls, name, method)
    return cls


# ------------------------------------------------------------------------------ opening
def open_storage(url: str, spec: "StudySpec") -> "optuna.storages.BaseStorage":
    """An Optuna storage for ``url`` (see :func:`resolve`) with heartbeats, stale-trial retry
    and outage retry; refuses a bad address with one line (:mod:`.storage_input`)."""
    import optuna

    from .storage_input import check_storage, explain

    install_scrub()
    check_storage(url)
    if url.startswith("grpc://"):
        host, _, port = url[len("grpc://"):].rstrip("/").rpartition(":")
        return optuna.storages.GrpcStorageProxy(host=host, port=int(port))
    if not is_url(url):
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    outage = Outage(url, spec.storage_retry_s)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.max_retry)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            st = outage.call(lambda: _retrying(lambda: atomic_rdb_storage()(
                url, engine_kwargs=kwargs, heartbeat_interval=spec.heartbeat_interval,
                grace_period=spec.grace_period, heartbeat_stale_trial_callback=retry)))
        if url.startswith("sqlite"):
            outage.call(lambda: _retrying(lambda: _wal(st)))
    except StorageUnreachable:
        raise
    except Exception as e:
        raise explain(url, e) from None
    st._outage = outage
    outage.ping = lambda: _ping(st)
    return st


def _ping(st: Any) -> None:
    import sqlalchemy

    with st.engine.connect() as c:
        c.execute(sqlalchemy.text("SELECT 1"))


# ------------------------------------------------------------------------------ writes
_ATOMIC: Any = None


def atomic_rdb_storage() -> type:
    """Optuna's ``RDBStorage`` whose trial state changes are compare-and-set.

    Optuna reads a trial's state and then writes the new one; ``SELECT ... FOR UPDATE`` makes
    that atomic on PostgreSQL, but SQLite ignores it, so two workers can both see a trial RUNNING
    and both change it: a live trial that finishes just as another worker fails it as stale ends
    COMPLETE *and* re-queued (its network trained twice, the study one trial over ``n_trials``),
    and two workers can both pop one WAITING trial.  Here the change is one ``UPDATE ... WHERE
    state IN (...)``: of two racing changes exactly one takes effect, on every database."""
    global _ATOMIC
    if _ATOMIC is not None:
        return _ATOMIC
    import optuna
    from optuna.trial import TrialState

    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from sqlalchemy import exc as sqlalchemy_exc

    class AtomicRDBStorage(optuna.storages.RDBStorage):  # type: ignore[misc]
        def set_trial_state_values(self, trial_id: int, state: TrialState,
                                   values: Any = None) -> bool:
            tm = models.TrialModel
            # only a WAITING trial can be taken; only an unfinished one changed
            allowed = [TrialState.WAITING] if state == TrialState.RUNNING else [TrialState.WAITING, TrialState.RUNNING]
            try:
                with _create_scoped_session(self.scoped_session) as session:
                    n = (session.query(tm).filter(tm.trial_id == trial_id, tm.state.in_(allowed))
                         .update({tm.state: state}, synchronize_session=False))
                    trial = tm.find_or_raise_by_id(trial_id, session)
                    if n == 0:
                        session.rollback()  # nothing was written
                        self.check_trial_is_updatable(trial_id, trial.state)  # a finished one: raises
                        return False  # RUNNING asked of a trial another worker took
                    for objective, v in enumerate(values or ()):  # as Optuna, without its state check
                        stored, kind = models.TrialValueModel.value_to_stored_repr(v)
                        row = models.TrialValueModel.find_by_trial_and_objective(trial, objective, session)
                        if row is None:
                            session.add(models.TrialValueModel(trial_id=trial_id, objective=objective,
                                                               value=stored, value_type=kind))
                        else:
                            row.value, row.value_type = stored, kind
                    if state == TrialState.RUNNING:
                        trial.datetime_start = _dt.datetime.now()
                    if state.is_finished():
                        trial.datetime_complete = _dt.datetime.now()
            except sqlalchemy_exc.IntegrityError:
                return False
            return True

    AtomicRDBStorage.__module__, AtomicRDBStorage.__qualname__ = __name__, "AtomicRDBStorage"  # picklable
    _ATOMIC = _with_retry(AtomicRDBStorage)
    return _ATOMIC




def _call(backend: Any, fn: Callable[[], Any]) -> Any:
    """``fn()`` through the backend's outage retry, where it has one."""
    outage = getattr(backend, "_outage", None)
    return fn() if outage is None else outage.call(fn)


def __getattr__(name: str) -> Any:  # ``AtomicRDBStorage`` by name (unpickling), built on first use
    if name == "AtomicRDBStorage":
        return atomic_rdb_storage()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def put_attrs(storage: Any, trial_id: int, user: "dict[str, Any] | None" = None,
              system: "dict[str, Any] | None" = None, params: "dict[str, tuple[Any, Any]] | None" = None) -> None:
    """Set user and system attributes and parameters (``name -> (value, distribution)``) of a
    running trial in one transaction on an RDB storage (Optuna commits each ``set_trial_*`` on its
    own, with a lookup of the trial each time: two dozen transactions per trial otherwise); one
    by one on any other storage."""
    user, system, params = user or {}, system or {}, params or {}
    backend = rdb_backend(storage)
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    if backend is None or backend.engine.name not in ("sqlite", "postgresql"):
        for name, (value, dist) in params.items():
            storage.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
        for k, v in user.items():
            storage.set_trial_user_attr(trial_id, k, v)
        for k, v in system.items():
            storage.set_trial_system_attr(trial_id, k, v)
        return
    if not (user or system or params):
        return
    import json

    from optuna.distributions import distribution_to_json

    if backend.engine.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert

    def write() -> None:
        with _create_scoped_session(backend.scoped_session, True) as session:
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session)
            backend.check_trial_is_updatable(trial_id, trial.state)
            for model, attrs in ((models.TrialUserAttributeModel, user), (models.TrialSystemAttributeModel, system)):
                if attrs:
                    stmt = insert(model).values([{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
                                                 for k, v in attrs.items()])
                    session.execute(stmt.on_conflict_do_update(index_elements=[model.trial_id, model.key],
                                                               set_={"value_json": stmt.excluded.value_json}))
            for name, (value, dist) in params.items():
                session.add(models.TrialParamModel(trial_id=trial_id, param_name=name,
                                                   param_value=dist.to_internal_repr(value),
                                                   distribution_json=distribution_to_json(dist)))

    _call(backend, lambda: _retrying(write))


def _wal(st: Any) -> None:
    """WAL journal (persistent in the file) and ``synchronous=NORMAL`` on every connection.

    In WAL mode NORMAL commits without an fsync per transaction (Optuna commits every attribute
    separately: ~9 ms each with fsync); a killed process loses nothing, a power loss may roll back
    the last commits of a running trial, which then goes stale and is retried, never duplicated.
    """
    import sqlalchemy

    with st.engine.connect() as c:
        c.execute(sqlalchemy.text("PRAGMA journal_mode=WAL"))

    def _normal(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    sqlalchemy.event.listen(st.engine, "connect", _normal)
    st.engine.dispose()


def _retrying(fn: Callable[[], Any], tries: int = 8) -> Any:
    """Call ``fn``, retrying transient lock errors (SQLite schema creation by workers starting together)."""
    for i in range(tries):
        try:
            return fn()
        except Exception as e:  # sqlalchemy OperationalError, optuna StorageInternalError
            # SQLite busy, or two machines creating the schema of a fresh database at once
            transient = any(w in str(e).lower() for w in ("locked", "busy", "deadlock", "already exists",
                                                            "duplicate key", "uniqueviolation",
                                                            "unique constraint failed"))
            if not transient or i == tries - 1:
                raise
            time.sleep(0.2 * (i + 1))
    raise AssertionError("unreachable")  # pragma: no cover


# ------------------------------------------------------------------------------ stale trials
def fail_stale(study: "optuna.Study", spec: "StudySpec") -> None:
    """Fail the running trials whose heartbeat is older than the grace period and re-queue them.

    RDB storages use Optuna's own mechanism, journal storages our heartbeat attribute.  A trial
    failed by another worker meanwhile is skipped.
    """
    import optuna
    from optuna.trial import TrialState

    st = study._storage
    outage = getattr(rdb_backend(st), "_outage", None)
    if outage is not None and time.time() - outage.recovered_at < spec.grace_period:
        return  # after an outage no worker could beat: give the live ones a grace period to beat again
    if getattr(st, "get_heartbeat_interval", lambda: None)():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        _fail_heartbeatless(study, spec)
        return
    now = time.time()
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.max_retry)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = t.system_attrs.get(HEARTBEAT_ATTR)
        if last is None and t.datetime_start is not None:
            last = t.datetime_start.replace(tzinfo=_local_tz()).timestamp()
        if last is None or now - float(last) <= spec.grace_period:
            continue
        try:
            if st.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                retry(study, st.get_trial(t._trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


def _fail_heartbeatless(study: "optuna.Study", spec: "StudySpec") -> None:
    """Fail (and re-queue) RUNNING trials of an RDB storage that never recorded a heartbeat and
    started longer than the grace period ago: a worker killed between ``ask()`` and its first
    heartbeat leaves such a trial, which Optuna's own stale check skips forever."""
    import optuna
    from optuna.trial import TrialState

    st = study._storage
    backend = rdb_backend(st)  # the RDB storage under Optuna's cache (a study's storage is cached)
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    if backend is None:
        return

    def read() -> list[int]:
        now = _dt.datetime.now()  # Optuna writes datetime_start as this machine's local naive time
        with _create_scoped_session(backend.scoped_session, True) as session:
            running = (session.query(models.TrialModel).filter(models.TrialModel.state == TrialState.RUNNING)
                       .filter(models.TrialModel.study_id == study._study_id).all())
            return [t.trial_id for t in running if not t.heartbeats and t.datetime_start is not None
                    and (now - t.datetime_start.replace(tzinfo=None)).total_seconds() > spec.grace_period]

    ids = _call(backend, read)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.max_retry)
    for tid in ids:
        try:
            if st.set_trial_state_values(tid, state=TrialState.FAIL):
                retry(study, st.get_trial(tid))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass


def heartbeat_ages(study: "optuna.Study") -> dict[int, float | None]:
    """Seconds since each RUNNING trial's last heartbeat, by trial number (``None``: none yet
    recorded).  RDB storages: Optuna's heartbeat table; journal files: our attribute."""
    from optuna.trial import TrialState

    st = study._storage
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    out: dict[int, float | None] = {t.number: None for t in running}
    if not running:
        return out
    backend = rdb_backend(st)
    if backend is not None:
        import sqlalchemy
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        def read() -> None:
            with _create_scoped_session(backend.scoped_session, True) as session:
                now = session.execute(sqlalchemy.func.now()).scalar()
                rows = (session.query(models.TrialModel).filter(models.TrialModel.state == TrialState.RUNNING)
                        .filter(models.TrialModel.study_id == study._study_id).all())
                for t in rows:
                    if t.heartbeats and now is not None:
                        beat = t.heartbeats[0].heartbeat.replace(tzinfo=None)
                        out[t.number] = (now.replace(tzinfo=None) - beat).total_seconds()

        _call(backend, read)
        return out
    now = time.time()
    for t in running:
        last = t.system_attrs.get(HEARTBEAT_ATTR)
        out[t.number] = None if last is None else now - float(last)
    return out


def _local_tz() -> _dt.tzinfo:
    return _dt.datetime.now().astimezone().tzinfo or _dt.timezone.utc


def serve_storage(url: str, storage_retry_s: int) -> "optuna.storages.BaseStorage":
    """The RDB storage a gRPC proxy serves (``designspace storage serve``): compare-and-set state
    changes and outage retry as for workers; heartbeats are the workers' (trial attributes)."""
    import optuna

    from .storage_input import check_storage, explain

    install_scrub()
    check_storage(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    outage = Outage(url, storage_retry_s)
    try:
        st = outage.call(lambda: _retrying(lambda: atomic_rdb_storage()(url, engine_kwargs=kwargs)))
        if url.startswith("sqlite"):
            outage.call(lambda: _retrying(lambda: _wal(st)))
    except StorageUnreachable:
        raise
    except Exception as e:
        raise explain(url, e) from None
    st._outage = outage
    outage.ping = lambda: _ping(st)
    return st
