"""Retrains a finished study owes: seed repeats (seed noise, the retest distance) and longer schedules (fidelity).

Extras.  ``repeats`` and ``fidelity`` retrain networks the study already trained (other seeds; a
longer schedule) once its ``n_trials`` slots are finished.  Each planned retrain has a key
(``repeat:<trial>:<k>``, ``fidelity:<trial>``), the plan is a function of the finished study, and
a key is trained once however many workers race (the earliest trial holding it is admitted).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import StudySpec

if TYPE_CHECKING:  # pragma: no cover
    from optuna.trial import FrozenTrial

__all__ = ["stratified_ranks", "plan_extras"]


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
