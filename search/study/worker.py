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

A sample is a set.  Every draw is made before a trial exists: with ``sampler = "random"`` from
the space's own vectorised rejection sampler (:func:`designspace.spaces.sample_records`, the same
draw as ``designspace sample``: uniform over the space's domains, kept only inside the space and
the study's constraints); with TPE, NSGA-II or Sobol from the study's sampler run on an in-memory
mirror of the study (:class:`Proposer`), where a draw outside the space or the regime is told
PRUNED and one that repeats a network already trained or queued is told the value that network
got.  Only an accepted draw reaches the storage, as the next trial, enqueued with the values the
network is built from (the space's canonical parameters) and its spec id; a draw whose spec id
the study already holds is redrawn, so no network is trained twice by accident.  A RegNetX
study at 3-9 MF keeps about 1 draw in 45; none of the 44 is stored.

Extras.  ``repeats`` and ``fidelity`` retrain networks the study already trained (other seeds; a
longer schedule) once its ``n_trials`` slots are finished.  Each planned retrain has a key
(``repeat:<trial>:<k>``, ``fidelity:<trial>``), the plan is a function of the finished study, and
a key is trained once however many workers race (the earliest trial holding it is admitted).

Scale.  :class:`TrialView` reads the study incrementally: a finished trial is looked at once, so
the per-trial cost of the slot checks stays flat as a study grows to 10,000 trials and more.
"""
from __future__ import annotations

import bisect
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .objective import REJECTED_ATTR, Context, Rejected, TrialFailed, at_data, load_trainer, run_trial
from .spec import StudySpec
from .heartbeat import Heartbeat
from .storage import (cached_trial, fail_stale, fix_params, install_scrub, mask, open_storage, put_attrs, rdb_backend,
                      read_trials_since, storage_of, study_id, trial_id)

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["open_study", "check_setup", "slots", "work", "WorkerSummary", "TrialView", "HeldIds", "Proposer", "plan_extras", "SURPLUS_ATTR",
           "MAX_CONSECUTIVE_REJECTIONS", "stratified_ranks"]

SURPLUS_ATTR = "designspace:surplus"
#: shared time of the last interrupt a worker process received (set by the parent's worker start)
INTERRUPTS_HEARD: Any = None
#: draws in a row that a sampler may make outside the space or regime (or of networks already held)
#: before the worker says the regime is out of reach
MAX_CONSECUTIVE_REJECTIONS = 500
#: after this many such draws in a row, a model-based sampler's next draw is a random one
FALLBACK_AFTER = 100


class Surplus(Exception):
    """The study already has ``n_trials`` slots: this trial is closed without training."""


log = logging.getLogger(__name__)


def say(msg: str, level: int = logging.INFO) -> None:
    """Log a worker message (credentials masked)."""
    log.log(level, "%s", mask(msg))


def make_sampler(spec: StudySpec, worker_seed: int, models: "list[str] | None" = None) -> "optuna.samplers.BaseSampler":
    """The spec's sampler (``models``: the grid's points, default ``sampler.models``)."""
    import optuna

    o = dict(spec.sampler_options)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=worker_seed)
    if spec.sampler == "sobol":  # each worker its own scrambled sequence (one shared would give twins)
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=o.get("scramble", True), seed=worker_seed,
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

    return _Grid({"model": list(models if models is not None else spec.grid_models)}, seed=worker_seed)


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


SETUP_ATTR = "designspace:setup"


def setup_of(spec: StudySpec) -> dict[str, Any]:
    """What every trial of a study must share to be comparable: the space and its options, the
    regime, the data set (its folder excepted: machines differ) and the schedule."""
    import json

    out = {"space": spec.space, "space_options": dict(spec.space_options),
           "constraints": {k: list(v) for k, v in spec.constraints.items()},
           "dataset": {k: v for k, v in spec.dataset.items() if k != "root"}, "schedule": dict(spec.schedule)}
    return json.loads(json.dumps(out, sort_keys=True, default=str))


def check_setup(study: "optuna.Study", spec: StudySpec) -> list[str]:
    """Record the spec's setup with a new study; on resuming, warn about each setting that differs
    from the one the study started with (its trials would mix both).  Returns the differences."""
    now = setup_of(spec)
    was = study.user_attrs.get(SETUP_ATTR)
    if was is None:
        study.set_user_attr(SETUP_ATTR, now)
        return []
    diffs = []
    for table in sorted(set(now) | set(was)):
        a, b = was.get(table), now.get(table)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    diffs.append(f"{table}.{k} = {b.get(k)!r} (the study started with {a.get(k)!r})")
        elif a != b:
            diffs.append(f"{table} = {b!r} (the study started with {a!r})")
    if diffs:
        say(f"designspace study: {spec.path.name}: {'; '.join(diffs)}: the study's trials will mix both "
            "settings; give the study a new name to start afresh", logging.WARNING)
    return diffs


class RegimeDraws:
    """Assignments from the space's vectorised sampler, inside the study's regime, handed out one
    at a time from batches of :attr:`BATCH`, each with its spec id; a draw whose id is in
    ``held`` (trained or queued) is skipped, so the study's sample stays a set."""

    BATCH = 16
    #: batches in a row without a new network before the space is called exhausted
    MAX_EMPTY = 50

    def __init__(self, spec: StudySpec, ctx: Context, worker: int):
        from designspace.spaces import Regime

        self.spec, self.ctx, self.worker, self.batches = spec, ctx, worker, 0
        self.regime = Regime(**{k: (lo, hi) for k, (lo, hi) in spec.constraints.items()})
        self.ready: list[tuple[dict[str, Any], str]] = []

    def __call__(self, n_existing: int, held: "set[str] | frozenset[str]" = frozenset()) -> tuple[dict[str, Any], str]:
        """Parameters and spec id of one accepted draw not in ``held`` (seeded by the study seed,
        the worker and progress)."""
        empty = 0
        while True:
            while self.ready:
                p, sid = self.ready.pop()
                if sid not in held:
                    return p, sid
            self.ready = self._batch(n_existing)
            if all(sid in held for _, sid in self.ready):
                empty += 1
                if empty >= self.MAX_EMPTY:
                    raise RuntimeError(f"{self.spec.path}: {self.MAX_EMPTY * self.BATCH} draws in a row gave only networks the "
                                       f"study already holds ({len(held)}): the space and [constraints] hold no more "
                                       "distinct networks; lower n_trials or widen them")

    def _batch(self, n_existing: int) -> list[tuple[dict[str, Any], str]]:
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
        out = []
        for r in reversed(recs):
            p = {k: (r[k].item() if hasattr(r[k], "item") else r[k]) for k in names}
            out.append((p, self._id(p)))
        return out

    def _id(self, p: dict[str, Any]) -> str:
        """The spec id of the network the trial will train from ``p`` (at the data's shape)."""
        return at_data(self.ctx.space.spec_of(p), self.ctx, True).id


class Proposer:
    """Draws of a model-based sampler (TPE, NSGA-II, Sobol) made on an in-memory mirror of the
    study, so that rejected draws never reach the storage.

    The mirror holds every counted space draw of the real study (read through :class:`TrialView`,
    running ones included, as TPE's constant liar needs) with its parameters, distributions and
    values.  :meth:`__call__` asks the mirror until a draw is inside the space and the regime and
    is a network the study does not hold: a draw outside is told PRUNED (the sampler learns the
    region is bad), one that repeats a held network is told that network's value (or FAIL while it
    runs), the accepted one FAIL (its real trial comes back through the sync).  The accepted
    draw's canonical parameters, and the sampler's own system attributes (NSGA-II's generation),
    go to the real study."""

    def __init__(self, spec: StudySpec, ctx: Context, view: "TrialView", sampler: Any, draws: RegimeDraws):
        import optuna

        self.spec, self.ctx, self.view, self.draws = spec, ctx, view, draws
        self.mirror = optuna.create_study(directions=spec.directions, sampler=sampler)
        self._seen = 0                        # view.finished_order entries mirrored
        self._open: dict[int, int] = {}       # real number -> mirror trial id, for running trials
        self.rejected = 0
        self._warned = False

    def sync(self) -> None:
        from optuna.trial import TrialState, create_trial

        st, sid = storage_of(self.mirror), study_id(self.mirror)
        for t in self.view.finished_order[self._seen:]:
            self._seen += 1
            if not self._mirrored(t):
                continue
            values = t.values if t.state == TrialState.COMPLETE else None
            mid = self._open.pop(t.number, None)
            if mid is None:
                st.create_new_trial(sid, template_trial=create_trial(
                    state=t.state, values=values, params=t.params, distributions=t.distributions,
                    system_attrs=_sampler_attrs(t.system_attrs), intermediate_values=t.intermediate_values))
            else:
                for step, v in t.intermediate_values.items():
                    st.set_trial_intermediate_value(mid, step, v)
                st.set_trial_state_values(mid, t.state, values)
        for t in self.view.open.values():
            if t.state == TrialState.RUNNING and t.number not in self._open and self._mirrored(t):
                self._open[t.number] = st.create_new_trial(sid, template_trial=create_trial(
                    state=TrialState.RUNNING, params=t.params, distributions=t.distributions,
                    system_attrs=_sampler_attrs(t.system_attrs)))

    @staticmethod
    def _mirrored(t: "FrozenTrial") -> bool:
        return bool(t.params) and not (t.system_attrs.get(SURPLUS_ATTR) or t.system_attrs.get(REJECTED_ATTR)
                                       or t.user_attrs.get("extra") or t.user_attrs.get("baseline"))

    def __call__(self, n_existing: int) -> tuple[dict[str, Any], str, dict[str, Any]]:
        """``(canonical parameters, spec id, sampler system attributes)`` of one accepted draw."""
        import optuna
        from optuna.trial import TrialState

        from designspace import count

        self.sync()
        held = self.view.ids
        for attempt in range(MAX_CONSECUTIVE_REJECTIONS):
            if attempt >= FALLBACK_AFTER:
                if not self._warned:
                    say(f"designspace study: {FALLBACK_AFTER} {self.spec.sampler} draws in a row were outside the space "
                        "or regime or repeated a held network; drawing at random until one is accepted", logging.WARNING)
                    self._warned = True
                p, sid = self.draws(n_existing, held)
                return p, sid, {}
            mt = self.mirror.ask()
            try:
                got = self.ctx.space.suggest(mt)
                net = at_data(got[0] if isinstance(got, tuple) else got, self.ctx, True)
            except (optuna.TrialPruned, Rejected):
                self.mirror.tell(mt, state=TrialState.PRUNED)
                continue
            cx = count(net)
            if any(not lo <= getattr(cx, k) <= hi for k, (lo, hi) in self.spec.constraints.items()):
                self.mirror.tell(mt, state=TrialState.PRUNED)
                continue
            if net.id in held:
                v = self.view.values_of.get(net.id)
                if v is not None:
                    self.mirror.tell(mt, values=v)
                else:
                    self.mirror.tell(mt, state=TrialState.FAIL)
                continue
            sa = _sampler_attrs(storage_of(self.mirror).get_trial_system_attrs(trial_id(mt)))
            p = dict(mt.user_attrs["space_params"])
            self.mirror.tell(mt, state=TrialState.FAIL)
            return p, net.id, sa
        raise RuntimeError(f"{MAX_CONSECUTIVE_REJECTIONS} consecutive draws fell outside the space or the "
                           f"[constraints] of {self.spec.path} or repeated held networks; widen them")


def _sampler_attrs(sa: dict[str, Any]) -> dict[str, Any]:
    """A trial's system attributes that a sampler set (not ours, not Optuna's bookkeeping)."""
    return {k: v for k, v in sa.items() if not k.startswith("designspace:") and k not in
            ("fixed_params", "failed_trial", "retry_history", "heartbeat") and not k.startswith("designspace")}


def stratified_ranks(errors: "list[float]", k: int) -> list[int]:
    """Indices of ``k`` of ``errors`` spread evenly over their range (by rank: the models at
    evenly spaced quantiles, the best and the worst included)."""
    import numpy as np

    e = np.asarray(errors, dtype=float)
    order = np.argsort(e, kind="mergesort")
    if k >= e.size:
        return order.tolist()
    pos = np.unique(np.round(np.linspace(0, e.size - 1, k)).astype(int))
    return order[pos].tolist()


def plan_extras(spec: StudySpec, done: "list[FrozenTrial]") -> dict[str, dict[str, Any]]:
    """The retrains a finished study owes: key -> the user attributes of its trial.

    ``done`` are the study's complete counted trials (baselines excluded), in slot order.
    Repeats pick ``models`` of them at random (seeded by the study's seed) and give each
    ``seeds - 1`` more runs with derived seeds; fidelity picks ``models`` spread evenly over the
    error range and retrains each with the original seed for ``epochs`` epochs."""
    import numpy as np

    out: dict[str, dict[str, Any]] = {}
    if spec.repeats and done:
        m, seeds = spec.repeats
        rng = np.random.default_rng([spec.seed, 0xBEEF])
        for i in sorted(rng.choice(len(done), size=min(m, len(done)), replace=False).tolist()):
            t = done[i]
            for k in range(1, seeds):
                seed = int(np.random.SeedSequence([spec.seed, t.number, k]).generate_state(1)[0]) % 2**31
                out[f"repeat:{t.number}:{k}"] = {"of": t.number, "retrain_spec": t.user_attrs["spec"], "extra_seed": seed}
    if spec.fidelity and done:
        m, epochs = spec.fidelity
        for i in sorted(stratified_ranks([t.values[0] for t in done], m)):
            t = done[i]
            out[f"fidelity:{t.number}"] = {"of": t.number, "retrain_spec": t.user_attrs["spec"],
                                           "extra_seed": int(t.user_attrs.get("seed", spec.seed + t.number)),
                                           "extra_schedule": {"epochs": epochs}}
    for k, v in out.items():
        v["extra"] = k
    return out


def enqueue_baselines(study: "optuna.Study", spec: StudySpec) -> None:
    """Enqueue each ``spec.enqueue`` model once (skipped when a trial already trains it)."""
    have = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False)}
    for name in spec.enqueue:
        if name not in have:
            study.enqueue_trial({}, user_attrs={"baseline": name})


class TrialView:
    """The study's trials, read incrementally (see the module docstring, *Scale*).

    :meth:`refresh` reads only what may have changed: on an RDB storage the trials created
    since the last read and the ones still unfinished (one SQL query, filtered in the
    database); elsewhere (journal files) the storage's cached trial list.  A trial seen
    finished is absorbed once into the finished slot table (with a sorted key list and a spec
    id index), the held spec ids and the extras' holders, and never looked at again; only the
    (few) unfinished trials are re-examined.  :meth:`slots` equals :func:`slots` of all trials;
    :meth:`slot_count`, :meth:`count_before` and :meth:`twin` answer the worker's per-trial
    questions without copying it, so a trial's cost does not grow with the study."""

    def __init__(self, study: "optuna.Study"):
        self.study = study
        self.finished: dict[int, FrozenTrial] = {}
        self.finished_order: list[FrozenTrial] = []
        self.open: dict[int, FrozenTrial] = {}
        self.n = 0
        self._fin_slots: dict[int, FrozenTrial] = {}
        self._fin_keys: list[int] = []             # sorted keys of _fin_slots
        self._fin_dropped: set[int] = set()
        self._fin_ids: set[str] = set()
        self._fin_sid_keys: dict[str, list[int]] = {}  # spec id -> finished slot keys that held it
        self._fin_extras: dict[str, list[FrozenTrial]] = {}
        #: spec id -> values of a complete counted trial (what a repeated draw is told)
        self.values_of: dict[str, list[float]] = {}
        self._incremental = rdb_backend(storage_of(study)) is not None  # reads only what may have changed
        self._prefix = 0          # trial numbers 0 .. _prefix - 1 have all been read
        self._prefix_id = -1      # the largest trial id among them
        self._ids: dict[int, int] = {}  # number -> trial id, beyond the prefix

    def _read(self) -> "list[FrozenTrial]":
        # new trials and the unfinished ones; numbers follow trial ids, so reading above the
        # id of a gap-free prefix of numbers misses nothing (a trial committed late, below an
        # id already seen, is below no prefix id: it leaves a gap in the numbers until read)
        return read_trials_since(self.study, {trial_id(t) for t in self.open.values()}, self._prefix_id)

    def refresh(self) -> "TrialView":
        fin = self.finished
        open_: dict[int, FrozenTrial] = dict(self.open) if self._incremental else {}
        for t in self._read():
            if t.number in fin:
                continue
            self._ids[t.number] = trial_id(t)
            if t.state.is_finished():
                open_.pop(t.number, None)
                fin[t.number] = t
                self.finished_order.append(t)
                self._absorb(t)
            else:
                open_[t.number] = t
        self.open = open_
        while self._prefix in self._ids:
            self._prefix_id = max(self._prefix_id, self._ids.pop(self._prefix))
            self._prefix += 1
        self.n = len(fin) + len(open_)
        return self

    def _absorb(self, t: "FrozenTrial") -> None:
        from optuna.trial import TrialState

        sa, ua = t.system_attrs, t.user_attrs
        if ua.get("extra"):
            if not sa.get(SURPLUS_ATTR):
                self._fin_extras.setdefault(ua["extra"], []).append(t)
            return
        if sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
            if "failed_trial" in sa:
                self._fin_dropped.add(int(sa["failed_trial"]))
            return
        key = int(sa.get("failed_trial", t.number))
        old = self._fin_slots.get(key)
        if old is None:
            bisect.insort(self._fin_keys, key)
        if old is None or old.number < t.number:
            self._fin_slots[key] = t
        sid = ua.get("spec_id") or ua.get("draw_id")
        if sid:
            self._fin_ids.add(sid)
            self._fin_sid_keys.setdefault(sid, []).append(key)
            if t.state == TrialState.COMPLETE and t.values:
                self.values_of.setdefault(sid, list(t.values))

    def _open_slots(self) -> tuple[dict[int, "FrozenTrial"], set[int]]:
        """(slot key -> latest unfinished trial holding it, keys an unfinished trial drops)."""
        out: dict[int, FrozenTrial] = {}
        dropped: set[int] = set()
        for t in self.open.values():
            sa = t.system_attrs
            if t.user_attrs.get("extra"):
                continue
            if sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
                if "failed_trial" in sa:
                    dropped.add(int(sa["failed_trial"]))
                continue
            key = int(sa.get("failed_trial", t.number))
            old = out.get(key)
            if old is None or old.number < t.number:
                out[key] = t
        return out, dropped

    def slots(self) -> dict[int, "FrozenTrial"]:
        """Slot key -> the latest trial holding it (as :func:`slots`)."""
        out = dict(self._fin_slots)
        opened, dropped = self._open_slots()
        for key, t in opened.items():
            old = out.get(key)
            if old is None or old.number < t.number:
                out[key] = t
        dropped |= self._fin_dropped
        if not dropped:
            return out
        return {k: t for k, t in out.items() if k not in dropped}

    def count_before(self, key: float) -> int:
        """How many slots have keys smaller than ``key`` (``len(slots())`` for ``inf``)."""
        opened, dropped = self._open_slots()
        dropped |= self._fin_dropped
        n = len(self._fin_keys) if key == float("inf") else bisect.bisect_left(self._fin_keys, key)
        n += sum(1 for k in opened if k < key and k not in self._fin_slots)
        n -= sum(1 for k in dropped if k < key and (k in self._fin_slots or k in opened))
        return n

    def slot_count(self) -> int:
        return self.count_before(float("inf"))

    def twin(self, sid: str, key: int, number: int) -> "FrozenTrial | None":
        """A slot below ``key`` whose latest trial (not trial ``number``) holds network ``sid``."""
        opened, dropped = self._open_slots()
        dropped |= self._fin_dropped
        keys = set(self._fin_sid_keys.get(sid, ()))
        keys.update(k for k, t in opened.items() if (t.user_attrs.get("spec_id") or t.user_attrs.get("draw_id")) == sid)
        for k in sorted(keys):
            if k >= key or k in dropped:
                continue
            fin, op = self._fin_slots.get(k), opened.get(k)
            t = op if fin is None or (op is not None and op.number > fin.number) else fin
            if t.number != number and (t.user_attrs.get("spec_id") or t.user_attrs.get("draw_id")) == sid:
                return t
        return None

    @property
    def ids(self) -> "HeldIds":
        """Spec ids the study holds: trained, running or queued networks (surplus ones excluded)."""
        extra: set[str] = set()
        for t in self.open.values():
            ua, sa = t.user_attrs, t.system_attrs
            if ua.get("extra") or sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
                continue
            sid = ua.get("spec_id") or ua.get("draw_id")
            if sid and sid not in self._fin_ids:
                extra.add(sid)
        return HeldIds(self._fin_ids, extra)

    def waiting(self) -> bool:
        from optuna.trial import TrialState

        return any(t.state == TrialState.WAITING for t in self.open.values())

    def extra_holders(self, key: str) -> "list[FrozenTrial]":
        """The trials (finished or not, surplus excluded) that hold retrain ``key``, by number."""
        out = list(self._fin_extras.get(key, ()))
        out += [t for t in self.open.values() if t.user_attrs.get("extra") == key and not t.system_attrs.get(SURPLUS_ATTR)]
        return sorted(out, key=lambda t: t.number)

    def extra_done(self, key: str) -> bool:
        """Whether retrain ``key``'s latest trial finished (and no retry of it waits)."""
        hs = self.extra_holders(key)
        return bool(hs) and hs[-1].state.is_finished()


@dataclass(frozen=True)
class HeldIds:
    """The spec ids a study holds, as a read-only set view (no copy of the finished ones)."""
    finished: "set[str]"
    unfinished: "set[str]"

    def __contains__(self, sid: object) -> bool:
        return sid in self.finished or sid in self.unfinished

    def __len__(self) -> int:
        return len(self.finished) + len(self.unfinished)

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self.finished
        yield from self.unfinished


def slots(trials: Iterable["FrozenTrial"]) -> dict[int, "FrozenTrial"]:
    """Slot key -> the latest trial holding it (see the module docstring)."""
    out: dict[int, FrozenTrial] = {}
    dropped: set[int] = set()  # keys whose retry turned out surplus or rejected: never admitted
    for t in sorted(trials, key=lambda t: t.number):
        sa = t.system_attrs
        if t.user_attrs.get("extra"):  # repeats and fidelity retrains hold no slot
            continue
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
        if INTERRUPTS_HEARD is not None:  # tell the parent when this interrupt arrived (see run_study)
            INTERRUPTS_HEARD.value = time.time()
        if self.requested or self.in_trial is None:
            self.requested = True
            raise KeyboardInterrupt
        self.requested = True
        say(f"designspace study: interrupt: finishing trial {self.in_trial}, then stopping "
            "(Ctrl-C again abandons it)")


def grid_models_in_regime(spec: StudySpec, ctx: Context) -> list[str]:
    """The grid's named models that fall inside the study's constraints at the data's shape
    (the others are never stored as trials)."""
    from designspace import count, zoo

    keep = []
    for name in spec.grid_models:
        try:
            cx = count(at_data(zoo[name], ctx, False))
        except Rejected:
            continue
        if all(lo <= getattr(cx, k) <= hi for k, (lo, hi) in spec.constraints.items()):
            keep.append(name)
    if not keep:
        raise RuntimeError(f"{spec.path}: none of sampler.models falls inside the [constraints]; widen them")
    return keep


def work(spec: StudySpec, url: str, n_trials: int, worker: int = 0, trainer: str | None = None,
         device: str | None = None, study: "optuna.Study | None" = None,
         on_trial: "Callable[[], None] | None" = None, dataset: Any = None) -> WorkerSummary:
    """Run trials of the study until it holds ``n_trials`` finished slots and its planned
    retrains (``repeats``, ``fidelity``) are finished (or Ctrl-C); ``on_trial()`` runs after
    each finished trial."""
    import optuna
    from optuna.trial import TrialState

    study = study or open_study(spec, url, worker)
    ctx = Context(spec=spec, trainer=load_trainer(trainer), extra={"device": device} if device else {})
    if dataset is not None:
        ctx._dataset = dataset
    summary = WorkerSummary(worker)
    waited = False
    retry_abandoned = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None)
    storage = storage_of(study)
    view = TrialView(study)
    draws = RegimeDraws(spec, ctx, worker) if spec.space and spec.sampler != "grid" else None
    proposer = None
    if spec.sampler == "grid":
        allowed = grid_models_in_regime(spec, ctx)
        if allowed != list(spec.grid_models):
            study.sampler = make_sampler(spec, spec.seed + worker, models=allowed)
    elif spec.sampler != "random" and draws is not None:
        proposer = Proposer(spec, ctx, view, study.sampler, draws)
        study.sampler = optuna.samplers.RandomSampler(seed=worker)  # every real trial's values are fixed
    plan: dict[str, dict[str, Any]] | None = None
    with _Interrupt() as intr:
        while not intr.requested:
            fail_stale(study, spec)
            view.refresh()
            waiting = view.waiting()
            want: Callable[[], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] | None = None
            if proposer is not None:
                def want() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
                    p, sid, sa = proposer(view.n)  # type: ignore[misc]
                    return p, {"draw_id": sid}, sa
            elif draws is not None:
                def want() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
                    p, sid = draws(view.n, view.ids)  # type: ignore[misc]
                    return p, {"draw_id": sid}, {}
            if not waiting and view.slot_count() >= n_trials:
                held = view.slots()
                running = [t.number for t in held.values() if not t.state.is_finished()]
                todo: list[str] = []
                if not running and (spec.repeats or spec.fidelity):
                    if plan is None:
                        done = [held[k] for k in sorted(held) if held[k].state == TrialState.COMPLETE
                                and not held[k].user_attrs.get("baseline")]
                        plan = plan_extras(spec, done)
                    todo = [k for k in plan if not view.extra_holders(k)]
                    running = [t.number for k in plan for t in view.extra_holders(k)[-1:] if not t.state.is_finished()]
                if todo:
                    extra_attrs = plan[todo[worker % len(todo)]]  # type: ignore[index]  # workers spread out

                    def want() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
                        return {}, extra_attrs, {}
                elif not running:
                    break
                else:
                    if not waited:
                        say(f"designspace study: worker {worker}: waiting for running trial(s) {running} "
                            f"(a dead worker's trial is retried after {spec.grace_period} s without heartbeat)")
                        waited = True
                    time.sleep(min(1.0, spec.heartbeat_interval))
                    continue
            # a queued trial (baseline, retry) goes first; a fresh one gets this worker's draw or
            # retrain before anything is suggested, so nothing outside the regime is ever stored
            trial = study.ask()
            tid = trial_id(trial)
            # beat from the moment the trial exists: a trial whose worker dies before its first
            # beat is failed by _fail_heartbeatless after the grace period, and a live worker's
            # draw (which can take seconds on a loaded machine) never looks like a dead one
            beat = Heartbeat(study, tid, spec.heartbeat_interval).start()
            assigned = True  # the trial holds a network (or is queued to train one)
            try:
                ft = cached_trial(trial)  # read by ask() just now
                fresh = not (ft.params or ft.system_attrs.get("fixed_params") or "failed_trial" in ft.system_attrs
                             or ft.user_attrs.get("baseline") or ft.user_attrs.get("extra"))
                ua, sa0 = dict(ft.user_attrs), dict(ft.system_attrs)
                assigned = not fresh
                if fresh and want is not None:
                    p, uattrs, sattrs = want()
                    put_attrs(storage, tid, uattrs, {**sattrs, "fixed_params": p})
                    assigned = True
                    ua.update(uattrs)
                    ft.user_attrs.update(uattrs)  # what re-reading the trial would give, without the read
                    ft.system_attrs.update({**sattrs, "fixed_params": p})
                    trial = fix_params(trial, p)
                extra = ua.get("extra")
                key = int(sa0.get("failed_trial", trial.number))
                intr.in_trial = trial.number

                def admit() -> None:
                    v = view.refresh()
                    if extra:  # the earliest trial holding a retrain key trains it (a retry keeps its original's)
                        first = v.extra_holders(extra)
                        origin = int(first[0].system_attrs.get("failed_trial", first[0].number)) if first else key
                        if origin != key:
                            storage.set_trial_system_attr(tid, SURPLUS_ATTR, True)
                            raise Surplus(f"{extra} is trained by trial {first[0].number}")
                        return
                    # a retry keeps its original's key: admitted again unless never admitted
                    if v.count_before(key) >= n_trials:
                        storage.set_trial_system_attr(tid, SURPLUS_ATTR, True)
                        raise Surplus(f"the study already holds {n_trials} trials")
                    sid = v.open[trial.number].user_attrs.get("spec_id") if trial.number in v.open else None
                    twin = v.twin(sid, key, trial.number) if sid else None
                    if sid and twin is not None and not ua.get("baseline"):  # two workers drew one network at once
                        storage.set_trial_system_attr(tid, SURPLUS_ATTR, True)
                        raise Surplus(f"duplicate of trial {twin.number} (spec {sid})")

                if extra:
                    seed = int(ua["extra_seed"])
                    ctx.schedule_override = dict(ua.get("extra_schedule") or {})
                else:
                    seed = (spec.seed + key) % 2**31
                    ctx.schedule_override = {}
            except BaseException as e:
                beat.stop()
                # the draw failed (the space exhausted, Ctrl-C twice): a fresh trial without a
                # network holds nothing and is closed as surplus; one that got its network is
                # abandoned and re-queued, as during training
                why = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
                if not assigned:
                    storage.set_trial_system_attr(tid, SURPLUS_ATTR, True)
                    trial.set_user_attr("reason", f"surplus: no network drawn ({mask(why)})")
                    study.tell(trial, state=TrialState.FAIL)
                else:
                    trial.set_user_attr("reason", f"abandoned: {why}")
                    study.tell(trial, state=TrialState.FAIL)
                    retry_abandoned(study, storage.get_trial(tid))
                raise
            try:
                try:
                    values = run_trial(trial, ctx, admit, seed=seed, prune=not extra)
                finally:
                    beat.stop()
            except Rejected as e:  # only a network that cannot run at the data's resolution gets here
                storage.set_trial_system_attr(tid, REJECTED_ATTR, True)
                trial.set_user_attr("reason", str(e))
                study.tell(trial, state=TrialState.PRUNED)
                summary.rejected += 1
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
            except optuna.exceptions.UpdateFinishedTrialError:  # a report or attribute write found it finished
                if storage.get_trial(tid).state != TrialState.FAIL:
                    raise
                summary.failed += 1
                say(_stale_meanwhile(trial.number, spec), logging.WARNING)
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
                if _tell_complete(study, trial, values):
                    summary.complete += 1
                    what = f" ({extra})" if extra else ""
                    say(f"designspace study: trial {trial.number}{what} done: error {values[0]:.4f}"
                        + "".join(f", {o} {v:g}" for o, v in zip(spec.objectives[1:], values[1:])))
                else:  # its heartbeat lapsed (a storage lock, a starved machine): another worker failed it
                    summary.failed += 1
                    say(_stale_meanwhile(trial.number, spec), logging.WARNING)
            finally:
                intr.in_trial = None
                ctx.schedule_override = {}
            summary.numbers.append(trial.number)
            if on_trial is not None:
                on_trial()
        else:
            summary.interrupted = True
            say(f"designspace study: worker {worker}: stopped after finishing its trial (interrupted)")
    return summary


def _stale_meanwhile(number: int, spec: StudySpec) -> str:
    return (f"designspace study: trial {number} was failed as stale by another worker while it trained (no "
            f"heartbeat for {spec.grace_period} s) and re-queued: this worker stops it, its retry trains the network "
            "(raise [workers] grace_period on a loaded machine)")


def _tell_complete(study: "optuna.Study", trial: "optuna.trial.Trial", values: Any) -> bool:
    """Tell the trial COMPLETE; ``False`` when another worker failed it as stale meanwhile (the
    storage's compare-and-set state change keeps that one outcome: FAIL, with its retry queued)."""
    import optuna
    from optuna.trial import TrialState

    try:
        study.tell(trial, values=values)
        return True
    except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
        if storage_of(study).get_trial(trial_id(trial)).state == TrialState.FAIL:
            return False
        raise


def _set_threads(workers: int) -> None:
    """Register this process as a trainer; its threads are shared out before each trial
    (:func:`designspace.search.cores.share_threads`, which respects a user's own setting)."""
    from designspace.search.cores import register, share_threads

    register()
    share_threads()
