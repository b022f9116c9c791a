"""Measured speed as an axis of the analysis.

* :func:`speed_correlations`: which complexity measure predicts measured time on this device?
  Spearman's rank correlation of flops, params and acts with a measured time (inference
  latency, or seconds per training image), with a bootstrap 95% interval (resampling models);
* :func:`speed_fit`: the joint view: ``log time ~ a + sum_k b_k log measure_k`` by least
  squares, each coefficient with a bootstrap 95% interval (resampling models), and R^2 of the
  joint fit next to each measure alone (the measures are correlated: one-at-a-time rank
  correlations cannot say which one carries the time);
* :func:`pareto_front`: the models no other model beats in both error and measured time;
* :func:`add_time_columns`: ``train_time`` (seconds per training image, ``1 /
  train_images_per_s``) and ``latency`` (``infer_latency_ms``) as complexity axes, so the EDFs
  can be normalised by measured speed as well as by flops.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .data import AnalysisInputError, check_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["speed_correlations", "speed_fit", "pareto_front", "add_time_columns", "TIME_AXES"]

#: complexity axes derived from measured speed
TIME_AXES = ("train_time", "latency")


def add_time_columns(df: "pd.DataFrame") -> "pd.DataFrame":
    """A copy with ``train_time`` and ``latency`` where the measured columns exist."""
    out = df.copy()
    if "train_images_per_s" in out.columns:
        ips = out["train_images_per_s"].astype(float)
        out["train_time"] = np.where(ips > 0, 1.0 / ips, np.nan)
    if "infer_latency_ms" in out.columns:
        out["latency"] = out["infer_latency_ms"].astype(float)
    return out


def speed_correlations(df: "pd.DataFrame", time: str = "latency", measures: Sequence[str] = ("flops", "params", "acts"),
                       n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> "pd.DataFrame":
    """One row per complexity measure: Spearman's rho with ``time`` across the models, its
    bootstrap interval and p-value (``scipy.stats.spearmanr``), and n."""
    import pandas as pd
    from scipy import stats

    df = add_time_columns(df)
    have = [m for m in measures if m in df.columns]
    check_frame(df, (time, *have), min_rows=3)
    t = df[time].to_numpy(float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(t), (n_boot, len(t)))
    rows = []
    for m in have:
        x = df[m].to_numpy(float)
        res = stats.spearmanr(x, t)
        boots = []
        for ii in idx:
            r = stats.spearmanr(x[ii], t[ii]).statistic
            if np.isfinite(r):
                boots.append(r)
        lo, hi = np.percentile(boots, [50 * (1 - level), 100 - 50 * (1 - level)]) if boots else (np.nan, np.nan)
        rows.append({"measure": m, "time": time, "rho": float(res.statistic), "lo": float(lo), "hi": float(hi),
                     "pvalue": float(res.pvalue), "n": len(t)})
    if not rows:
        raise AnalysisInputError("flops", "no complexity column (flops, params, acts) to correlate with time")
    return pd.DataFrame(rows)


def pareto_front(df: "pd.DataFrame", x: str = "latency", y: str = "error") -> "pd.DataFrame":
    """The rows on the (``y``, ``x``) Pareto front (both minimised), sorted by ``x``."""
    df = add_time_columns(df)
    check_frame(df, (x, y), min_rows=1)
    d = df.sort_values([x, y], kind="mergesort")
    best = np.inf
    keep = []
    for i, v in zip(d.index, d[y].to_numpy(float)):
        if v < best:
            keep.append(i)
            best = v
    return d.loc[keep]


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares coefficients (intercept first) and R^2."""
    A = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    return coef, float(1.0 - resid @ resid / np.sum((y - y.mean()) ** 2))


def speed_fit(df: "pd.DataFrame", time: str = "train_time", measures: Sequence[str] = ("flops", "acts", "params"),
              n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> "pd.DataFrame":
    """Joint log-log fit of a measured ``time`` on the complexity ``measures``.

    One row per term (``intercept`` and each measure): the coefficient (an elasticity: time
    grows as ``measure ** b`` with the others held fixed), its bootstrap interval over models,
    and in ``r2`` the joint fit's R^2; rows ``alone:<measure>`` give R^2 of that measure alone.
    ``n`` is the number of models."""
    import pandas as pd

    df = add_time_columns(df)
    check_frame(df, (time, *measures), min_rows=len(measures) + 2)
    y = np.log(df[time].to_numpy(float))
    X = np.log(np.column_stack([df[m].to_numpy(float) for m in measures]))
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise AnalysisInputError(time, "a time or complexity that is not positive cannot be fitted on a log scale")
    coef, r2 = _ols(X, y)
    rng = np.random.default_rng(seed)
    boots = np.array([_ols(X[ii], y[ii])[0] for ii in rng.integers(0, len(y), (n_boot, len(y)))])
    q = [50 * (1 - level), 100 - 50 * (1 - level)]
    rows = [{"term": t, "coef": float(c), "lo": float(np.percentile(boots[:, j], q[0])),
             "hi": float(np.percentile(boots[:, j], q[1])), "r2": r2, "n": len(y)}
            for j, (t, c) in enumerate(zip(("intercept", *measures), coef))]
    for j, m in enumerate(measures):
        c1, r2_1 = _ols(X[:, [j]], y)
        rows.append({"term": f"alone:{m}", "coef": float(c1[1]), "lo": np.nan, "hi": np.nan, "r2": r2_1, "n": len(y)})
    return pd.DataFrame(rows)
