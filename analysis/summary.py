"""The machine-readable result of an analysis: :func:`summarize` (``designspace analyze --json``).

::

    {"version": 2,
     "groups": {NAME: {"networks", "runs", "diverged", "seed_sd": {median, q1, q3, max, pooled} | null,
                       "retest_d": {"estimate", "swap_median", "swap_upper", "p"} | null}},
     "comparisons": [{"a", "b", "unit": "network", "n_a", "n_b", "ks": {"d", "p", "p_holm"},
                      "mannwhitney": {"p", "p_holm"}, "mean_diff": {"estimate", "ci"},
                      "tost": {"margin", "p"}, "verdict", "mde": {"ks_d", "mean_diff"}}],
     "trends": {NAME: {PARAM: {"best_range": [lo, hi] | null, "importance": float | null}}}}

Errors, sds and differences are in percentage points; ``mean_diff`` is B minus A; p-values are
Holm-adjusted over all comparisons of the call.  ``retest_d`` is the KS distance between the
first and second seeds of the repeated networks, with its seed-swap reference (median and 95%
quantile under random swaps of each network's two runs) and swap p-value (version 1 gave it a
bootstrap interval instead, which was biased: :mod:`.noise`).  ``best_range`` is null below
:data:`designspace.analysis.trends.MIN_NETWORKS` networks; ``importance`` is null when the joint
fit has too few networks.  See :mod:`.network`, :mod:`.noise`, :mod:`.verdict`, :mod:`.trends`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import AnalysisInputError, free_parameters, groups

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .noise import Retest, SeedNoise

__all__ = ["Group", "network_groups", "summarize", "check_options", "JSON_VERSION"]

JSON_VERSION = 2


@dataclass
class Group:
    """One group's runs, network table and run matrix, seed noise and retest distance."""
    name: str
    runs: "pd.DataFrame"
    table: "pd.DataFrame"
    R: np.ndarray
    k: np.ndarray
    noise: "SeedNoise | None"
    retest: "Retest | None"

    @property
    def means(self) -> np.ndarray:
        return 100 * self.table["error"].to_numpy(float)


def check_options(margin: float = 0.5, alpha: float = 0.05, n_boot: int = 1000, num_classes: int | None = None) -> None:
    """One :class:`AnalysisInputError` naming the first bad option, before any work."""
    if not (np.isfinite(margin) and margin > 0):
        raise AnalysisInputError("margin", f"must be a positive number of percentage points, got {margin}")
    if not 0 < alpha < 1:
        raise AnalysisInputError("alpha", f"must be in (0, 1), got {alpha}")
    if n_boot < 10:
        raise AnalysisInputError("n_boot", f"need at least 10 bootstrap samples, got {n_boot}")
    if num_classes is not None and num_classes < 2:
        raise AnalysisInputError("num_classes", f"must be at least 2, got {num_classes}")


def network_groups(df: "pd.DataFrame", by: str | None = None, num_classes: int | None = None,
                   n_boot: int = 1000, seed: int = 0) -> dict[str, Group]:
    """The groups of ``df`` (:func:`designspace.analysis.data.groups`) at the network level."""
    from .network import network_table, run_matrix
    from .noise import retest_distance, runs_of, seed_noise

    out = {}
    for name, g in groups(df, by).items():
        tab = network_table(g, num_classes, where=f"{by}={name}" if by else "")
        R, k = run_matrix(g, tab["id"])
        runs = runs_of(g, num_classes)
        noise = seed_noise(runs) if any(r.size >= 2 for r in runs) else None
        out[name] = Group(name, g, tab, R, k, noise, retest_distance(runs, n_boot=n_boot, seed=seed))
    return out


def _group_json(g: Group) -> dict[str, Any]:
    return {"networks": int(len(g.table)), "runs": int(g.k.sum()), "diverged": int(g.table["diverged"].sum()),
            "seed_sd": g.noise.as_points() if g.noise is not None else None,
            "retest_d": _retest_json(g.retest) if g.retest is not None else None}


def _retest_json(r: "Retest") -> dict[str, float]:
    return {"estimate": r.d, "swap_median": r.swap_median, "swap_upper": r.swap_upper, "p": r.p}


def _trends_json(g: Group, n_boot: int, seed: int) -> dict[str, Any]:
    from .consistency import values_from_spec
    from .trends import MIN_NETWORKS, best_range, importance

    tab, _ = values_from_spec(g.table)  # the built network's values (AnyNetX rounds widths to group widths)
    params = free_parameters(tab)
    try:
        imp = importance(tab, params, n_boot=min(n_boot, 500), seed=seed).set_index("param")["importance"]
    except AnalysisInputError:
        imp = {}
    out = {}
    for p in params:
        ok = tab[p].notna()
        br = None
        if ok.sum() >= MIN_NETWORKS:
            br = list(best_range(tab.loc[ok, p], tab.loc[ok, "error"], seed=seed))
        out[p] = {"best_range": br, "importance": float(imp[p]) if p in imp else None}
    return out


def summarize(df: "pd.DataFrame", by: str | None = None, margin: float = 0.5, alpha: float = 0.05,
              n_boot: int = 1000, seed: int = 0, num_classes: int | None = None,
              network_groups_: dict[str, Group] | None = None) -> dict[str, Any]:
    """The JSON structure of the module docstring for the runs in ``df`` grouped by ``by``
    (one row per run; rows sharing ``id`` are one network)."""
    from .verdict import two_groups, with_verdicts

    check_options(margin, alpha, n_boot, num_classes)
    gs = network_groups_ or network_groups(df, by, num_classes, n_boot, seed)
    comps = []
    for i, (a, b) in enumerate(itertools.combinations(gs, 2)):
        ga, gb = gs[a], gs[b]
        for g in (ga, gb):
            if len(g.table) < 2:
                raise AnalysisInputError(g.name, f"only {len(g.table)} network; a comparison needs at least 2")
        c = two_groups(ga.means, gb.means, (ga.R, ga.k), (gb.R, gb.k), margin, alpha, n_boot, seed=seed + i)
        comps.append({"a": a, "b": b, **c})
    return {"version": JSON_VERSION,
            "groups": {n: _group_json(g) for n, g in gs.items()},
            "comparisons": with_verdicts(comps, alpha),
            "trends": {n: _trends_json(g, n_boot, seed) for n, g in gs.items()}}
