"""The network as the unit of every statistic.

A table holds one row per *run* (one training of one network with one seed).  Rows that share
the spec ``id`` are one network: its seed repeats are averaged to one value per network
(:func:`network_table`) before any EDF, test, correlation, trend or best-k statistic, and
intervals resample networks, then their runs (:func:`cluster_means`, a two-stage cluster
bootstrap).

A run *diverged* when its error is at least the chance error ``1 - 1/num_classes`` (the
argument, else the ``num_classes`` column, else the spec's ``num_classes``, else 10).  Diverged runs stay in the network's
mean (a network that does not train is an outcome of its space) and are counted; they are kept
out of seed-noise estimates (:mod:`.noise`).

Errors are fractions here; :func:`to_fraction` reads a column of percentages too.  Reports and
the JSON give percentage points.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .data import AnalysisInputError, check_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DEFAULT_CLASSES", "chance_error", "to_fraction", "diverged_mask", "network_table", "run_matrix",
           "cluster_means"]

DEFAULT_CLASSES = 10


def chance_error(num_classes: int) -> float:
    """The error of a guess: ``1 - 1/num_classes``."""
    if int(num_classes) < 2:
        raise AnalysisInputError("num_classes", f"must be at least 2, got {num_classes}")
    return 1.0 - 1.0 / int(num_classes)


def to_fraction(errors: "pd.Series | np.ndarray") -> np.ndarray:
    """Errors as fractions: a column of percentages (median and max above 1) is divided by 100."""
    a = np.asarray(errors, dtype=float)
    return a / 100.0 if a.size and a.max() > 1 and np.median(a) > 1 else a


def _classes(df: "pd.DataFrame", num_classes: int | None) -> np.ndarray:
    """Classes per run: the argument, else the ``num_classes`` column, else the spec's, else 10."""
    import json

    n = len(df)
    if num_classes is not None:
        return np.full(n, float(num_classes))
    if "num_classes" in df.columns and df["num_classes"].notna().all():
        return df["num_classes"].to_numpy(float)
    if "spec" in df.columns:
        def read(s: object) -> float:
            try:
                return float(json.loads(s)["num_classes"]) if isinstance(s, str) else np.nan
            except (ValueError, KeyError, TypeError):
                return np.nan
        k = np.array([read(s) for s in df["spec"]], dtype=float)
        return np.where(np.isfinite(k), k, DEFAULT_CLASSES)
    return np.full(n, float(DEFAULT_CLASSES))


def diverged_mask(df: "pd.DataFrame", num_classes: int | None = None) -> np.ndarray:
    """True for runs whose error is at least the chance error ``1 - 1/k``; ``k`` is
    ``num_classes`` if given, else the ``num_classes`` column, else the spec's, else 10."""
    k = _classes(df, num_classes)
    if (k < 2).any():
        raise AnalysisInputError("num_classes", f"must be at least 2, found {k[k < 2][0]:g}")
    return to_fraction(df["error"]) >= 1.0 - 1.0 / k - 1e-12


def _ids(df: "pd.DataFrame") -> "pd.Series":
    import pandas as pd

    if "id" in df.columns and df["id"].notna().all():
        return df["id"].astype(str)
    return pd.Series([f"row{i}" for i in range(len(df))], index=df.index)  # no id: every row a network


def network_table(df: "pd.DataFrame", num_classes: int | None = None, where: str = "") -> "pd.DataFrame":
    """One row per network: ``id``, ``error`` (mean of its runs, a fraction), ``runs``,
    ``diverged`` (its diverged runs), ``sd`` (sd of its non-diverged runs; NaN below two) and the
    other columns of its first run (complexity, free parameters, spec, group)."""
    import pandas as pd

    check_frame(df, ("error",), min_rows=1, where=where)
    d = df.assign(error=to_fraction(df["error"]), _div=diverged_mask(df, num_classes), id=_ids(df))
    g = d.groupby("id", sort=False)
    first = g.first()
    ok_sd = d[~d["_div"]].groupby("id", sort=False)["error"].std(ddof=1)
    out = first.assign(error=g["error"].mean(), runs=g.size(), diverged=g["_div"].sum().astype(int),
                       sd=ok_sd.reindex(first.index))
    return out.drop(columns="_div").reset_index()


def run_matrix(df: "pd.DataFrame", order: "pd.Series | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """``(R, k)``: the runs' errors (fractions) of each network as rows of ``R`` (NaN-padded),
    ``k`` runs each; networks in the order of ``order`` (ids) or of first appearance."""
    d = df.assign(error=to_fraction(df["error"]), id=_ids(df))
    groups = {k: v.to_numpy(float) for k, v in d.groupby("id", sort=False)["error"]}
    ids = list(groups) if order is None else [str(i) for i in order]
    k = np.array([groups[i].size for i in ids])
    R = np.full((len(ids), int(k.max())), np.nan)
    for row, i in enumerate(ids):
        R[row, :k[row]] = groups[i]
    return R, k


def cluster_means(R: np.ndarray, k: np.ndarray, n_boot: int, rng: np.random.Generator,
                  chunk: int = 100, q: float | None = None) -> np.ndarray:
    """``n_boot`` two-stage cluster-bootstrap means of network means: resample networks with
    replacement, then each drawn network's runs with replacement, average runs, then networks.
    With ``q`` (in [0, 1]) each resample gives the ``q`` quantile of its network means instead
    of their mean (``q=0.1``: the best-decile error)."""
    if q is not None and not 0 <= q <= 1:
        raise AnalysisInputError("q", f"must be a quantile in [0, 1], got {q}")
    n, out = k.size, np.empty(n_boot)
    cols = np.arange(R.shape[1])
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        net = rng.integers(0, n, (b, n))
        kk = k[net]
        run = (rng.random((b, n, R.shape[1])) * kk[..., None]).astype(int)
        vals = R[net[..., None], run]
        use = cols[None, None, :] < kk[..., None]
        nets = np.where(use, vals, 0.0).sum(axis=2) / kk
        out[s:s + b] = nets.mean(axis=1) if q is None else np.quantile(nets, q, axis=1)
    return out
