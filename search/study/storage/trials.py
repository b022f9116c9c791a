"""Taking a trial and finishing it without ``Study.ask``'s and ``Study.tell``'s reads of the study.

``Study.ask`` reads every trial created or changed since its last read, to find a queued one,
then the new trial again; ``Study.tell`` reads the trial twice more.  A worker already knows the
queued trials (its :class:`~..view.TrialView`, read just before) and its trial's outcome:
:func:`take_trial` takes a queued trial it saw with the storage's compare-and-set state change
(WAITING -> RUNNING, as ``Study.ask`` does) or creates a new one, and :func:`finish_trial`
records the last attributes, the values and the state in one transaction.  Optuna's public
storage API only (``BaseStorage``, ``optuna.trial.Trial``) beyond :mod:`.rdb`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from .access import storage_of, study_id, trial_id
from .rdb import finish, put_attrs

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["take_trial", "finish_trial"]


def take_trial(study: "optuna.Study", waiting: Iterable[int]) -> "optuna.trial.Trial":
    """A queued trial (ids ``waiting``, in order) that no other worker took first, else a new one."""
    import optuna
    from optuna.trial import TrialState

    st = storage_of(study)
    for tid in waiting:
        try:
            if st.set_trial_state_values(tid, state=TrialState.RUNNING):
                return optuna.trial.Trial(study, tid)
        except optuna.exceptions.UpdateFinishedTrialError:  # finished meanwhile (failed as stale)
            continue
    return optuna.trial.Trial(study, st.create_new_trial(study_id(study)))


def finish_trial(study: "optuna.Study", trial: "optuna.trial.Trial", values: "list[float]",
                 user: "dict[str, Any]") -> bool:
    """Record ``user`` attributes and COMPLETE with ``values``; ``False`` when the state did not
    change (raises ``UpdateFinishedTrialError`` when another worker finished the trial).

    ``Study.tell`` instead where it does more than that: a sampler with its own ``after_trial``,
    or a value it would turn into a FAIL (NaN)."""
    import optuna
    from optuna.trial import TrialState

    tid = trial_id(trial)
    if (type(study.sampler).after_trial is not optuna.samplers.BaseSampler.after_trial
            or any(math.isnan(v) for v in values)):
        put_attrs(storage_of(study), tid, user)
        return study.tell(trial, values=values).state == TrialState.COMPLETE
    return finish(storage_of(study), tid, TrialState.COMPLETE, [float(v) for v in values], user)
