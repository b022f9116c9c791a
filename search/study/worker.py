"""The worker loop: claim a trial, train its network, report; until the study holds ``n_trials``.

One worker process runs :func:`work`.  Each turn of the loop reads the study (:class:`.TrialView`),
asks :class:`Worker` what to do next (a queued trial, a fresh draw from :mod:`.draws`, a retrain
from :mod:`.extras`, wait, or stop), claims a trial for it with a heartbeat running, trains it
through :func:`.objective.run_trial` and reports the outcome.  Every read and write of the
storage beyond Optuna's public API goes through the storage facade (:mod:`.storage`); Ctrl-C is
:mod:`.interrupts`' business.  A trial that another worker finished meanwhile (failed as stale
while this one was starved) is left to its retry: this worker never crashes on it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .context import Context
from .draws import (FALLBACK_AFTER, MAX_CONSECUTIVE_REJECTIONS, Proposer, RegimeDraws, grid_models_in_regime,
                    make_pruner, make_sampler)
from .extras import plan_extras, stratified_ranks
from .heartbeat import Heartbeat
from .interrupts import TrialInterrupts
from .objective import REJECTED_ATTR, Rejected, TrialFailed, load_trainer, run_trial
from .opening import SETUP_ATTR, check_setup, enqueue_baselines, open_study, setup_of
from .spec import StudySpec
from .storage import cached_trial, fail_stale, finish_trial, fix_params, storage_of, take_trial, trial_id
from .urls import mask, say
from .view import SURPLUS_ATTR, HeldIds, TrialView, slots

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["work", "Worker", "WorkerSummary", "open_study", "check_setup", "slots", "TrialView", "HeldIds", "Proposer",
           "RegimeDraws", "plan_extras", "stratified_ranks", "SURPLUS_ATTR", "MAX_CONSECUTIVE_REJECTIONS",
           "FALLBACK_AFTER", "make_sampler", "make_pruner", "enqueue_baselines", "setup_of", "SETUP_ATTR",
           "grid_models_in_regime", "REJECTED_ATTR"]

log = logging.getLogger(__name__)


class Surplus(Exception):
    """The study already has ``n_trials`` slots: this trial is closed without training."""


#: seconds between a worker's stale-trial checks (a grace period is many seconds; a check is a query)
STALE_CHECK_S = 1.0

#: what :meth:`Worker.next_job` answers besides a job: every slot is finished, or wait for running ones
DONE, WAIT = "done", "wait"

#: a job: ``(trial number) -> (fixed parameters, user attributes, system attributes)`` of a fresh trial
Job = Callable[[int], "tuple[dict[str, Any], dict[str, Any], dict[str, Any]]"]


@dataclass
class Claim:
    """A trial this worker took, with the network it trains and how (seed, retrain key)."""

    trial: Any
    tid: int
    key: int          # the slot key: its own number, or the number of the trial it retries
    seed: int
    extra: str | None  # a retrain's key (``repeat:3:1``, ``fidelity:7``), else None
    baseline: bool
    #: user and system attributes of its job, written with the trial's network (one transaction)
    record: "tuple[dict[str, Any], dict[str, Any]]" = ({}, {})


@dataclass
class WorkerSummary:
    worker: int
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    rejected: int = 0
    surplus: int = 0
    interrupted: bool = False
    numbers: list[int] = field(default_factory=list)


class Worker:
    """One worker's state between trials: the study, its view, what to draw next, the retrain plan."""

    def __init__(self, spec: StudySpec, url: str, n_trials: int, worker: int = 0, trainer: str | None = None,
                 device: str | None = None, study: "optuna.Study | None" = None, dataset: Any = None) -> None:
        import optuna

        self.spec, self.n_trials, self.worker = spec, n_trials, worker
        self.study = study or open_study(spec, url, worker)
        self.storage = storage_of(self.study)
        self.ctx = Context(spec=spec, trainer=load_trainer(trainer), extra={"device": device} if device else {})
        if dataset is not None:
            self.ctx._dataset = dataset
        self.summary = WorkerSummary(worker)
        self.view = TrialView(self.study)
        self.retry_abandoned = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None)
        self.draws = RegimeDraws(spec, self.ctx, worker) if spec.space and spec.sampler != "grid" else None
        self.proposer: Proposer | None = None
        self.plan: dict[str, dict[str, Any]] | None = None
        self.waited = False
        self._stale_checked = -float("inf")
        if spec.sampler == "grid":
            allowed = grid_models_in_regime(spec, self.ctx)
            if allowed != list(spec.grid_models):
                self.study.sampler = make_sampler(spec, spec.seed + worker, models=allowed)
        elif spec.sampler != "random" and self.draws is not None:
            self.proposer = Proposer(spec, self.ctx, self.view, self.study.sampler, self.draws)
            self.study.sampler = optuna.samplers.RandomSampler(seed=worker)  # every real trial's values are fixed

    # ------------------------------------------------------------------ what next
    def next_job(self) -> "Job | str | None":
        """A job for a fresh trial (``None``: a queued trial or the sampler decides), :data:`WAIT` or :data:`DONE`."""
        if time.monotonic() - self._stale_checked >= STALE_CHECK_S:
            fail_stale(self.study, self.spec)
            self._stale_checked = time.monotonic()
        view = self.view.refresh()
        if view.waiting() or view.slot_count() < self.n_trials:
            return self._draw_job()
        held = view.slots()
        running = [t.number for t in held.values() if not t.state.is_finished()]
        if not running and (self.spec.repeats or self.spec.fidelity):
            todo, running = self._extras_todo(held)
            if todo:
                attrs = self.plan[todo[self.worker % len(todo)]]  # type: ignore[index]  # workers spread out
                return lambda number: ({}, attrs, {})
        return WAIT if running else DONE

    def _draw_job(self) -> "Job | None":
        if self.proposer is not None:
            def job(number: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
                p, sid, sa = self.proposer(number)  # type: ignore[misc]
                return p, {"draw_id": sid}, sa
            return job
        if self.draws is not None:
            def job(number: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
                # seeded by the trial's number: reproducible for one worker, distinct for two
                # parents whose workers share an index
                p, sid = self.draws(number, self.view.ids)  # type: ignore[misc]
                return p, {"draw_id": sid}, {}
            return job
        return None

    def _extras_todo(self, held: dict[int, Any]) -> tuple[list[str], list[int]]:
        """Retrain keys no trial holds yet, and the numbers of running retrains."""
        from optuna.trial import TrialState

        if self.plan is None:
            done = [held[k] for k in sorted(held) if held[k].state == TrialState.COMPLETE
                    and not held[k].user_attrs.get("baseline")]
            self.plan = plan_extras(self.spec, done)
        todo = [k for k in self.plan if not self.view.extra_holders(k)]
        running = [t.number for k in self.plan for t in self.view.extra_holders(k)[-1:] if not t.state.is_finished()]
        return todo, running

    def wait(self, running_hint: str = "") -> None:
        if not self.waited:
            say(f"designspace study: worker {self.worker}: waiting for running trial(s) (a dead worker's trial is "
                f"retried after {self.spec.grace_period} s without heartbeat)")
            self.waited = True
        time.sleep(min(1.0, self.spec.heartbeat_interval))

    # ------------------------------------------------------------------ claim
    def claim(self, job: "Job | None") -> Claim:
        """Take a trial (a queued one first), start its heartbeat, give a fresh one ``job``'s network
        (written with the network's record, :func:`.objective.run_trial`)."""
        trial = take_trial(self.study, self.view.waiting_ids())
        tid = trial_id(trial)
        # the heartbeat runs from the moment the trial exists: a trial whose worker dies before its
        # first beat is failed by the stale check after the grace period, a slow draw never looks dead
        beat = Heartbeat(self.study, tid, self.spec.heartbeat_interval).start()
        ft = cached_trial(trial)  # read when the trial was taken
        ua, sa = dict(ft.user_attrs), dict(ft.system_attrs)
        fresh = not (ft.params or sa.get("fixed_params") or "failed_trial" in sa or ua.get("baseline") or ua.get("extra"))
        record: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        try:
            if fresh and job is not None:
                p, uattrs, sattrs = job(trial.number)
                record = (uattrs, {**sattrs, "fixed_params": p})
                ua.update(uattrs)
                ft.user_attrs.update(uattrs)  # what re-reading the trial would give, without the read
                ft.system_attrs.update(record[1])
                trial = fix_params(trial, p)
        except BaseException as e:  # the draw failed (the space exhausted, Ctrl-C twice)
            beat.stop()
            self._close_unassigned(trial, tid, e)
            raise
        extra = ua.get("extra")
        key = int(sa.get("failed_trial", trial.number))
        seed = int(ua["extra_seed"]) if extra else (self.spec.seed + key) % 2**31
        self._beat = beat
        return Claim(trial, tid, key, seed, extra, bool(ua.get("baseline")), record)

    def _close_unassigned(self, trial: Any, tid: int, e: BaseException) -> None:
        """A fresh trial without a network holds nothing: closed as surplus."""
        from optuna.trial import TrialState

        why = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
        self._close(trial, TrialState.FAIL, f"surplus: no network drawn ({mask(why)})", SURPLUS_ATTR)

    def admit(self, c: Claim) -> None:
        """Raise :class:`Surplus` unless this trial is one of the study's ``n_trials`` (or the
        earliest holder of its retrain key), and not a twin of a network another worker drew."""
        v = self.view.refresh()
        if c.extra:  # the earliest trial holding a retrain key trains it (a retry keeps its original's)
            first = v.extra_holders(c.extra)
            origin = int(first[0].system_attrs.get("failed_trial", first[0].number)) if first else c.key
            if origin != c.key:
                self._mark(c, SURPLUS_ATTR)
                raise Surplus(f"{c.extra} is trained by trial {first[0].number}")
            return
        if v.count_before(c.key) >= self.n_trials:  # a retry keeps its original's key
            self._mark(c, SURPLUS_ATTR)
            raise Surplus(f"the study already holds {self.n_trials} trials")
        number = c.trial.number
        sid = v.open[number].user_attrs.get("spec_id") if number in v.open else None
        twin = v.twin(sid, c.key, number) if sid else None
        if twin is not None and not c.baseline:  # two workers drew one network at once
            self._mark(c, SURPLUS_ATTR)
            raise Surplus(f"duplicate of trial {twin.number} (spec {sid})")

    def _mark(self, c: Claim, attr: str) -> None:
        self.storage.set_trial_system_attr(c.tid, attr, True)

    # ------------------------------------------------------------------ train and report
    def train(self, c: Claim) -> bool:
        """Train the claimed trial and report it; ``True`` when it holds a slot (not surplus or rejected)."""
        import optuna

        self.ctx.schedule_override = dict(cached_trial(c.trial).user_attrs.get("extra_schedule") or {}) if c.extra else {}
        try:
            try:
                values, done = run_trial(c.trial, self.ctx, lambda: self.admit(c), seed=c.seed, prune=not c.extra,
                                         record=c.record)
            finally:
                self._beat.stop()
        except optuna.exceptions.UpdateFinishedTrialError:  # a write found it finished: failed as stale meanwhile
            self.summary.failed += 1
            say(_stale_meanwhile(c.trial.number, self.spec), logging.WARNING)
            return True
        except Exception as e:
            return self._report_failure(c, e)
        except BaseException as e:  # Ctrl-C twice: abandon the trial, re-queue it, stop
            self._abandon(c, e)
            raise
        finally:
            self.ctx.schedule_override = {}
        if self._tell(c, values, done):
            self.summary.complete += 1
            what = f" ({c.extra})" if c.extra else ""
            say(f"designspace study: trial {c.trial.number}{what} done: error {values[0]:.4f}"
                + "".join(f", {o} {v:g}" for o, v in zip(self.spec.objectives[1:], values[1:])))
        else:  # its heartbeat lapsed (a storage lock, a starved machine): another worker failed it
            self.summary.failed += 1
            say(_stale_meanwhile(c.trial.number, self.spec), logging.WARNING)
        return True

    def _report_failure(self, c: Claim, e: Exception) -> bool:
        import optuna
        from optuna.trial import TrialState

        n = c.trial.number
        if isinstance(e, Rejected):  # only a network that cannot run at the data's resolution gets here
            self.summary.rejected += 1
            self._close(c.trial, TrialState.PRUNED, str(e), REJECTED_ATTR)
            return False
        if isinstance(e, Surplus):
            self.summary.surplus += 1
            self._close(c.trial, TrialState.FAIL, f"surplus: {e}")
            return False
        if isinstance(e, optuna.TrialPruned):
            self.summary.pruned += 1
            self._close(c.trial, TrialState.PRUNED, str(e))
            say(f"designspace study: trial {n} pruned ({e})")
            return True
        if isinstance(e, TrialFailed):
            self.summary.failed += 1
            self._close(c.trial, TrialState.FAIL, e.reason)
            say(f"designspace study: trial {n} failed: {e.reason}; the study goes on", logging.WARNING)
            return True
        from .storage import StorageUnreachable

        if not isinstance(e, StorageUnreachable):  # the storage gone: the trial goes stale, the next run retries it
            self._abandon(c, e)  # a bug: re-queue the trial, stop this worker
        raise e

    def _abandon(self, c: Claim, e: BaseException) -> None:
        """Fail the trial and queue its retry (it keeps its slot); the worker then stops."""
        from optuna.trial import TrialState

        why = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
        if self._close(c.trial, TrialState.FAIL, f"abandoned: {why}"):
            try:
                self.retry_abandoned(self.study, self.storage.get_trial(c.tid))
            except Exception as again:  # the storage is gone: the trial goes stale and is retried by the next run
                log.debug("retry of trial %d not queued: %s", c.trial.number, again)
        say(f"designspace study: worker {self.worker}: trial {c.trial.number} abandoned ({mask(why)}) and "
            "re-queued; run the same command again to resume", logging.WARNING)

    def _close(self, trial: Any, state: Any, reason: str, attr: str | None = None) -> bool:
        """Record ``reason`` (and ``attr``) and tell ``state``; ``False`` when another worker
        finished the trial meanwhile (nothing to close) or the storage is gone."""
        import optuna

        from .storage import StorageUnreachable

        try:
            if attr:
                self.storage.set_trial_system_attr(trial_id(trial), attr, True)
            trial.set_user_attr("reason", reason)
            self.study.tell(trial, state=state)
            return True
        except (optuna.exceptions.UpdateFinishedTrialError, StorageUnreachable):
            return False

    def _tell(self, c: Claim, values: Any, done: dict[str, Any]) -> bool:
        """Record ``done`` and COMPLETE; ``False`` when another worker failed the trial as stale
        meanwhile (the storage's compare-and-set state change keeps that one outcome: FAIL, with
        its retry queued)."""
        import optuna
        from optuna.trial import TrialState

        error: Exception | None = None
        try:
            if finish_trial(self.study, c.trial, values, done):
                return True
        except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as e:
            error = e
        state = self.storage.get_trial(c.tid).state
        if state == TrialState.COMPLETE:  # a retried write whose first commit went through
            return True
        if state == TrialState.FAIL:
            return False
        raise error or RuntimeError(f"trial {c.trial.number} could not be told COMPLETE (it is {state.name})")


def work(spec: StudySpec, url: str, n_trials: int, worker: int = 0, trainer: str | None = None,
         device: str | None = None, study: "optuna.Study | None" = None,
         on_progress: "Callable[[int], None] | None" = None, dataset: Any = None) -> WorkerSummary:
    """Run trials of the study until it holds ``n_trials`` finished slots and its planned
    retrains (``repeats``, ``fidelity``) are finished (or Ctrl-C); ``on_progress(finished)``
    runs whenever the number of finished slots read from the study changes."""
    w = Worker(spec, url, n_trials, worker, trainer, device, study, dataset)
    shown = -1
    with TrialInterrupts() as intr:
        while not intr.requested:
            job = w.next_job()
            if on_progress is not None and w.view.finished_slots() != shown:
                shown = w.view.finished_slots()
                on_progress(shown)
            if job == DONE:
                break
            if job == WAIT:
                w.wait()
                continue
            claim = w.claim(job)  # type: ignore[arg-type]
            intr.in_trial = claim.trial.number
            try:
                counted = w.train(claim)
            except KeyboardInterrupt:
                w.summary.interrupted = True
                return w.summary
            finally:
                intr.in_trial = None
            if counted:
                w.summary.numbers.append(claim.trial.number)
        else:
            w.summary.interrupted = True
            say(f"designspace study: worker {worker}: stopped after finishing its trial (interrupted)")
    return w.summary


def _stale_meanwhile(number: int, spec: StudySpec) -> str:
    return (f"designspace study: trial {number} was failed as stale by another worker while it trained (no "
            f"heartbeat for {spec.grace_period} s) and re-queued: this worker stops it, its retry trains the network "
            "(raise [workers] grace_period on a loaded machine)")


def _set_threads(workers: int) -> None:
    """Register this process as a trainer; its threads are shared out before each trial
    (:func:`designspace.search.cores.share_threads`, which respects a user's own setting)."""
    from designspace.search.cores import register, share_threads

    register()
    share_threads()
