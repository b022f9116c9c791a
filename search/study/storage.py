"""Storages for studies, with heartbeats, and credentials kept out of every message.

* default: a SQLite file next to the spec (``studies/x.toml`` -> ``studies/x.db``): embedded, no
  server.  Several local workers share it safely because every connection waits up to
  :data:`SQLITE_TIMEOUT_S` for the write lock (the "database is locked" of optuna/optuna#820 is a
  5 s default timeout running out) and the file is switched to WAL so readers (``status``, the
  dashboard) never block writers (optuna/optuna-dashboard#545).
* ``--storage URL``: any Optuna RDB URL; PostgreSQL for workers on many machines.
* ``--storage PATH`` (not a URL): Optuna's journal file (``JournalFileBackend``), made for
  multi-process work on one machine.  Optuna has no heartbeat for journals, so ours is a
  trial system attribute refreshed by the same thread (:class:`Heartbeat`).

RDB storages use Optuna's own heartbeat (``heartbeat_interval``, ``grace_period``) and
``RetryHeartbeatStaleTrialCallback``: a killed worker's trial is failed and re-queued by the
next worker that looks.  Trial state changes are compare-and-set (:func:`atomic_rdb_storage`):
on SQLite, Optuna's read-then-write lets a trial that finishes as another worker fails it as
stale end both COMPLETE and re-queued.  Passwords and user names in URLs are replaced by ``***`` in every
message we print and in every log record (:func:`mask`, :class:`Scrub`).
"""
from __future__ import annotations

import datetime as _dt
import logging
import re
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from .spec import StudySpec

__all__ = ["mask", "Scrub", "resolve", "open_storage", "Heartbeat", "fail_stale", "is_url", "SQLITE_TIMEOUT_S",
           "heartbeat_ages"]

SQLITE_TIMEOUT_S = 120
HEARTBEAT_ATTR = "designspace:heartbeat"
_SECRETS: set[str] = set()


def is_url(storage: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", storage) is not None


def mask(text: str) -> str:
    """``text`` with URL credentials (``user:password@``, ``password=...``) and known secrets masked."""
    text = re.sub(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s]+@", r"\g<scheme>***@", text)
    text = re.sub(r"(?i)(password|passwd|pwd|secret|token)=[^&\s'\"]+", r"\1=***", text)
    for s in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def _remember_secrets(url: str) -> None:
    password = urlsplit(url).password
    if password and len(password) >= 3:  # too short to mask without mangling other text
        _SECRETS.update({password, unquote(password)})


class Scrub(logging.Filter):
    """A logging filter that masks credentials in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover
            return True
        masked = mask(msg)
        if masked != msg or record.exc_info:
            record.msg, record.args = masked, None
            if record.exc_info:
                import traceback

                record.msg = masked + "\n" + mask("".join(traceback.format_exception(*record.exc_info)))
                record.exc_info = None
        return True


def install_scrub() -> None:
    """Mask credentials in Optuna's, SQLAlchemy's and the root logger's records and warnings."""
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # we run trials by ask/tell with our own heartbeat thread (objective needs the worker's slot check)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    f = Scrub()
    for name in ("", "optuna", "sqlalchemy", "alembic"):
        lg = logging.getLogger(name)
        if not any(isinstance(x, Scrub) for x in lg.filters):
            lg.addFilter(f)
        for h in lg.handlers:
            if not any(isinstance(x, Scrub) for x in h.filters):
                h.addFilter(f)
    show = warnings.showwarning
    if not getattr(show, "_scrubbed", False):
        def _show(message: Any, *a: Any, **k: Any) -> None:
            show(mask(str(message)), *a, **k)
        _show._scrubbed = True  # type: ignore[attr-defined]
        warnings.showwarning = _show


def resolve(spec: "StudySpec", storage: str | None) -> str:
    """The storage to use: an Optuna URL, or a journal file path (absolute)."""
    if storage is None or storage == "":
        return f"sqlite:///{spec.default_storage_path}"
    if is_url(storage):
        _remember_secrets(storage)
        return _postgres_driver(storage)
    p = Path(storage).expanduser().resolve()
    if p.suffix in (".db", ".sqlite", ".sqlite3"):
        return f"sqlite:///{p}"
    return str(p)


def _postgres_driver(url: str) -> str:
    """``postgresql://`` names SQLAlchemy 2.1's default driver, psycopg 3; use psycopg2 when only it is here."""
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def open_storage(url: str, spec: "StudySpec") -> "optuna.storages.BaseStorage":
    """An Optuna storage for ``url`` (see :func:`resolve`) with heartbeats and stale-trial retry."""
    import optuna

    install_scrub()
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.max_retry)
    if not is_url(url):
        from optuna.storages.journal import JournalFileBackend

        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        st = _retrying(lambda: atomic_rdb_storage()(
            url, engine_kwargs=kwargs, heartbeat_interval=spec.heartbeat_interval,
            grace_period=spec.grace_period, heartbeat_stale_trial_callback=retry))
    if url.startswith("sqlite"):
        _retrying(lambda: _wal(st))
    return st


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

    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
        from sqlalchemy import exc as sqlalchemy_exc
    except ImportError:  # pragma: no cover - another Optuna layout: Optuna's own storage
        _ATOMIC = optuna.storages.RDBStorage
        return _ATOMIC
    if not all(hasattr(models.TrialValueModel, a) for a in ("value_to_stored_repr", "find_by_trial_and_objective")):
        _ATOMIC = optuna.storages.RDBStorage  # pragma: no cover - another Optuna layout
        return _ATOMIC

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
    _ATOMIC = AtomicRDBStorage
    return _ATOMIC


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
    backend = getattr(storage, "_backend", storage)
    try:
        from optuna.storages import RDBStorage
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:  # pragma: no cover - another Optuna layout
        RDBStorage = None  # type: ignore[assignment,misc]
    if RDBStorage is None or not isinstance(backend, RDBStorage) or backend.engine.name not in ("sqlite", "postgresql"):
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

    _retrying(write)


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
                                                            "duplicate key", "uniqueviolation"))
            if not transient or i == tries - 1:
                raise
            time.sleep(0.2 * (i + 1))
    raise AssertionError("unreachable")  # pragma: no cover


class Heartbeat:
    """Refresh a running trial's heartbeat every ``interval`` seconds from a daemon thread."""

    def __init__(self, study: "optuna.Study", trial_id: int, interval: int) -> None:
        self._study, self._trial_id, self._interval = study, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="designspace-heartbeat")

    def _beat(self) -> None:
        st = self._study._storage
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
        """Beat now, then every ``interval`` seconds until :meth:`stop`."""
        self._beat()
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


def fail_stale(study: "optuna.Study", spec: "StudySpec") -> None:
    """Fail the running trials whose heartbeat is older than the grace period and re-queue them.

    RDB storages use Optuna's own mechanism, journal storages our heartbeat attribute.  A trial
    failed by another worker meanwhile is skipped.
    """
    import optuna
    from optuna.trial import TrialState

    st = study._storage
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


def _rdb_backend(storage: Any) -> Any:
    """The RDB storage under Optuna's cache, if ``storage`` is one (else ``None``)."""
    try:
        from optuna.storages import RDBStorage
    except ImportError:  # pragma: no cover
        return None
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) and hasattr(backend, "_get_trials") else None


def _fail_heartbeatless(study: "optuna.Study", spec: "StudySpec") -> None:
    """Fail (and re-queue) RUNNING trials of an RDB storage that never recorded a heartbeat and
    started longer than the grace period ago: a worker killed between ``ask()`` and its first
    heartbeat leaves such a trial, which Optuna's own stale check skips forever."""
    import optuna
    from optuna.trial import TrialState

    st = study._storage
    backend = _rdb_backend(st)  # the RDB storage under Optuna's cache (a study's storage is cached)
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:  # pragma: no cover - another Optuna layout: nothing more to check
        return
    if backend is None or not hasattr(backend, "scoped_session"):  # pragma: no cover - another Optuna layout
        return
    now = _dt.datetime.now()  # Optuna writes datetime_start as this machine's local naive time
    with _create_scoped_session(backend.scoped_session, True) as session:
        running = (session.query(models.TrialModel).filter(models.TrialModel.state == TrialState.RUNNING)
                   .filter(models.TrialModel.study_id == study._study_id).all())
        ids = [t.trial_id for t in running if not t.heartbeats and t.datetime_start is not None
               and (now - t.datetime_start.replace(tzinfo=None)).total_seconds() > spec.grace_period]
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
    if hasattr(st, "scoped_session"):
        try:
            import sqlalchemy
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session
        except ImportError:  # pragma: no cover
            return out
        with _create_scoped_session(backend.scoped_session, True) as session:
            now = session.execute(sqlalchemy.func.now()).scalar()
            rows = (session.query(models.TrialModel).filter(models.TrialModel.state == TrialState.RUNNING)
                    .filter(models.TrialModel.study_id == study._study_id).all())
            for t in rows:
                if t.heartbeats and now is not None:
                    out[t.number] = (now.replace(tzinfo=None) - t.heartbeats[0].heartbeat.replace(tzinfo=None)).total_seconds()
        return out
    now = time.time()
    for t in running:
        last = t.system_attrs.get(HEARTBEAT_ATTR)
        out[t.number] = None if last is None else now - float(last)
    return out


def _local_tz() -> _dt.tzinfo:
    return _dt.datetime.now().astimezone().tzinfo or _dt.timezone.utc
