"""One verdict per comparison of two groups of networks, with three outcomes.

Each group is given as its network means (one value per network, seed repeats averaged) and
its run matrix (for the cluster bootstrap, :func:`designspace.analysis.network.cluster_means`).
:func:`two_groups` computes, in percentage points:

* the KS test and the Mann-Whitney U test on the network means (``scipy.stats.ks_2samp``,
  ``scipy.stats.mannwhitneyu``, two-sided);
* ``mean_diff``: mean of B minus mean of A, with a two-stage cluster-bootstrap interval;
* TOST (two one-sided Welch t-tests) of ``|mean_B - mean_A| < margin``, as statsmodels'
  ``ttost_ind(b, a, -margin, margin, usevar="unequal")``;
* the minimum detectable KS distance and mean difference (:mod:`.sensitivity`).

:func:`with_verdicts` then Holm-adjusts the KS and Mann-Whitney p-values over all comparisons
of the run (:func:`designspace.analysis.multiplicity.holm`) and gives each its verdict:
``"different"`` (Holm-adjusted KS p below ``alpha``), ``"equivalent"`` (not different, and the
TOST p below ``alpha``) or ``"inconclusive"``.  A non-significant test is never "no difference".
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .multiplicity import holm
from .network import cluster_means

__all__ = ["VERDICTS", "tost", "two_groups", "with_verdicts", "verdict_sentence"]

VERDICTS = ("different", "equivalent", "inconclusive")


def tost(a: np.ndarray, b: np.ndarray, margin: float) -> float:
    """p-value of the Welch TOST that ``mean(b) - mean(a)`` lies within ``(-margin, margin)``."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    d = b.mean() - a.mean()
    if se == 0:
        return 0.0 if abs(d) < margin else 1.0
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    p_low = stats.t.sf((d + margin) / se, df)
    p_upp = stats.t.cdf((d - margin) / se, df)
    return float(max(p_low, p_upp))


def two_groups(a: np.ndarray, b: np.ndarray, runs_a: tuple[np.ndarray, np.ndarray],
               runs_b: tuple[np.ndarray, np.ndarray], margin: float = 0.5, alpha: float = 0.05,
               n_boot: int = 1000, level: float = 0.95, seed: int | np.random.Generator | None = 0) -> dict[str, Any]:
    """The raw (unadjusted) statistics of one comparison; ``a``, ``b`` are network means in
    points, ``runs_*`` the ``(R, k)`` run matrices in fractions (see the module docstring)."""
    from scipy import stats

    from .sensitivity import min_detectable

    rng = np.random.default_rng(seed)
    ks = stats.ks_2samp(a, b)
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    boot = 100 * (cluster_means(*runs_b, n_boot, rng) - cluster_means(*runs_a, n_boot, rng))
    q = ((1 - level) / 2, (1 + level) / 2)
    mde = min_detectable(a, b, alpha=alpha)
    return {"unit": "network", "n_a": int(a.size), "n_b": int(b.size),
            "ks": {"d": float(ks.statistic), "p": float(ks.pvalue)},
            "mannwhitney": {"p": float(mw.pvalue)},
            "mean_diff": {"estimate": float(b.mean() - a.mean()), "ci": [float(x) for x in np.quantile(boot, q)]},
            "tost": {"margin": float(margin), "p": tost(a, b, margin)},
            "mde": {"ks_d": None if np.isnan(mde.ks_d) else mde.ks_d, "mean_diff": mde.mean_diff}}


def with_verdicts(comparisons: Sequence[dict[str, Any]], alpha: float = 0.05) -> list[dict[str, Any]]:
    """Holm-adjusted p-values over all the comparisons and one verdict each (module docstring)."""
    out = [dict(c, ks=dict(c["ks"]), mannwhitney=dict(c["mannwhitney"])) for c in comparisons]
    for key in ("ks", "mannwhitney"):
        adj = holm([c[key]["p"] for c in out])
        for c, p in zip(out, adj):
            c[key]["p_holm"] = float(p)
    for c in out:
        if c["ks"]["p_holm"] < alpha:
            c["verdict"] = "different"
        elif c["tost"]["p"] < alpha:
            c["verdict"] = "equivalent"
        else:
            c["verdict"] = "inconclusive"
    return out


def verdict_sentence(c: dict[str, Any], m: int = 1) -> str:
    """One plain sentence of a comparison (``m``: how many comparisons the Holm adjustment spans)."""
    a, b, v = c["a"], c["b"], c["verdict"]
    d, (lo, hi) = c["mean_diff"]["estimate"], c["mean_diff"]["ci"]
    nets = f"{c['n_a']} and {c['n_b']} networks"
    holm_note = f", Holm-adjusted over {m} comparisons" if m > 1 else ""
    stat = (f"KS D={c['ks']['d']:.3f}, p={c['ks']['p']:.2g} (adjusted {c['ks']['p_holm']:.2g}{holm_note}); "
            f"mean error of {b} minus {a} {d:+.2f} points, 95% cluster-bootstrap CI {lo:+.2f} to {hi:+.2f}; "
            f"TOST at ±{c['tost']['margin']:g} points p={c['tost']['p']:.2g}; {nets}")
    if v == "different":
        head = f"{a} vs {b}: different"
    elif v == "equivalent":
        head = f"{a} vs {b}: equivalent within ±{c['tost']['margin']:g} points"
    else:
        ks = c["mde"]["ks_d"]
        ks_t = "no KS distance at all" if ks is None else f"a KS distance of {ks:.2f}"
        head = (f"{a} vs {b}: inconclusive (neither a difference nor equivalence is shown; these networks detect "
                f"{ks_t} or a mean difference of {c['mde']['mean_diff']:.2f} points with 80% power)")
    return f"{head} ({stat})."
