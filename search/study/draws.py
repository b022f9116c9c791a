"""What to train next: the space's draws inside the regime, a model-based sampler's proposals, dedupe.

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
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .context import Context
from .objective import REJECTED_ATTR, Rejected, at_data
from .spec import StudySpec
from .storage import storage_of, study_id, trial_id
from .urls import say
from .view import SURPLUS_ATTR

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

    from .view import TrialView

__all__ = ["make_sampler", "make_pruner", "RegimeDraws", "Proposer", "grid_models_in_regime", "MAX_CONSECUTIVE_REJECTIONS", "FALLBACK_AFTER"]


#: draws in a row that a sampler may make outside the space or regime (or of networks already held)
#: before the worker says the regime is out of reach
MAX_CONSECUTIVE_REJECTIONS = 500


#: after this many such draws in a row, a model-based sampler's next draw is a random one
FALLBACK_AFTER = 100


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
        after_trial = optuna.samplers.BaseSampler.after_trial  # a no-op: the workers stop at n_trials, not the sampler

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
        the worker and ``n_existing``: the number of the trial it is for, so that two parents on
        one study, whose workers share indices, draw different networks)."""
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
