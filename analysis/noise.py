"""The noise floor of a design-space comparison: how far apart two EDFs of the *same* space lie
from training noise and finite samples alone.

A study with ``repeats = {models = m, seeds = s}`` trains ``m`` of its networks with ``s`` seeds
in all.  :func:`seed_noise` turns those runs into the seed-noise distribution of the error (each
repeated model's deviations from its own mean, pooled; its standard deviation is the error a
single run is off by).  :func:`noise_floor` then simulates the comparison of two identical
spaces: two samples of the observed size drawn from the observed models (with replacement), each
model's error perturbed by independent seed noise, and their KS distance; over ``n_boot``
simulations, the ``level`` quantile is the floor an observed gap must clear (NDS, Radosavovic
et al. 2019, appendix on noise).  :func:`compare_to_floor` puts an observed gap next to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .data import AnalysisInputError, as_array

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SeedNoise", "seed_noise", "noise_floor", "NoiseFloor", "compare_to_floor", "ks_statistic"]


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic sup |F_a - F_b| (equal to ``scipy.stats.ks_2samp``'s)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


@dataclass(frozen=True)
class SeedNoise:
    residuals: np.ndarray  #: each repeated model's runs minus that model's mean (pooled)
    models: int
    runs: int
    sd: float              #: sample standard deviation of one run's error around its model's mean
    per_model_sd: np.ndarray


def seed_noise(errors: "pd.DataFrame | Sequence[Sequence[float]]", by: str = "id", error: str = "error") -> SeedNoise:
    """Seed noise from repeated runs: a frame with one row per run (``by`` names the model), or
    a list of per-model error lists.  Models with a single run are ignored."""
    groups: list[np.ndarray]
    if hasattr(errors, "groupby"):
        df = errors
        for c in (by, error):
            if c not in df.columns:
                raise AnalysisInputError(c, "column is missing (repeated runs need a model id and an error)")
        groups = [as_array(g[error], error, min_size=1) for _, g in df.groupby(by)]
    else:
        groups = [as_array(g, error, min_size=1) for g in errors]
    groups = [g for g in groups if g.size >= 2]
    if not groups:
        raise AnalysisInputError(error, "no model has two or more runs: repeats are needed for a noise floor")
    res = np.concatenate([g - g.mean() for g in groups])
    dof = sum(g.size - 1 for g in groups)
    sd = float(np.sqrt(np.sum(res ** 2) / dof))
    return SeedNoise(res * np.sqrt(np.concatenate([[g.size / (g.size - 1)] * g.size for g in groups])),
                     len(groups), int(sum(g.size for g in groups)), sd,
                     np.array([g.std(ddof=1) for g in groups]))


@dataclass(frozen=True)
class NoiseFloor:
    floor: float          #: the ``level`` quantile of KS distances between two identical spaces
    mean: float
    level: float
    n_a: int
    n_b: int
    seed_sd: float        #: the seed noise used (0: sampling noise alone)
    draws: np.ndarray


def noise_floor(errors: Sequence[float] | np.ndarray, noise: SeedNoise | None = None, n_a: int | None = None,
                n_b: int | None = None, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> NoiseFloor:
    """KS distances between two samples (sizes ``n_a``, ``n_b``, default the observed size) of
    the same space, each model's error perturbed by independent seed noise (resampled residuals);
    see the module docstring."""
    e = as_array(errors, "error")
    n_a = n_a or e.size
    n_b = n_b or e.size
    rng = np.random.default_rng(seed)
    res = noise.residuals if noise is not None else np.zeros(1)
    out = np.empty(n_boot)
    for i in range(n_boot):
        a = e[rng.integers(0, e.size, n_a)] + res[rng.integers(0, res.size, n_a)]
        b = e[rng.integers(0, e.size, n_b)] + res[rng.integers(0, res.size, n_b)]
        out[i] = ks_statistic(a, b)
    return NoiseFloor(float(np.quantile(out, level)), float(out.mean()), level, n_a, n_b,
                      noise.sd if noise is not None else 0.0, out)


def compare_to_floor(observed_ks: float, floor: NoiseFloor) -> str:
    """One sentence: is the observed gap beyond what noise alone gives?"""
    frac = float(np.mean(floor.draws >= observed_ks))
    beyond = observed_ks > floor.floor
    src = f"seed noise (sd {100 * floor.seed_sd:.2f} points) and sampling" if floor.seed_sd else "sampling alone"
    return (f"observed KS {observed_ks:.3f} vs a noise floor of {floor.floor:.3f} ({int(100 * floor.level)}% of "
            f"identical-space comparisons from {src}, n = {floor.n_a} and {floor.n_b}): "
            + ("beyond the noise" if beyond else "within the noise") + f" ({100 * frac:.1f}% of them reach it)")
