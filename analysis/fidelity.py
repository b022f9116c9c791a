"""Schedule fidelity: does the short schedule rank models as a longer one does?

A study with ``fidelity = {models = 20, epochs = ...}`` retrains a stratified subset of its
models (spread evenly over the short schedule's error range, chosen by the study worker) with
a longer schedule.
:func:`rank_agreement` gives Kendall's tau and Spearman's rho between the short and long errors
(``scipy.stats``) with bootstrap intervals (resampling models); the short schedule's ranking is
called trustworthy when tau >= ``threshold`` (0.6 by default), tau's interval excludes 0 and
Kendall's test rejects independence at 5%.
This also says whether pruning a study early is safe.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .data import AnalysisInputError, as_array

__all__ = ["RankAgreement", "rank_agreement"]


@dataclass(frozen=True)
class RankAgreement:
    n: int
    tau: float
    tau_ci: tuple[float, float]
    tau_p: float
    rho: float
    rho_ci: tuple[float, float]
    threshold: float

    @property
    def trustworthy(self) -> bool:
        return self.tau >= self.threshold and self.tau_ci[0] > 0 and self.tau_p < 0.05  # 3 models never suffice

    def sentence(self, short: str = "the short schedule", long: str = "the long one") -> str:
        verdict = ("can be trusted to rank models (and to prune early)" if self.trustworthy else
                   "does not rank models reliably: compare at the longer schedule, or prune with care")
        return (f"{short} vs {long} on {self.n} models: Kendall tau {self.tau:.2f} (95% {self.tau_ci[0]:.2f} to "
                f"{self.tau_ci[1]:.2f}, p {self.tau_p:.2g}), Spearman rho {self.rho:.2f} ({self.rho_ci[0]:.2f} to "
                f"{self.rho_ci[1]:.2f}): {short} {verdict} (bar: tau >= {self.threshold})")


def rank_agreement(short: Sequence[float], long: Sequence[float], n_boot: int = 2000, seed: int = 0,
                   threshold: float = 0.6) -> RankAgreement:
    from scipy import stats

    s, l = as_array(short, "short error", min_size=3), as_array(long, "long error", min_size=3)
    if s.size != l.size:
        raise AnalysisInputError("long error", f"{l.size} values for {s.size} short-schedule errors")
    tau = stats.kendalltau(s, l)
    rho = stats.spearmanr(s, l)
    rng = np.random.default_rng(seed)
    taus, rhos = [], []
    for _ in range(n_boot):
        i = rng.integers(0, s.size, s.size)
        t = stats.kendalltau(s[i], l[i]).statistic
        r = stats.spearmanr(s[i], l[i]).statistic
        if np.isfinite(t):
            taus.append(t)
        if np.isfinite(r):
            rhos.append(r)
    ci = lambda x: (float(np.percentile(x, 2.5)), float(np.percentile(x, 97.5)))  # noqa: E731
    return RankAgreement(s.size, float(tau.statistic), ci(taus), float(tau.pvalue), float(rho.statistic), ci(rhos),
                         threshold)
