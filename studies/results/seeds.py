"""Seed-level helpers of the scaling studies: detectable differences, matched and pooled differences, seed runs."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from .common import export, retrains


def min_detectable(sd: float, n: int) -> float:
    """The smallest difference of two means over ``n`` seeds each (seed sd ``sd``) that a two-sided
    Welch test at alpha 0.05 detects with 80% power (scipy's noncentral t)."""
    import numpy as np
    from scipy import stats as sps
    from scipy.optimize import brentq

    df_ = 2 * n - 2
    tcrit = sps.t.ppf(0.975, df_)

    def power(d: float) -> float:
        nc = d / sd * np.sqrt(n / 2)
        return 1 - sps.nct.cdf(tcrit, df_, nc) + sps.nct.cdf(-tcrit, df_, nc)

    return brentq(lambda d: power(d) - 0.8, 1e-6 * sd, 10 * sd)


def matched_diff(points: "pd.DataFrame", curve: "pd.DataFrame", rng, n_boot: int = 2000):
    """Mean over the networks of ``points`` (inside ``curve``'s flops range) of the curve's seed-mean
    error, interpolated linearly in log2(flops), minus the network's own seed-mean error; with a 95%
    bootstrap interval (seeds resampled within every network of both). None when none overlap.
    Returns (networks matched, lowest and highest flops matched, difference, low, high)."""
    import numpy as np

    cg = sorted(((float(g["flops"].iloc[0]), g["error"].to_numpy(float)) for _, g in curve.groupby("phi")),
                key=lambda t: t[0])
    cx = np.log2([f for f, _ in cg])
    pg = [(float(g["flops"].iloc[0]), g["error"].to_numpy(float)) for _, g in points.groupby("phi")]
    pg = [(f, e) for f, e in pg if cx[0] <= np.log2(f) <= cx[-1]]
    if not pg:
        return None
    px = np.log2([f for f, _ in pg])

    def diff(cy, py):
        return float(np.mean(np.interp(px, cx, cy) - py))

    d = diff([e.mean() for _, e in cg], [e.mean() for _, e in pg])
    boots = [diff([rng.choice(e, e.size).mean() for _, e in cg], [rng.choice(e, e.size).mean() for _, e in pg])
             for _ in range(n_boot)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return len(pg), min(f for f, _ in pg), max(f for f, _ in pg), d, lo, hi


def pooled_diff(a: "pd.DataFrame", b: "pd.DataFrame", rng, n_boot: int = 2000) -> tuple[float, float, float]:
    """Mean over phi of a's per-phi mean error minus b's, and its 95% bootstrap interval (runs
    resampled within each network)."""
    import numpy as np

    boots = []
    for _ in range(n_boot):
        da = [rng.choice(g["error"].to_numpy(float), len(g)).mean() for _, g in a.groupby("phi")]
        db = [rng.choice(g["error"].to_numpy(float), len(g)).mean() for _, g in b.groupby("phi")]
        boots.append(np.mean(da) - np.mean(db))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return a.groupby("phi")["error"].mean().mean() - b.groupby("phi")["error"].mean().mean(), lo, hi


def seed_runs(spec: Path, label: str) -> tuple["pd.DataFrame", "pd.DataFrame", "pd.DataFrame"]:
    """(export, analysis frame, every run of every sampled network: its first run and its repeats,
    with the network's scaling, phi and flops)."""
    import pandas as pd

    raw, df = export(spec, label)
    ex = retrains(raw, label)
    ex = ex[ex["role"] == "repeat"].assign(of=lambda d: d["of"].astype(int))
    base = df[df["name"].isna()][["number", "scaling", "phi", "flops", "error"]]
    runs = pd.concat([base.rename(columns={"number": "of"}),
                      ex[["of", "error"]].merge(base.drop(columns="error").rename(columns={"number": "of"}), on="of")])
    runs["phi"], runs["error"], runs["flops"] = (runs[c].astype(float) for c in ("phi", "error", "flops"))
    return raw, df, runs.reset_index(drop=True)
