"""Seed noise, honestly: how much one run's error moves when only the seed changes.

A study with ``repeats = {models = m, seeds = s}`` trains ``m`` of its networks with ``s`` seeds
in all.  From those runs (diverged runs left out, see :mod:`.network`):

* :func:`seed_noise` -- the distribution of the per-network standard deviation (median,
  quartiles, max) and a robust pooled sd: ``sigma^2 = median_i(s_i^2 / c_i)`` with
  ``c_i = chi2.median(k_i - 1) / (k_i - 1)``, so that one erratic network cannot make the
  pooled value (a mean of variances can: one network with sd 3.9 points among medians of 0.4);
  under normal seed noise it estimates the common sd.
* :func:`retest_distance` -- the KS distance between the EDFs of the *same* networks under two
  different seeds (each network's first and second run): how far apart two EDFs lie when nothing
  but the seed changed.  Seeds are exchangeable, so the distance's population value is 0 and a
  bootstrap "confidence interval" for it is meaningless (a parameter on the boundary: the
  percentile interval of 20 pairs can miss its own estimate).  It comes instead with its
  *seed-swap reference*: the distribution of the same distance when each network's two runs are
  randomly swapped, which is what seed noise alone produces among these networks (its median and
  upper quantile), and the swap p-value of the observed distance: a small p says the first and
  second runs differ more than seed labels can (a changed code version, thread count or data).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .data import AnalysisInputError, as_array

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SeedNoise", "seed_noise", "Retest", "retest_distance", "ks_statistic", "runs_of"]


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic sup |F_a - F_b| (equal to ``scipy.stats.ks_2samp``'s)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def runs_of(df: "pd.DataFrame", num_classes: int | None = None) -> list[np.ndarray]:
    """Each network's non-diverged runs (fractions), in stored order (``id`` names the network)."""
    from .network import diverged_mask, to_fraction

    if "id" not in df.columns:
        return []
    d = df.assign(error=to_fraction(df["error"]))[~diverged_mask(df, num_classes)]
    return [g.to_numpy(float) for _, g in d.groupby(d["id"].astype(str), sort=False)["error"]]


@dataclass(frozen=True)
class SeedNoise:
    networks: int          #: networks with two or more (non-diverged) runs
    runs: int              #: their runs
    per_network_sd: np.ndarray
    median: float
    q1: float
    q3: float
    max: float
    pooled: float          #: robust pooled sd (see the module docstring)

    @property
    def sd(self) -> float:
        return self.pooled

    def as_points(self) -> dict[str, float]:
        return {k: 100 * getattr(self, k) for k in ("median", "q1", "q3", "max", "pooled")}


def seed_noise(errors: "pd.DataFrame | Sequence[Sequence[float]]", by: str = "id", error: str = "error",
               num_classes: int | None = None) -> SeedNoise:
    """Seed noise from repeated runs: a frame with one row per run (``by`` names the network;
    diverged runs are dropped) or a list of per-network error lists.  Networks with a single
    run are ignored; none with two runs is an :class:`AnalysisInputError`."""
    from scipy import stats

    if hasattr(errors, "groupby"):
        df = errors
        for c in (by, error):
            if c not in df.columns:
                raise AnalysisInputError(c, "column is missing (repeated runs need a network id and an error)")
        groups = runs_of(df.rename(columns={by: "id", error: "error"}), num_classes)
    else:
        groups = [as_array(g, error, min_size=1) for g in errors]
    groups = [g for g in groups if g.size >= 2]
    if not groups:
        raise AnalysisInputError(error, "no network has two or more runs: seed noise needs repeats")
    k = np.array([g.size for g in groups])
    s = np.array([g.std(ddof=1) for g in groups])
    c = stats.chi2.median(k - 1) / (k - 1)
    q1, med, q3 = np.quantile(s, [0.25, 0.5, 0.75])
    return SeedNoise(len(groups), int(k.sum()), s, float(med), float(q1), float(q3), float(s.max()),
                     float(np.sqrt(np.median(s ** 2 / c))))


@dataclass(frozen=True)
class Retest:
    d: float                      #: KS distance between the first-run and second-run EDFs
    swap_median: float            #: median of the distance under random within-network seed swaps
    swap_upper: float             #: its ``level`` quantile: seed noise alone gives at most this, that often
    p: float                      #: swap p-value of ``d`` (small: the two seeds' runs are not exchangeable)
    networks: int
    level: float


def retest_distance(runs: Sequence[np.ndarray], n_boot: int = 1000, level: float = 0.95,
                    seed: int | np.random.Generator | None = 0, min_networks: int = 5) -> Retest | None:
    """KS distance between the EDFs of the same networks under two seeds (first and second
    run of every network that has two), with its seed-swap reference over ``n_boot`` random
    swaps of each network's two runs (see the module docstring); None when fewer than
    ``min_networks`` networks have two runs."""
    pairs = np.array([[r[0], r[1]] for r in runs if len(r) >= 2], dtype=float).reshape(-1, 2)
    if len(pairs) < min_networks:
        return None
    rng = np.random.default_rng(seed)
    d = ks_statistic(pairs[:, 0], pairs[:, 1])
    first, second = pairs[:, 0], pairs[:, 1]
    swaps = rng.integers(0, 2, (n_boot, len(pairs))).astype(bool)
    null = np.array([ks_statistic(np.where(s, second, first), np.where(s, first, second)) for s in swaps])
    p = (1 + np.count_nonzero(null >= d - 1e-12)) / (1 + n_boot)
    return Retest(d, float(np.median(null)), float(np.quantile(null, level)), float(p), len(pairs), level)
