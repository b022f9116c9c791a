"""Stale trials: a running trial whose heartbeat is older than the grace period is failed and
re-queued (Optuna's own heartbeat on RDB storages, our trial attribute on journal files and the
gRPC proxy); heartbeat ages for ``study status``."""
from __future__ import annotations

import datetime as _dt
import time
import warnings
from typing import TYPE_CHECKING

from .access import rdb_backend
from .outage import call

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from ..spec import StudySpec

__all__ = ["fail_stale", "heartbeat_ages", "HEARTBEAT_ATTR"]

HEARTBEAT_ATTR = "designspace:heartbeat"


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

    ids = call(backend, read)
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

        call(backend, read)
        return out
    now = time.time()
    for t in running:
        last = t.system_attrs.get(HEARTBEAT_ATTR)
        out[t.number] = None if last is None else now - float(last)
    return out


def _local_tz() -> _dt.tzinfo:
    return _dt.datetime.now().astimezone().tzinfo or _dt.timezone.utc
