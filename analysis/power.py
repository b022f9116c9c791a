"""Sample size: is n models per space enough to see a gap?

:func:`ks_curve` is the KS distance between two spaces as a function of the number of models per
space (bootstrap subsamples of the observed models, as the NDS paper's figure on the number of
samples); :func:`required_n` is the smallest n per space at which the observed gap is detected
by the two-sample KS test at ``alpha`` with probability ``power`` (bootstrap resampling of each
space's observed errors: the populations are taken to be what was observed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .data import as_array

__all__ = ["ks_curve", "required_n", "power_at", "PowerResult"]


def _ks_pvalues(a: np.ndarray, b: np.ndarray, n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    from scipy import stats

    out = np.empty(n_boot)
    for i in range(n_boot):
        out[i] = stats.ks_2samp(a[rng.integers(0, a.size, n)], b[rng.integers(0, b.size, n)]).pvalue
    return out


def power_at(errors_a: Sequence[float], errors_b: Sequence[float], n: int, alpha: float = 0.05, n_boot: int = 400,
             seed: int = 0) -> float:
    """Probability that n models per space show the gap at ``alpha`` (bootstrap)."""
    a, b = as_array(errors_a, "error A"), as_array(errors_b, "error B")
    rng = np.random.default_rng(seed)
    return float(np.mean(_ks_pvalues(a, b, n, n_boot, rng) < alpha))


def ks_curve(errors_a: Sequence[float], errors_b: Sequence[float], ns: Sequence[int] | None = None,
             n_boot: int = 200, seed: int = 0) -> list[tuple[int, float, float, float]]:
    """``[(n, mean KS, 2.5%, 97.5%)]``: the KS distance of n-model subsamples of each space."""
    from .noise import ks_statistic

    a, b = as_array(errors_a, "error A"), as_array(errors_b, "error B")
    ns = list(ns) if ns is not None else sorted({int(x) for x in np.geomspace(5, max(a.size, b.size), 10)})
    rng = np.random.default_rng(seed)
    out = []
    for n in ns:
        d = np.array([ks_statistic(a[rng.integers(0, a.size, n)], b[rng.integers(0, b.size, n)]) for _ in range(n_boot)])
        out.append((n, float(d.mean()), float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))))
    return out


@dataclass(frozen=True)
class PowerResult:
    n: int | None            #: smallest n per space reaching ``power`` (None: not within ``n_max``)
    power_at_n: float
    have: tuple[int, int]
    power_now: float         #: power at the smaller observed size
    alpha: float
    power: float
    n_max: int = 2000

    def sentence(self, names: Sequence[str] = ("A", "B")) -> str:
        a, b = names
        now = min(self.have)
        if self.n is None:
            return (f"the {a} vs {b} gap is not detected at {int(100 * self.power)}% power with up to "
                    f"{self.n_max} models per space; you have {self.have[0]} and {self.have[1]}")
        verdict = "enough" if self.power_now >= self.power else ("about enough" if now >= self.n else "not enough")
        return (f"the {a} vs {b} gap needs about {self.n} models per space for {int(100 * self.power)}% power at "
                f"alpha {self.alpha:g}; you have {self.have[0]} and {self.have[1]} ({verdict}; power now "
                f"{100 * self.power_now:.0f}%)")


def required_n(errors_a: Sequence[float], errors_b: Sequence[float], alpha: float = 0.05, power: float = 0.8,
               n_max: int = 2000, n_boot: int = 300, seed: int = 0) -> PowerResult:
    """The smallest n per space whose bootstrap power reaches ``power`` (bisection on n)."""
    a, b = as_array(errors_a, "error A"), as_array(errors_b, "error B")
    have = (a.size, b.size)

    def pw(n: int) -> float:
        return power_at(a, b, n, alpha, n_boot, seed)  # common random numbers: power is smooth in n

    now = pw(min(have))
    lo, hi = 3, 8
    while pw(hi) < power:
        lo, hi = hi, hi * 2
        if hi > n_max:
            return PowerResult(None, pw(n_max), have, now, alpha, power, n_max)
    while hi - lo > max(1, lo // 20):
        mid = (lo + hi) // 2
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid
    return PowerResult(hi, pw(hi), have, now, alpha, power, n_max)
