"""Optuna's RDB storage, made safe for many workers: compare-and-set state changes
(:func:`atomic_rdb_storage`), attribute writes in one transaction (:func:`put_attrs`, and with the
final state: :func:`finish`), SQLite in WAL mode, and transient lock errors retried (:func:`retrying`)."""
from __future__ import annotations

import datetime as _dt
import functools
import time
from typing import TYPE_CHECKING, Any, Callable

from .access import rdb_backend
from .outage import with_retry

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["atomic_rdb_storage", "change_state", "put_attrs", "finish", "call", "retrying", "wal", "ping"]


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
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState
    from sqlalchemy import exc as sqlalchemy_exc

    class AtomicRDBStorage(optuna.storages.RDBStorage):  # type: ignore[misc]
        def set_trial_state_values(self, trial_id: int, state: TrialState,
                                   values: Any = None) -> bool:
            try:
                with _create_scoped_session(self.scoped_session) as session:
                    return change_state(session, self, trial_id, state, values)
            except sqlalchemy_exc.IntegrityError:
                return False

    AtomicRDBStorage.__module__, AtomicRDBStorage.__qualname__ = __name__, "AtomicRDBStorage"  # picklable
    _ATOMIC = with_retry(AtomicRDBStorage)
    return _ATOMIC


def change_state(session: Any, backend: Any, trial_id: int, state: Any, values: Any = None) -> bool:
    """The compare-and-set state change of :func:`atomic_rdb_storage`, in ``session``: ``False``
    when RUNNING is asked of a trial another worker took; a finished trial raises
    ``UpdateFinishedTrialError`` (nothing written)."""
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    tm = models.TrialModel
    # only a WAITING trial can be taken; only an unfinished one changed
    allowed = [TrialState.WAITING] if state == TrialState.RUNNING else [TrialState.WAITING, TrialState.RUNNING]
    n = (session.query(tm).filter(tm.trial_id == trial_id, tm.state.in_(allowed))
         .update({tm.state: state}, synchronize_session=False))
    trial = tm.find_or_raise_by_id(trial_id, session)
    if n == 0:
        session.rollback()  # nothing was written
        backend.check_trial_is_updatable(trial_id, trial.state)  # a finished one: raises
        return False  # RUNNING asked of a trial another worker took
    for objective, v in enumerate(values or ()):  # as Optuna, without its state check
        stored, kind = models.TrialValueModel.value_to_stored_repr(v)
        row = models.TrialValueModel.find_by_trial_and_objective(trial, objective, session)
        if row is None:
            session.add(models.TrialValueModel(trial_id=trial_id, objective=objective, value=stored, value_type=kind))
        else:
            row.value, row.value_type = stored, kind
    if state == TrialState.RUNNING:
        trial.datetime_start = _dt.datetime.now()
    if state.is_finished():
        trial.datetime_complete = _dt.datetime.now()
    return True




def call(backend: Any, fn: Callable[[], Any]) -> Any:
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
    _write(storage, trial_id, user or {}, system or {}, params or {})


def finish(storage: Any, trial_id: int, state: Any, values: Any, user: "dict[str, Any] | None" = None) -> bool:
    """Set user attributes and the trial's final state and values (compare-and-set, see
    :func:`change_state`) in one transaction on an RDB storage; one after the other elsewhere."""
    return bool(_write(storage, trial_id, user or {}, {}, {}, (state, values)))


def _write(storage: Any, trial_id: int, user: "dict[str, Any]", system: "dict[str, Any]",
           params: "dict[str, tuple[Any, Any]]", final: "tuple[Any, Any] | None" = None) -> "bool | None":
    backend = rdb_backend(storage)
    if backend is None or backend.engine.name not in ("sqlite", "postgresql"):
        for name, (value, dist) in params.items():
            storage.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
        for k, v in user.items():
            storage.set_trial_user_attr(trial_id, k, v)
        for k, v in system.items():
            storage.set_trial_system_attr(trial_id, k, v)
        return storage.set_trial_state_values(trial_id, *final) if final else None
    if not (user or system or params or final):
        return None
    from optuna.storages._rdb.storage import _create_scoped_session
    from sqlalchemy import exc as sqlalchemy_exc

    def write() -> "bool | None":
        try:  # a repeated write of parameters (a commit retried through an outage) is ignored
            with _create_scoped_session(backend.scoped_session, final is None) as session:
                _attrs_in(session, backend, trial_id, user, system, params)
                return change_state(session, backend, trial_id, *final) if final else None
        except sqlalchemy_exc.IntegrityError:  # the state change lost a race: nothing written
            return False

    return call(backend, lambda: retrying(write))


def _attrs_in(session: Any, backend: Any, trial_id: int, user: "dict[str, Any]", system: "dict[str, Any]",
              params: "dict[str, tuple[Any, Any]]") -> None:
    """Upsert the attributes and add the parameters of an unfinished trial in ``session``
    (SQLAlchemy Core, one statement per table)."""
    import json

    import sqlalchemy as sa
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models

    trials = models.TrialModel.__table__
    state = session.execute(sa.select(trials.c.state).where(trials.c.trial_id == trial_id)).scalar()
    if state is None:
        models.TrialModel.find_or_raise_by_id(trial_id, session)  # raises: no such trial
    backend.check_trial_is_updatable(trial_id, state)
    # each statement with its rows as parameters (an executemany): compiled once, then cached
    for model, attrs in ((models.TrialUserAttributeModel, user), (models.TrialSystemAttributeModel, system)):
        if attrs:
            session.execute(_upsert(backend.engine.name, model),
                            [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in attrs.items()])
    if params:
        session.execute(sa.insert(models.TrialParamModel.__table__),
                        [{"trial_id": trial_id, "param_name": name, "param_value": dist.to_internal_repr(value),
                          "distribution_json": distribution_to_json(dist)} for name, (value, dist) in params.items()])


@functools.lru_cache(maxsize=8)
def _upsert(dialect: str, model: Any) -> Any:
    """``INSERT ... ON CONFLICT (trial_id, key) DO UPDATE`` of an attribute table (built once:
    ``excluded`` alone costs more than the statement's execution)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(model.__table__)
    return stmt.on_conflict_do_update(index_elements=[model.trial_id, model.key],
                                      set_={"value_json": stmt.excluded.value_json})


def wal(st: Any) -> None:
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


def retrying(fn: Callable[[], Any], tries: int = 8) -> Any:
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


def ping(st: Any) -> None:
    """One round trip to the database (what an outage check asks)."""
    import sqlalchemy

    with st.engine.connect() as c:
        c.execute(sqlalchemy.text("SELECT 1"))
