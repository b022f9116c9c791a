"""Prospective sensitivity: what the networks at hand can detect, before looking at the gap.

Post-hoc power computed from an observed KS distance is biased upward (the observed distance
over-estimates the true one) and says nothing the p-value did not.  Instead, for ``n_a`` and
``n_b`` networks, :func:`min_detectable` gives

* ``ks_d``: the smallest true KS distance that the two-sample KS test (at ``alpha``) detects
  with probability ``power``.  The KS test is distribution-free under the null; the alternative
  is a location shift of a normal distribution (``D = 2 Phi(delta / 2) - 1`` for a shift of
  ``delta`` sd), simulated with common random numbers and solved by bisection.  For large
  samples the distance at a reduced size is scaled by ``sqrt(n_eff' / n_eff)`` (the
  ``1/sqrt(n)`` rate of the KS statistic).
* ``mean_diff``: the smallest difference of mean network error detectable by Welch's t-test,
  ``(t_{1-alpha/2} + t_{power}) * sqrt(sd_a^2 / n_a + sd_b^2 / n_b)`` with the sd of the network
  means (in the units of ``sd``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .data import AnalysisInputError

__all__ = ["Sensitivity", "min_detectable", "min_detectable_ks", "min_detectable_mean"]

_MAX_EFF = 150.0  # simulate at most this effective size n_a n_b / (n_a + n_b), scale beyond


def _ks_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KS statistic of each row pair (a: sims x n, b: sims x m)."""
    n, m = a.shape[1], b.shape[1]
    x = np.concatenate([a, b], axis=1)
    order = np.argsort(x, axis=1, kind="stable")
    step = np.where(order < n, 1.0 / n, -1.0 / m)
    return np.abs(np.cumsum(step, axis=1)).max(axis=1)


@lru_cache(maxsize=64)
def min_detectable_ks(n_a: int, n_b: int, alpha: float = 0.05, power: float = 0.8, n_sim: int = 2000,
                      seed: int = 0) -> float:
    """The smallest true KS distance detected with probability ``power`` (see the module docstring);
    NaN where no distance is: with few networks the test cannot reject at ``alpha`` at all (3 and 4
    networks: even complete separation has a null probability of 2/35 > 0.05)."""
    from scipy import stats

    if min(n_a, n_b) < 2:
        raise AnalysisInputError("n", f"need at least 2 networks per group, got {n_a} and {n_b}")
    eff = n_a * n_b / (n_a + n_b)
    scale = 1.0
    if eff > _MAX_EFF:
        f = _MAX_EFF / eff
        n_a, n_b = max(2, int(round(n_a * f))), max(2, int(round(n_b * f)))
        scale = np.sqrt((n_a * n_b / (n_a + n_b)) / eff)
    rng = np.random.default_rng(seed)
    za, zb = rng.standard_normal((n_sim, n_a)), rng.standard_normal((n_sim, n_b))
    null = np.sort(_ks_rows(za, zb))
    crit = null[int(np.ceil((1 - alpha) * n_sim)) - 1]  # reject when D > crit: P0(D > crit) <= alpha

    def pw(delta: float) -> float:
        return float(np.mean(_ks_rows(za, zb + delta) > crit + 1e-12))

    if pw(64.0) < power:  # complete separation is not detected that often: the sizes cannot reach it
        return float("nan")
    lo, hi = 0.0, 1.0
    while pw(hi) < power:
        lo, hi = hi, 2 * hi
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if pw(mid) >= power else (mid, hi)
    return float(min(1.0, (2 * stats.norm.cdf(hi / 2) - 1) * scale))


def min_detectable_mean(n_a: int, n_b: int, sd_a: float, sd_b: float, alpha: float = 0.05,
                        power: float = 0.8) -> float:
    """Smallest detectable difference of means (Welch, normal-theory; in the units of the sds)."""
    from scipy import stats

    se2a, se2b = sd_a ** 2 / n_a, sd_b ** 2 / n_b
    se = np.sqrt(se2a + se2b)
    if se == 0:
        return 0.0
    df = (se2a + se2b) ** 2 / (se2a ** 2 / (n_a - 1) + se2b ** 2 / (n_b - 1))
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se)


@dataclass(frozen=True)
class Sensitivity:
    ks_d: float
    mean_diff: float
    n_a: int
    n_b: int
    alpha: float
    power: float


def min_detectable(a: np.ndarray, b: np.ndarray, alpha: float = 0.05, power: float = 0.8) -> Sensitivity:
    """Both detectable sizes for two arrays of network means (``mean_diff`` in their units)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return Sensitivity(min_detectable_ks(a.size, b.size, alpha, power),
                       min_detectable_mean(a.size, b.size, a.std(ddof=1), b.std(ddof=1), alpha, power),
                       a.size, b.size, alpha, power)
