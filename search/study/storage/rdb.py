"""Optuna's RDB storage, made safe for many workers: compare-and-set state changes
(:func:`atomic_rdb_storage`), attribute writes in one transaction (:func:`put_attrs`, and with the
final state: :func:`finish`), SQLite in WAL mode, and transient lock errors retried (:func:`retrying`)."""
from __future__ import annotations

import datetime as _dt
import functools
import time
from typing import TYPE_CHECKING, Any, Callable

from .access import rdb_backend
from .outage import call, with_retry
from .reads import read_trial

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["atomic_rdb_storage", "change_state", "new_trial", "set_intermediate_value", "put_attrs", "finish", "retrying",
           "wal", "ping"]


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

        def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
            if template_trial is not None or self.engine.name not in ("sqlite", "postgresql"):
                return super()._create_new_trial(study_id, template_trial)

            def create() -> Any:
                with _create_scoped_session(self.scoped_session) as session:
                    return new_trial(session, study_id)

            return retrying(create)

        def get_trial(self, trial_id: int) -> Any:
            if self.engine.name not in ("sqlite", "postgresql"):
                return super().get_trial(trial_id)
            return read_trial(self, trial_id)

        def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
            if self.engine.name not in ("sqlite", "postgresql"):
                return super().set_trial_intermediate_value(trial_id, step, intermediate_value)
            with _create_scoped_session(self.scoped_session, True) as session:
                set_intermediate_value(session, self, trial_id, step, intermediate_value)

    AtomicRDBStorage.__module__, AtomicRDBStorage.__qualname__ = __name__, "AtomicRDBStorage"  # picklable
    _ATOMIC = with_retry(AtomicRDBStorage)
    return _ATOMIC


def change_state(session: Any, backend: Any, trial_id: int, state: Any, values: Any = None) -> bool:
    """The compare-and-set state change of :func:`atomic_rdb_storage`, in ``session`` (one
    ``UPDATE``, and one ``INSERT`` of the values): ``False`` when RUNNING is asked of a trial
    another worker took; a finished trial raises ``UpdateFinishedTrialError`` (nothing written)."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    trials = models.TrialModel.__table__
    # only a WAITING trial can be taken; only an unfinished one changed
    allowed = [TrialState.WAITING] if state == TrialState.RUNNING else [TrialState.WAITING, TrialState.RUNNING]
    change: dict[str, Any] = {"state": state}
    if state == TrialState.RUNNING:
        change["datetime_start"] = _stored_now("datetime_start")[0]
    if state.is_finished():
        change["datetime_complete"] = _stored_now("datetime_complete")[0]
    n = session.execute(sa.update(trials).where(trials.c.trial_id == trial_id, trials.c.state.in_(allowed))
                        .values(**change)).rowcount
    if n == 0:
        session.rollback()  # nothing was written
        now = session.execute(sa.select(trials.c.state).where(trials.c.trial_id == trial_id)).scalar()
        if now is None:
            models.TrialModel.find_or_raise_by_id(trial_id, session)  # raises: no such trial
        backend.check_trial_is_updatable(trial_id, now)  # a finished one: raises
        return False  # RUNNING asked of a trial another worker took
    rows = []
    for objective, v in enumerate(values or ()):  # as Optuna, without its state check (an unfinished trial has none)
        stored, kind = models.TrialValueModel.value_to_stored_repr(v)
        rows.append({"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
    if rows:
        session.execute(sa.insert(models.TrialValueModel.__table__), rows)
    return True


def new_trial(session: Any, study_id: int) -> Any:
    """A RUNNING trial, numbered after the study's trials before it, as Optuna's
    ``_create_new_trial`` makes one (in four statements): the study's row locked first
    (PostgreSQL; SQLite locks the file at the insert), so that trials are numbered in turn."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models
    from optuna.trial import FrozenTrial, TrialState

    studies, trials = models.StudyModel.__table__, models.TrialModel.__table__
    if session.execute(sa.select(studies.c.study_id).where(studies.c.study_id == study_id).with_for_update()).scalar() is None:
        models.StudyModel.find_or_raise_by_id(study_id, session)  # raises: no such study
    start = _stored_now("datetime_start")
    tid = session.execute(sa.insert(trials).values(study_id=study_id, number=None, state=TrialState.RUNNING,
                                                   datetime_start=start[0])).inserted_primary_key[0]
    number = session.execute(sa.select(sa.func.count(trials.c.trial_id)).where(
        trials.c.study_id == study_id, trials.c.trial_id < tid)).scalar()
    session.execute(sa.update(trials).where(trials.c.trial_id == tid).values(number=number))
    return FrozenTrial(number=number, state=TrialState.RUNNING, value=None, values=None, datetime_start=start[1],
                       datetime_complete=None, params={}, distributions={}, user_attrs={}, system_attrs={},
                       intermediate_values={}, trial_id=tid)


def _stored_now(column: str) -> Any:
    """``(stored, read)``: ``datetime.now()`` as this Optuna's trial model stores it in
    ``trials.<column>``, and as it reads it back, both through the model's own attribute (naive UTC
    from Optuna 5, local time before)."""
    from optuna.storages._rdb import models

    row = models.TrialModel()
    setattr(row, column, _dt.datetime.now())
    return getattr(row, _stored_attr(column)), getattr(row, column)


@functools.lru_cache(maxsize=4)
def _stored_attr(column: str) -> str:
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    return sa.inspect(models.TrialModel).get_property_by_column(models.TrialModel.__table__.c[column]).key


def set_intermediate_value(session: Any, backend: Any, trial_id: int, step: int, value: float) -> None:
    """Optuna's ``set_trial_intermediate_value`` in two statements: the trial's state, and an upsert."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    trials, steps = models.TrialModel.__table__, models.TrialIntermediateValueModel
    now = session.execute(sa.select(trials.c.state).where(trials.c.trial_id == trial_id)).scalar()
    if now is None:
        models.TrialModel.find_or_raise_by_id(trial_id, session)  # raises: no such trial
    backend.check_trial_is_updatable(trial_id, now)
    stored, kind = steps.intermediate_value_to_stored_repr(value)
    session.execute(_upsert(backend.engine.name, steps, ("step",), ("intermediate_value", "intermediate_value_type")),
                    [{"trial_id": trial_id, "step": step, "intermediate_value": stored, "intermediate_value_type": kind}])


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
def _upsert(dialect: str, model: Any, key: tuple[str, ...] = ("key",), values: tuple[str, ...] = ("value_json",)) -> Any:
    """``INSERT ... ON CONFLICT (trial_id, *key) DO UPDATE`` of a trial table (built once:
    ``excluded`` alone costs more than the statement's execution)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(model.__table__)
    return stmt.on_conflict_do_update(index_elements=[model.trial_id, *(getattr(model, k) for k in key)],
                                      set_={v: getattr(stmt.excluded, v) for v in values})


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
