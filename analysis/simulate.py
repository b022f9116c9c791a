"""Simulated studies with known truth: does the analysis say what it claims?

Each simulated study has two groups of ``n`` networks, ``seeds`` runs each.  A network's true
error is drawn from ``N(base + shift, net_sd)`` (points) and each run adds ``N(0, seed_sd)``.

* :func:`false_positive_rates` -- identical groups (``shift = 0``): the share of studies whose
  verdict is "different" (KS on network means, as :func:`designspace.analysis.summarize` does),
  which should be close to ``alpha``, and the share a KS test on all runs as if each were a
  separate sample calls significant (seed repeats counted as networks), which is not;
* :func:`coverage` -- groups ``shift`` points apart: the share of studies whose 95% cluster-
  bootstrap interval of ``mean_diff`` holds ``shift``;
* :func:`best_region_hits` -- error is a parabola in a parameter with its minimum at ``x_best``:
  the share of studies whose empirical-bootstrap best range holds ``x_best``.

``python -m designspace.analysis.commands.simulate`` prints all three (numpy, scipy, pandas; under
a minute on 2 cores).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["simulate_study", "false_positive_rates", "coverage", "best_region_hits", "figures"]


def simulate_study(rng: np.random.Generator, n: int = 30, seeds: int = 5, shift: float = 0.0, base: float = 20.0,
                   net_sd: float = 2.0, seed_sd: float = 1.0):
    """A frame of runs: ``space`` (``a``/``b``), ``id``, ``error`` (a fraction)."""
    import pandas as pd

    parts = []
    for g, s in (("a", 0.0), ("b", shift)):
        mu = rng.normal(base + s, net_sd, n)
        err = mu[:, None] + rng.normal(0, seed_sd, (n, seeds))
        parts.append(pd.DataFrame({"space": g, "id": np.repeat([f"{g}{i}" for i in range(n)], seeds),
                                   "error": err.ravel() / 100}))
    return pd.concat(parts, ignore_index=True)


def _compare(df, alpha: float, n_boot: int, seed: int, margin: float = 0.5) -> dict:
    from .network import network_table, run_matrix
    from .verdict import two_groups, with_verdicts

    sides = []
    for g in ("a", "b"):
        d = df[df["space"] == g]
        tab = network_table(d)
        sides.append((100 * tab["error"].to_numpy(float), run_matrix(d, tab["id"])))
    c = two_groups(sides[0][0], sides[1][0], sides[0][1], sides[1][1], margin, alpha, n_boot, seed=seed)
    return with_verdicts([{"a": "a", "b": "b", **c}], alpha)[0]


def false_positive_rates(n_studies: int = 400, alpha: float = 0.05, seed: int = 0, **study) -> tuple[float, float]:
    """(share "different" on network means, share significant with seeds counted as samples)."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    net = runs = 0
    for i in range(n_studies):
        df = simulate_study(rng, shift=0.0, **study)
        net += _compare(df, alpha, 20, i)["verdict"] == "different"
        a, b = (df.loc[df["space"] == g, "error"].to_numpy() for g in ("a", "b"))
        runs += stats.ks_2samp(a, b).pvalue < alpha
    return net / n_studies, runs / n_studies


def coverage(n_studies: int = 400, shift: float = 1.0, n_boot: int = 1000, seed: int = 1, **study) -> float:
    """Share of studies whose 95% cluster-bootstrap interval of mean_diff holds ``shift``."""
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(n_studies):
        lo, hi = _compare(simulate_study(rng, shift=shift, **study), 0.05, n_boot, i)["mean_diff"]["ci"]
        hits += lo <= shift <= hi
    return hits / n_studies


def best_region_hits(n_studies: int = 100, n: int = 100, x_best: float = 7.0, seed: int = 2,
                     n_boot: int = 2000) -> tuple[float, float]:
    """(share of studies whose best range holds ``x_best``, mean width of the range / the
    parameter's whole range); parameter uniform on [0, 10], error 20 + 0.3 (x - x_best)^2 + N(0, 1)."""
    from .trends import best_range

    rng = np.random.default_rng(seed)
    hits, widths = 0, []
    for _ in range(n_studies):
        x = rng.uniform(0, 10, n)
        err = 20 + 0.3 * (x - x_best) ** 2 + rng.normal(0, 1, n)
        lo, hi = best_range(x, err, n_boot=n_boot, seed=rng)
        hits += lo <= x_best <= hi
        widths.append((hi - lo) / 10)
    return hits / n_studies, float(np.mean(widths))


def figures(studies: int = 400, networks: int = 30, seeds: int = 5) -> list[str]:
    """The simulation's figures as lines of text (``python -m designspace.analysis.commands.simulate``)."""
    study = dict(n=networks, seeds=seeds)
    fp_net, fp_runs = false_positive_rates(studies, **study)
    cov = coverage(studies, **study)
    hit, width = best_region_hits(max(50, studies // 4))
    return [f"{studies} simulated studies, 2 x {networks} networks x {seeds} seeds, network sd 2, seed sd 1 points",
            f"false-positive rate at alpha 0.05, identical spaces: network means {fp_net:.3f}; "
            f"seeds counted as samples {fp_runs:.3f}",
            f"coverage of the 95% cluster-bootstrap interval of the mean difference (true 1.0 point): {cov:.3f}",
            f"empirical-bootstrap best range holds the true best value in {hit:.2f} of studies "
            f"(mean width {width:.2f} of the parameter's range)"]
