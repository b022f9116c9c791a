"""Comparing two design spaces by their (complexity-normalized) error distributions.

NDS (Radosavovic et al., ICCV 2019, Sec. 3) compares design spaces by their error EDFs and
quantifies the difference with the Kolmogorov-Smirnov statistic ``D = sup_e |F_A(e) - F_B(e)|``.
DataFrames with an ``id`` column are reduced to one row per network first (seed repeats
averaged: :func:`designspace.analysis.network.network_table`).  :func:`compare` reports

* ``ks``, ``pvalue``: the two-sample KS test of the errors (``scipy.stats.ks_2samp``);
* ``gap``: the sup-distance between the (complexity-normalized, if asked) EDFs, with a
  bootstrap confidence interval;
* ``area``: ``integral (F_A - F_B) de``, which equals the difference of the (weighted) mean
  errors ``mean_B - mean_A``; positive means A's EDF lies above B's, i.e. A is better;
  with a bootstrap confidence interval;
* ``verdict``: one sentence in the report's words, "different" or "inconclusive" (an
  equivalence verdict needs the TOST of :func:`designspace.analysis.summarize`).

Normalized comparisons bin complexity over the range *both* groups cover
(:func:`designspace.analysis.edf.overlap_bins`; "no overlap" when they share none): nothing is
extrapolated.  Their p-value is given for the weighted EDFs, from the asymptotic Kolmogorov
distribution with Kish's effective sample sizes ``(sum w)^2 / sum w^2`` (an approximation).
For several groups, a verdict per pair with Holm-adjusted p-values is
:func:`designspace.analysis.summarize`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .data import AnalysisInputError, as_array, check_frame
from .edf import DEFAULT_BINS, cdf_on, matched_weights

__all__ = ["Comparison", "compare", "ks_distance"]


@dataclass(frozen=True)
class Comparison:
    name_a: str
    name_b: str
    n_a: int
    n_b: int
    ks: float  #: KS statistic of the raw errors (scipy.stats.ks_2samp)
    pvalue: float  #: its two-sided p-value
    normalized: bool  #: whether gap/area use complexity-normalized EDFs
    gap: float  #: sup |F_A - F_B| of the compared EDFs
    gap_ci: tuple[float, float]
    area: float  #: integral (F_A - F_B) de = mean error of B - mean error of A
    area_ci: tuple[float, float]
    pvalue_normalized: float | None  #: approximate p-value of ``gap`` (normalized only)
    level: float
    verdict: str

    @property
    def better(self) -> str | None:
        """The name of the better space, if the difference is significant; else None."""
        p = self.pvalue_normalized if self.normalized else self.pvalue
        if p is None or p >= 1 - self.level or self.area_ci[0] <= 0 <= self.area_ci[1]:
            return None
        return self.name_a if self.area > 0 else self.name_b


def ks_distance(errors_a: np.ndarray, errors_b: np.ndarray, weights_a: np.ndarray | None = None,
                weights_b: np.ndarray | None = None) -> float:
    """``sup_e |F_A(e) - F_B(e)|`` of two (weighted) EDFs; the KS statistic when unweighted."""
    a, b = as_array(errors_a, "error", 1), as_array(errors_b, "error", 1)
    wa = np.full(a.size, 1 / a.size) if weights_a is None else np.asarray(weights_a) / np.sum(weights_a)
    wb = np.full(b.size, 1 / b.size) if weights_b is None else np.asarray(weights_b) / np.sum(weights_b)
    grid = np.unique(np.r_[a, b])
    return float(np.abs(cdf_on(a, wa, grid) - cdf_on(b, wb, grid)).max())


def _errors_and_complexity(x: Any, label: str, complexity: str, need_c: bool) -> tuple[np.ndarray, np.ndarray | None]:
    import pandas as pd

    if isinstance(x, pd.DataFrame):
        check_frame(x, ("error", complexity) if need_c else ("error",), where=label)
        if "id" in x.columns and x["id"].notna().all():  # the network is the unit: seed repeats averaged
            from .network import network_table

            x = network_table(x, where=label)
        c = x[complexity].to_numpy(float) if complexity in x.columns else None
        return x["error"].to_numpy(float), c
    if need_c:
        raise AnalysisInputError(f"{label}: {complexity}", "a normalized comparison needs DataFrames with this column")
    return as_array(x, f"{label}: error"), None


def _stats(a: np.ndarray, b: np.ndarray, wa: np.ndarray, wb: np.ndarray) -> tuple[float, float]:
    grid = np.unique(np.r_[a, b])
    gap = float(np.abs(cdf_on(a, wa, grid) - cdf_on(b, wb, grid)).max())
    return gap, float(np.dot(wb, b) - np.dot(wa, a))


def compare(a: Any, b: Any, names: Sequence[str] = ("A", "B"), normalize: bool | None = None,
            complexity: str = "flops", bins: int | Sequence[float] = DEFAULT_BINS, n_boot: int = 1000,
            level: float = 0.95, seed: int | None = 0) -> Comparison:
    """Compare the error distributions of two design spaces.

    ``a`` and ``b`` are error arrays or DataFrames (``error`` plus the ``complexity`` column).
    ``normalize`` (default: when both are DataFrames with that column) reweights both spaces
    to a common binned complexity distribution before computing ``gap`` and ``area``.
    """
    from scipy import stats as sst
    import pandas as pd

    if not 0 < level < 1:
        raise AnalysisInputError("level", f"must be in (0, 1), got {level}")
    if n_boot < 10:
        raise AnalysisInputError("n_boot", f"need at least 10 bootstrap samples, got {n_boot}")
    na, nb = (str(n) for n in names)
    if normalize is None:
        normalize = all(isinstance(x, pd.DataFrame) and complexity in x.columns for x in (a, b))
    ea, ca = _errors_and_complexity(a, na, complexity, normalize)
    eb, cb = _errors_and_complexity(b, nb, complexity, normalize)
    ks = sst.ks_2samp(ea, eb)

    def weights(ia: np.ndarray, ib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not normalize:
            return np.full(ia.size, 1 / ia.size), np.full(ib.size, 1 / ib.size)
        return tuple(matched_weights([ca[ia], cb[ib]], edges))  # type: ignore[index,return-value]

    edges = None
    if normalize:
        from .edf import overlap_bins

        edges = bins if not isinstance(bins, (int, np.integer)) else overlap_bins(ca, cb, bins=int(bins), column=complexity)
    ia, ib = np.arange(ea.size), np.arange(eb.size)
    wa, wb = weights(ia, ib)
    gap, area = _stats(ea, eb, wa, wb)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        ja, jb = rng.integers(0, ea.size, ea.size), rng.integers(0, eb.size, eb.size)
        try:
            boot.append(_stats(ea[ja], eb[jb], *weights(ja, jb)))
        except AnalysisInputError:  # a resample with no shared complexity bin
            continue
    bs = np.asarray(boot)
    q = ((1 - level) / 2, (1 + level) / 2)
    gap_ci = tuple(float(v) for v in np.quantile(bs[:, 0], q))
    area_ci = tuple(float(v) for v in np.quantile(bs[:, 1], q))
    p_norm = None
    if normalize:
        ne_a, ne_b = 1 / np.sum(wa ** 2), 1 / np.sum(wb ** 2)
        p_norm = float(sst.kstwobign.sf(gap * np.sqrt(ne_a * ne_b / (ne_a + ne_b))))
    cmp = Comparison(na, nb, ea.size, eb.size, float(ks.statistic), float(ks.pvalue), bool(normalize), gap,
                     gap_ci, area, area_ci, p_norm, level, "")  # type: ignore[arg-type]
    return _with_verdict(cmp, complexity)


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _with_verdict(c: Comparison, complexity: str) -> Comparison:
    """The verdict in the report's words: "different" when the test is significant at
    ``1 - level``, else "inconclusive" (equivalence needs a TOST with a margin:
    :func:`designspace.analysis.summarize`); the better group is named only when the interval
    of the mean difference excludes 0."""
    import dataclasses

    alpha = 1 - c.level
    p = c.pvalue_normalized if c.normalized else c.pvalue
    how = f"{complexity}-normalized " if c.normalized else ""
    pct = int(round(c.level * 100))
    stat = (f"KS D={c.ks:.3f}, p={_fmt_p(c.pvalue)}"
            + (f"; normalized D={c.gap:.3f}, p~{_fmt_p(p)}" if c.normalized else "")
            + f"; n={c.n_a}/{c.n_b}")
    lo, hi = c.area_ci
    diff = f"mean error of {c.name_b} minus {c.name_a} {c.area:+.3g}, {pct}% CI {lo:+.3g} to {hi:+.3g}"
    if p is not None and p < alpha:
        better = ""
        if not lo <= 0 <= hi:
            better = f"; {c.name_a if c.area > 0 else c.name_b} has the lower errors"
        text = f"{c.name_a} vs {c.name_b}: different {how}error distributions{better} ({diff}; {stat})."
    elif c.normalized and c.pvalue < alpha:
        text = (f"{c.name_a} vs {c.name_b}: inconclusive once models are reweighted to the same {complexity} "
                f"distribution, although the raw error distributions differ: the raw gap may come from "
                f"complexity, not design ({diff}; {stat}).")
    else:
        text = (f"{c.name_a} vs {c.name_b}: inconclusive at the {alpha:g} level ({diff}; {stat}); not a finding of "
                "no difference, which needs an equivalence test.")
    return dataclasses.replace(c, verdict=text)
