"""Workers: processes that pull trials from one shared study until exactly ``n_trials`` are done.

Counting.  Every trial that is not a surplus or an out-of-regime draw holds a *slot*, keyed by
its number; a retry of a killed or abandoned trial (``RetryHeartbeatStaleTrialCallback``'s
``failed_trial``) holds the slot of the trial it retries.  Before training, a trial (a retry
too) is *admitted* only if fewer than ``n_trials`` slots have smaller keys; otherwise it is marked
surplus and closed (a retry found surplus drops its original's key: that one was killed before
its own check).  Slots never disappear and trial numbers grow with creation, so the last admitted trial
saw every admitted one before it: at most ``n_trials`` are admitted, however many workers race.
A worker stops when ``n_trials`` slots exist and each one's latest trial is finished; while
another worker's trial runs it waits, so a killed worker's trial is failed (heartbeat
silent for ``grace_period``) and retried before the study ends.

Random sampling draws inside the regime.  With ``sampler = "random"`` a worker first draws an
assignment with the space's own vectorised rejection sampler (:func:`designspace.spaces.sample_records`,
the same draw as ``designspace sample``: uniform over the space's domains, kept only inside the
space and the study's constraints) and enqueues it as the next trial.  The distribution is the
one that drawing through Optuna and rejecting gives, without recording (and paying a storage
round-trip for) every rejected draw: a RegNetX study at 3-9 MF keeps about 1 draw in 45.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .objective import REJECTED_ATTR, Context, Rejected, TrialFailed, load_trainer, run_trial
from .spec import StudySpec
from .storage import Heartbeat, fail_stale, install_scrub, mask, open_storage

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["open_study", "slots", "work", "WorkerSummary", "SURPLUS_ATTR", "MAX_CONSECUTIVE_REJECTIONS"]

SURPLUS_ATTR = "designspace:surplus"
MAX_CONSECUTIVE_REJECTIONS = 500


class Surplus(Exception):
    """The study already has ``n_trials`` slots: this trial is closed without training."""


log = logging.getLogger(__name__)


def say(msg: str, level: int = logging.INFO) -> None:
    """Log a worker message (credentials masked)."""
    log.log(level, "%s", mask(msg))


def make_sampler(spec: StudySpec, worker_seed: int) -> "optuna.samplers.BaseSampler":
    import optuna

    o = dict(spec.sampler_options)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=worker_seed)
    if spec.sampler == "sobol":  # one Sobol sequence shared by all workers (QMCSampler counts in the study)
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=o.get("scramble", True), seed=spec.seed,
                                          warn_independent_sampling=False)
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=worker_seed, constant_liar=True,
                                          n_startup_trials=o.get("n_startup_trials", 10),
                                          multivariate=o.get("multivariate", False))
    if spec.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=worker_seed, population_size=o.get("population_size", 50))

    class _Grid(optuna.samplers.GridSampler):
        def after_trial(self, *a: Any, **k: Any) -> None:  # the workers stop at n_trials, not the sampler
            pass

    return _Grid({"model": list(spec.grid_models)}, seed=worker_seed)


def make_pruner(spec: StudySpec) -> "optuna.pruners.BasePruner":
    import optuna

    o = dict(spec.pruner_options)
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=o.get("n_startup_trials", 5),
                                           n_warmup_steps=o.get("n_warmup_steps", 1))
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=o.get("min_resource", 1),
                                              max_resource=int(spec.schedule.get("epochs", 10)),
                                              reduction_factor=o.get("reduction_factor", 3))
    return optuna.pruners.NopPruner()


def open_study(spec: StudySpec, url: str, worker: int = 0, storage: Any = None) -> "optuna.Study":
    """Create or load the study named in ``spec`` on ``url`` (every worker and machine calls this).

    The sampler's seed mixes the spec's seed, the worker index and the number of trials already
    in the study, so a resumed or second worker does not redraw the points of the first.
    """
    import numpy as np
    import optuna

    install_scrub()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = storage or open_storage(url, spec)
    study = optuna.create_study(storage=storage, study_name=spec.name, directions=spec.directions,
                                pruner=make_pruner(spec), load_if_exists=True)
    if study.directions != [optuna.study.StudyDirection.MINIMIZE] * len(spec.objectives):
        raise ValueError(f"study {spec.name!r} in this storage has {len(study.directions)} objectives; "
                         f"the spec has {list(spec.objectives)}: rename the study or use another storage")
    n_existing = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(spec, int(np.random.SeedSequence([spec.seed, worker, n_existing]).generate_state(1)[0]))
    return study


class RegimeDraws:
    """Assignments from the space's vectorised sampler, inside the study's regime, handed out one
    at a time from batches of :attr:`BATCH` (independent draws, duplicates allowed as in the
    draw-and-reject loop; a batch costs about what one accepted draw does)."""

    BATCH = 16

    def __init__(self, spec: StudySpec, ctx: Context, worker: int):
        from designspace.spaces import Regime

        self.spec, self.ctx, self.worker, self.batches = spec, ctx, worker, 0
        self.regime = Regime(**{k: (lo, hi) for k, (lo, hi) in spec.constraints.items()})
        self.ready: list[dict[str, Any]] = []

    def __call__(self, n_existing: int) -> dict[str, Any]:
        """Parameters of one accepted draw (seeded by the study seed, the worker and progress)."""
        if not self.ready:
            self.ready = self._batch(n_existing)
        return self.ready.pop()

    def _batch(self, n_existing: int) -> list[dict[str, Any]]:
        import numpy as np

        from designspace.spaces import RegimeUnreachable, sample_records

        self.batches += 1
        seed = int(np.random.SeedSequence([self.spec.seed, self.worker, n_existing, self.batches]).generate_state(1)[0])
        for n in (self.BATCH, 1):  # a regime too narrow for a batch may still give one
            try:
                recs = sample_records(self.ctx.space, n, seed=seed, regime=self.regime, dedupe=False).records
                break
            except RegimeUnreachable as e:
                if n == 1:
                    raise RuntimeError(f"{self.spec.path}: the [constraints] are out of reach: {e.detail}; "
                                       "widen them") from None
        names = list(self.ctx.space.params)
        return [{k: (r[k].item() if hasattr(r[k], "item") else r[k]) for k in names} for r in reversed(recs)]


def enqueue_baselines(study: "optuna.Study", spec: StudySpec) -> None:
    """Enqueue each ``spec.enqueue`` model once (skipped when a trial already trains it)."""
    have = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False)}
    for name in spec.enqueue:
        if name not in have:
            study.enqueue_trial({}, user_attrs={"baseline": name})


def slots(trials: Iterable["FrozenTrial"]) -> dict[int, "FrozenTrial"]:
    """Slot key -> the latest trial holding it (see the module docstring)."""
    out: dict[int, FrozenTrial] = {}
    dropped: set[int] = set()  # keys whose retry turned out surplus or rejected: never admitted
    for t in sorted(trials, key=lambda t: t.number):
        sa = t.system_attrs
        if sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
            if "failed_trial" in sa:
                dropped.add(int(sa["failed_trial"]))
            continue
        out[int(sa.get("failed_trial", t.number))] = t
    return {k: t for k, t in out.items() if k not in dropped}


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


class _Interrupt:
    """First Ctrl-C: finish the current trial, then stop.  Second: abandon it (re-queued)."""

    def __init__(self) -> None:
        self.requested = False
        self.in_trial: int | None = None
        self._old: Any = None

    def __enter__(self) -> "_Interrupt":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested or self.in_trial is None:
            self.requested = True
            raise KeyboardInterrupt
        self.requested = True
        say(f"designspace study: interrupt: finishing trial {self.in_trial}, then stopping "
            "(Ctrl-C again abandons it)")


def work(spec: StudySpec, url: str, n_trials: int, worker: int = 0, trainer: str | None = None,
         device: str | None = None, study: "optuna.Study | None" = None,
         on_trial: "Callable[[], None] | None" = None, dataset: Any = None) -> WorkerSummary:
    """Run trials of the study until it holds ``n_trials`` finished slots (or Ctrl-C);
    ``on_trial()`` runs after each finished trial."""
    import optuna
    from optuna.trial import TrialState

    study = study or open_study(spec, url, worker)
    ctx = Context(spec=spec, trainer=load_trainer(trainer), extra={"device": device} if device else {})
    if dataset is not None:
        ctx._dataset = dataset
    summary = WorkerSummary(worker)
    rejections = 0
    waited = False
    retry_abandoned = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None)
    storage = study._storage
    draws = RegimeDraws(spec, ctx, worker) if spec.sampler == "random" and spec.space else None
    with _Interrupt() as intr:
        while not intr.requested:
            fail_stale(study, spec)
            trials = study.get_trials(deepcopy=False)
            held = slots(trials)
            if len(held) >= n_trials and not any(t.state == TrialState.WAITING for t in trials):
                running = [t.number for t in held.values() if t.state == TrialState.RUNNING]
                if not running:
                    break
                if not waited:
                    say(f"designspace study: worker {worker}: waiting for running trial(s) {running} "
                        f"(a dead worker's trial is retried after {spec.grace_period} s without heartbeat)")
                    waited = True
                time.sleep(min(1.0, spec.heartbeat_interval))
                continue
            if draws is not None and not any(t.state == TrialState.WAITING for t in trials):
                study.enqueue_trial(draws(len(trials)))  # baselines and retries go first
            trial = study.ask()
            tid = trial._trial_id
            key = int(storage.get_trial_system_attrs(tid).get("failed_trial", trial.number))
            intr.in_trial = trial.number

            def admit() -> None:  # a retry keeps its original's key: admitted again unless never admitted
                earlier = [k for k in slots(study.get_trials(deepcopy=False)) if k < key]
                if len(earlier) >= n_trials:
                    storage.set_trial_system_attr(tid, SURPLUS_ATTR, True)
                    raise Surplus(f"the study already holds {n_trials} trials")

            try:
                with Heartbeat(study, tid, spec.heartbeat_interval):
                    values = run_trial(trial, ctx, admit, seed=(spec.seed + key) % 2**31)
            except Rejected as e:
                storage.set_trial_system_attr(tid, REJECTED_ATTR, True)
                trial.set_user_attr("reason", str(e))
                study.tell(trial, state=TrialState.PRUNED)
                summary.rejected += 1
                rejections += 1
                if rejections >= MAX_CONSECUTIVE_REJECTIONS:
                    raise RuntimeError(f"{rejections} consecutive draws fell outside the space or the "
                                       f"[constraints] of {spec.path} (last: {e}); widen them") from None
                continue
            except Surplus as e:
                trial.set_user_attr("reason", f"surplus: {e}")
                study.tell(trial, state=TrialState.FAIL)
                summary.surplus += 1
                continue
            except optuna.TrialPruned as e:
                trial.set_user_attr("reason", str(e))
                study.tell(trial, state=TrialState.PRUNED)
                summary.pruned += 1
                say(f"designspace study: trial {trial.number} pruned ({e})")
            except TrialFailed as e:
                trial.set_user_attr("reason", e.reason)
                study.tell(trial, state=TrialState.FAIL)
                summary.failed += 1
                say(f"designspace study: trial {trial.number} failed: {e.reason}; the study goes on", logging.WARNING)
            except BaseException as e:  # Ctrl-C twice, or a bug: abandon the trial, re-queue it, stop
                why = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
                trial.set_user_attr("reason", f"abandoned: {why}")
                study.tell(trial, state=TrialState.FAIL)
                retry_abandoned(study, storage.get_trial(tid))
                say(f"designspace study: worker {worker}: trial {trial.number} abandoned ({mask(why)}) and "
                    "re-queued; run the same command again to resume", logging.WARNING)
                summary.interrupted = isinstance(e, KeyboardInterrupt)
                if summary.interrupted:
                    return summary
                raise
            else:
                study.tell(trial, values=values)
                summary.complete += 1
                say(f"designspace study: trial {trial.number} done: error {values[0]:.4f}"
                    + "".join(f", {o} {v:g}" for o, v in zip(spec.objectives[1:], values[1:])))
            finally:
                intr.in_trial = None
            rejections = 0
            summary.numbers.append(trial.number)
            if on_trial is not None:
                on_trial()
        else:
            summary.interrupted = True
            say(f"designspace study: worker {worker}: stopped after finishing its trial (interrupted)")
    return summary


def _set_threads(workers: int) -> None:
    """Register this process as a trainer; its threads are shared out before each trial
    (:func:`designspace.search.cores.share_threads`, which respects a user's own setting)."""
    from designspace.search.cores import register, share_threads

    register()
    share_threads()
