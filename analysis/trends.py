"""Where the best networks lie, and which parameters matter when they are correlated.

* :func:`best_range` -- the empirical bootstrap of Radosavovic et al., "Designing Network Design
  Spaces" (CVPR 2020, Sec. 3): draw ``frac`` (25%) of the (parameter, error) pairs with
  replacement, keep the parameter of the lowest error, repeat ``n_boot`` times; the central
  ``level`` interval of those values is where the best networks likely lie.
* :func:`importance` -- a joint least-squares fit of network-mean error on all free parameters
  (standardized), so that a parameter correlated with another (as constraints make them) does
  not take its credit; each coefficient (points of error per sd of the parameter) with a
  bootstrap interval over networks, its t-test p-value and the Holm-adjusted one, next to the
  one-at-a-time slope of the same parameter (the trend a single plot shows).
* :func:`binned_trend` and :func:`best_k_band` -- bootstrap intervals (over networks) of the
  binned best-``k`` error and of the best-``k`` least-squares line.

All take network tables (:func:`designspace.analysis.network.network_table`): one row per network.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .data import AnalysisInputError
from .multiplicity import holm

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["MIN_NETWORKS", "best_range", "importance", "binned_trend", "best_k_band"]

#: below this many networks per group: no bands, no best-k lines, no best range
MIN_NETWORKS = 30


def best_range(x: Sequence[float], error: Sequence[float], frac: float = 0.25, n_boot: int = 10_000,
               level: float = 0.95, seed: int | np.random.Generator | None = 0) -> tuple[float, float]:
    """The RegNet paper's empirical-bootstrap interval of where the best networks lie."""
    x, e = np.asarray(x, float), np.asarray(error, float)
    ok = np.isfinite(x) & np.isfinite(e)
    x, e = x[ok], e[ok]
    if x.size < 2:
        raise AnalysisInputError("best_range", f"need at least 2 networks with the parameter, got {x.size}")
    rng = np.random.default_rng(seed)
    m = max(1, int(round(frac * x.size)))
    idx = rng.integers(0, x.size, (n_boot, m))
    best = x[idx[np.arange(n_boot), np.argmin(e[idx], axis=1)]]
    a = (1 - level) / 2
    return float(np.quantile(best, a)), float(np.quantile(best, 1 - a))


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(np.c_[np.ones(len(y)), X], y, rcond=None)[0][1:]


def importance(tab: "pd.DataFrame", params: Sequence[str], n_boot: int = 500, level: float = 0.95,
               seed: int | np.random.Generator | None = 0) -> "pd.DataFrame":
    """Joint and one-at-a-time standardized effects of ``params`` on network-mean error (points);
    one row per parameter: ``joint``, ``lo``, ``hi``, ``p``, ``p_holm``, ``alone``, ``alone_p``,
    ``alone_p_holm``, ``importance`` (= |joint|).  Needs more networks than parameters + 2."""
    import pandas as pd
    from scipy import stats

    d = tab[list(params) + ["error"]].dropna()
    params = [p for p in params if d[p].std() > 0]
    n, k = len(d), len(params)
    if not params or n < k + 3:
        raise AnalysisInputError("importance", f"a joint fit of {k} parameter(s) needs at least {k + 3} networks, got {n}")
    X = ((d[params] - d[params].mean()) / d[params].std()).to_numpy(float)
    y = 100 * d["error"].to_numpy(float)
    beta = _ols(X, y)
    resid = y - y.mean() - X @ beta
    A = np.c_[np.ones(n), X]
    cov = np.linalg.pinv(A.T @ A)[1:, 1:] * (resid @ resid) / (n - k - 1)
    p = 2 * stats.t.sf(np.abs(beta) / np.sqrt(np.maximum(np.diag(cov), 1e-300)), n - k - 1)
    rng = np.random.default_rng(seed)
    boot = np.array([_ols(X[i], y[i]) for i in (rng.integers(0, n, n) for _ in range(n_boot))])
    a = (1 - level) / 2
    alone = [stats.linregress(X[:, j], y) for j in range(k)]
    return pd.DataFrame({"param": params, "joint": beta, "lo": np.quantile(boot, a, axis=0),
                         "hi": np.quantile(boot, 1 - a, axis=0), "p": p, "p_holm": holm(p),
                         "alone": [r.slope for r in alone], "alone_p": [r.pvalue for r in alone],
                         "alone_p_holm": holm([r.pvalue for r in alone]), "importance": np.abs(beta),
                         "networks": n})


def _best_k(df: "pd.DataFrame", k: float) -> "pd.DataFrame":
    return df.nsmallest(max(1, int(math.ceil(k * len(df)))), "error")


def binned_trend(tab: "pd.DataFrame", param: str, k: float = 0.1, n_bins: int = 8, n_boot: int = 300,
                 level: float = 0.95, seed: int | np.random.Generator | None = 0) -> "pd.DataFrame":
    """Per value (or quantile bin) of ``param``: networks, the ``k``-quantile of network-mean
    error and its bootstrap interval (networks of the bin resampled), errors in points."""
    import pandas as pd

    d = tab[[param, "error"]].dropna()
    x = pd.to_numeric(d[param])
    key = x if x.nunique() <= n_bins else pd.qcut(x, n_bins, duplicates="drop").map(lambda iv: float(iv.mid)).astype(float)
    rng = np.random.default_rng(seed)
    rows, a = [], (1 - level) / 2
    for v, e in (100 * d["error"]).groupby(key.to_numpy(), sort=True):
        e = e.to_numpy(float)
        boot = np.quantile(e[rng.integers(0, e.size, (n_boot, e.size))], k, axis=1)
        rows.append({param: float(v), "n": e.size, "best_k": float(np.quantile(e, k)),
                     "lo": float(np.quantile(boot, a)), "hi": float(np.quantile(boot, 1 - a))})
    return pd.DataFrame(rows)


def best_k_band(tab: "pd.DataFrame", param: str, k: float = 0.1, n_boot: int = 300, level: float = 0.95,
                seed: int | np.random.Generator | None = 0, n_grid: int = 25) -> "pd.DataFrame | None":
    """The least-squares line through the best ``k`` fraction of networks (points), on a grid of
    ``param``, with a pointwise bootstrap band (networks resampled, the best ``k`` chosen again);
    None if the best networks share one value."""
    import pandas as pd

    d = tab[[param, "error"]].dropna()
    best = _best_k(d, k)
    if len(best) < 2 or np.ptp(best[param].to_numpy(float)) == 0:
        return None
    grid = np.linspace(d[param].min(), d[param].max(), n_grid)

    def line(s: "pd.DataFrame") -> np.ndarray:
        b = _best_k(s, k)
        x = b[param].to_numpy(float)
        if np.ptp(x) == 0:
            return np.full(grid.size, np.nan)
        slope, icpt = np.polyfit(x, 100 * b["error"].to_numpy(float), 1)
        return icpt + slope * grid

    rng = np.random.default_rng(seed)
    boot = np.array([line(d.iloc[rng.integers(0, len(d), len(d))]) for _ in range(n_boot)])
    a = (1 - level) / 2
    return pd.DataFrame({param: grid, "fit": line(d), "lo": np.nanquantile(boot, a, axis=0),
                         "hi": np.nanquantile(boot, 1 - a, axis=0)})
