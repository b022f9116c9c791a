"""Trends of the best models and the RegNet fit of their widths.

Radosavovic et al., "Designing Network Design Spaces" (CVPR 2020, Sec. 3.3) observe that the
per-block widths of good models follow a linear function ``u_j = w0 + wa * j`` for block
``j < d``, quantized piecewise-constant: with ``s_j = round(log(u_j / w0) / log(wm))`` the
block width is ``w_j = q * round(w0 * wm ** s_j / q)`` (``q = 8``), then made compatible with the
group width (the bottleneck width rounded to a multiple of the group width, as in pycls'
``adjust_ws_gs_comp`` and timm's ``adjust_widths_groups_comp``).  The rule is the one in
:mod:`designspace.rules` (timm's float32 arithmetic), which the family and the spaces use too;
the searches below use it in float64 to propose candidates, and every returned fit is checked
with the canonical rule.  A model's fit is scored by
``e_fit``, the mean absolute log-ratio between predicted and observed per-block widths.

:func:`fit_regnet` finds quantized ``(w0, wa, wm)`` (``depth = d``) that reproduce given
widths: exactly when possible (``e_fit = 0``, ``exact=True``), else by grid search minimising
``e_fit`` as the paper does.  Only the quantized widths are observed, so the continuous
parameters are **not identifiable**: many ``(w0, wa, wm)`` give the same widths, and the fit
returns one of them (the one with the widest margins), not necessarily the published one.
What is guaranteed is that the returned parameters regenerate the observed widths.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .data import AnalysisInputError, as_array, check_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "RegNetFit", "regnet_widths", "linear_fit", "fit_regnet", "block_widths", "regnet_params",
    "best_fraction", "error_trend", "best_k_line",
]


# -------------------------------------------------------------------------------- the RegNet rule
def _adjust(v: np.ndarray, group_width: int, bottleneck_ratio: float) -> np.ndarray:
    """Make widths compatible with the group width: the rule of :mod:`designspace.rules`
    (timm's ``adjust_widths_groups_comp``), on arrays of any shape; ``group_width`` 0 = dense."""
    if not group_width:
        return v
    from designspace.rules import regnet_stage_compat

    width, _, _, _ = regnet_stage_compat(np.asarray(v, dtype=np.float64), 1.0 / bottleneck_ratio, group_width)
    return np.asarray(width, dtype=np.float64)


def regnet_widths(w0: float, wa: float, wm: float, depth: int, q: int = 8, group_width: int = 0,
                  bottleneck_ratio: float = 1.0) -> list[int]:
    """Per-block widths of the RegNet rule (:func:`designspace.rules.regnet_block_widths`, timm's
    float32 arithmetic, then the group compatibility of :func:`designspace.rules.regnet_stage_compat`)."""
    from designspace.rules import regnet_block_widths

    if depth < 1 or w0 <= 0 or wa < 0 or wm <= 1 or q < 1 or int(w0) != w0 or int(w0) % q:
        raise AnalysisInputError("regnet", f"invalid parameters w0={w0}, wa={wa}, wm={wm}, depth={depth}, q={q}")
    _, w = regnet_block_widths(int(w0), float(wa), float(wm), int(depth), q)
    return [int(x) for x in _adjust(np.asarray(w, dtype=np.float64), group_width, bottleneck_ratio)]


def linear_fit(widths: Sequence[int]) -> tuple[float, float, float]:
    """Least-squares ``w_j ~ w0 + wa * j`` and its ``e_fit`` (mean |log(u_j / w_j)|).

    When the unconstrained line leaves the paper's domain (``w0 > 0``, ``wa >= 0``), ``w0`` is
    pinned to the first block's width and only the slope is fitted."""
    w = as_array(widths, "widths", min_size=1)
    j = np.arange(w.size, dtype=float)
    if w.size == 1:
        return float(w[0]), 0.0, 0.0
    wa, w0 = np.polyfit(j, w, 1)
    if w0 <= 0 or wa < 0:  # keep the paper's domain w0 > 0, wa >= 0: pin w0 to the first width
        w0 = w[0]
        wa = max(float(np.dot(j, w - w0) / np.dot(j, j)), 0.0)
    u = w0 + wa * j
    return float(w0), float(wa), float(np.mean(np.abs(np.log(u / w))))


@dataclass(frozen=True)
class RegNetFit:
    w0: int
    wa: float
    wm: float
    depth: int
    q: int
    group_width: int
    widths: list[int] = field(repr=False)  #: widths regenerated from (w0, wa, wm, depth)
    observed: list[int] = field(repr=False)
    e_fit: float  #: mean |log(regenerated / observed)| (0 when exact)
    exact: bool
    linear_w0: float  #: least-squares line through the observed widths
    linear_wa: float
    linear_e_fit: float


def _e_fit(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(np.log(pred / obs)), axis=-1)


def _exact(ws: np.ndarray, q: int, g: int, b: float) -> tuple[int, float, float] | None:
    """Quantized (w0, wa, wm) regenerating ``ws`` exactly, with the widest margins; or None."""
    change = np.r_[True, ws[1:] != ws[:-1]]
    stage_w = ws[change]
    stage_of = np.cumsum(change) - 1
    j = np.arange(1, ws.size, dtype=float)
    span = max(g, q)
    cands = np.arange(max(q, (stage_w[0] - span) // q * q), stage_w[0] + span + q, q, dtype=float)
    cands = cands[_adjust(cands, g, b) == stage_w[0]]
    if ws.size == 1:  # one block: any wm, no slope
        return (int(cands[np.argmin(np.abs(cands - ws[0]))]), 0.0, 2.0) if cands.size else None
    log_wm = np.log(np.arange(1.2, 4.0, 0.0005))
    best, best_score = None, -np.inf
    for w0 in cands:
        e = np.round(np.log(stage_w[:, None] / w0) / log_wm[None, :])  # stages x wm
        pred = _adjust(np.round(w0 * np.exp(e * log_wm[None, :]) / q) * q, g, b)
        ok = (pred == stage_w[:, None]).all(axis=0) & (e[0] == 0) & (np.diff(e, axis=0) > 0).all(axis=0)
        if not ok.any():
            continue
        ex = e[stage_of[1:]][:, ok]  # blocks 1.. x feasible wm
        lw = log_wm[ok][None, :]
        lo = np.maximum((w0 * (np.exp((ex - 0.5) * lw) - 1) / j[:, None]).max(axis=0), 0.0)
        hi = (w0 * (np.exp((ex + 0.5) * lw) - 1) / j[:, None]).min(axis=0)
        feas = hi > lo * (1 + 1e-9)
        if not feas.any():
            continue
        # margins: wm distance to the nearest infeasible grid value, wa distance to its interval's ends
        fi = np.flatnonzero(ok)[feas]
        okf = np.zeros(ok.size, bool)
        okf[fi] = True
        bad = np.r_[-1, np.flatnonzero(~okf), ok.size]
        r = np.searchsorted(bad, fi)
        wm_f = np.exp(log_wm[fi])
        d_wm = np.minimum(fi - bad[r - 1], bad[r] - fi) * 0.0005 / wm_f
        lo_f, hi_f = lo[feas], hi[feas]
        wa_mid = np.where(lo_f > 0, np.sqrt(np.maximum(lo_f, 1e-12) * hi_f), hi_f / 2)
        m_wa = np.log(hi_f / np.where(lo_f > 0, lo_f, wa_mid / 2)) / 2
        score = np.minimum(d_wm, m_wa)
        k = int(np.argmax(score))
        if score[k] > best_score:
            best_score, best = score[k], (int(w0), float(wa_mid[k]), float(wm_f[k]))
    return best


def _grid(ws: np.ndarray, q: int, g: int, b: float) -> tuple[int, float, float]:
    """Grid search for (w0, wa, wm) minimising e_fit (the paper's fitting procedure)."""
    d = ws.size
    w0s = np.unique(np.clip(np.round(np.geomspace(q, ws.max(), 48) / q) * q, q, None))
    wms = np.arange(1.5, 3.0001, 0.02)
    j = np.arange(d, dtype=float)
    best = (np.inf, int(w0s[0]), 0.0, 2.0)
    for w0 in w0s:
        was = np.r_[0.0, np.geomspace(0.5, max(ws.max(), 2 * w0), 96)]
        u = w0 + was[:, None] * j[None, :]  # wa x d
        s = np.round(np.log(u[None] / w0) / np.log(wms)[:, None, None])  # wm x wa x d
        pred = _adjust(np.round(w0 * np.power(wms[:, None, None], s) / q) * q, g, b)
        pred = np.maximum(pred, q)
        err = _e_fit(pred, ws[None, None, :])
        k = np.unravel_index(np.argmin(err), err.shape)
        if err[k] < best[0]:
            best = (float(err[k]), int(w0), float(was[k[1]]), float(wms[k[0]]))
    return best[1], best[2], best[3]


def fit_regnet(widths: Sequence[int], group_width: int = 0, bottleneck_ratio: float = 1.0, q: int = 8) -> RegNetFit:
    """Fit the quantized linear RegNet parametrization to per-block ``widths``.

    ``depth`` is the number of blocks; ``group_width`` (0 = dense) and ``bottleneck_ratio``
    (bottleneck width = width / ratio) describe the blocks, as in :class:`designspace.StageSpec`.
    Returns a :class:`RegNetFit`; see the module docstring on identifiability.
    """
    ws = as_array(widths, "widths", min_size=1)
    if (ws <= 0).any() or (ws != np.round(ws)).any():
        raise AnalysisInputError("widths", "must be positive integers")
    lw0, lwa, le = linear_fit(ws)
    found = _exact(ws, q, group_width, bottleneck_ratio)
    if found is not None:
        w0, wa, wm = found
        for nice in ((round(wa, 2), round(wm, 2)), (round(wa, 2), round(wm, 3)), (wa, wm)):
            if regnet_widths(w0, nice[0], nice[1], ws.size, q, group_width, bottleneck_ratio) == ws.astype(int).tolist():
                wa, wm = nice
                break
    else:
        w0, wa, wm = _grid(ws, q, group_width, bottleneck_ratio)
    pred = regnet_widths(w0, wa, wm, ws.size, q, group_width, bottleneck_ratio)
    e = float(_e_fit(np.asarray(pred, float), ws))
    return RegNetFit(w0, wa, wm, int(ws.size), q, group_width, pred, ws.astype(int).tolist(), e, e == 0.0, lw0, lwa, le)


def block_widths(spec: object) -> tuple[list[int], int, float]:
    """Per-block widths of a NetSpec (``[st.width] * st.depth`` per stage), its group width
    (the largest stage group width) and bottleneck ratio (the first stage's)."""
    stages = getattr(spec, "stages")
    ws = [st.width for st in stages for _ in range(st.depth)]
    return ws, max(st.group_width for st in stages), float(stages[0].bottleneck_ratio)


def _row_widths(row: "pd.Series") -> tuple[list[int], int, float]:
    import pandas as pd

    spec = row.get("spec")
    if isinstance(spec, str) and spec.strip():
        from designspace import NetSpec

        return block_widths(NetSpec.from_json(spec))
    ks = sorted(int(c[1:]) for c in row.index if len(c) == 2 and c[0] == "w" and c[1].isdigit() and pd.notna(row[c]))
    if not ks or any(f"d{k}" not in row.index for k in ks):
        raise AnalysisInputError("spec", "need a spec JSON column or per-stage w1..wN and d1..dN columns to fit widths")
    ws = [int(row[f"w{k}"]) for k in ks for _ in range(int(row[f"d{k}"]))]
    gs = [int(row[f"g{k}"]) for k in ks if f"g{k}" in row.index and pd.notna(row[f"g{k}"])]
    g = max(gs) if gs else int(row.get("group_width", 0) or 0)
    return ws, g, float(row.get("b1", row.get("bottleneck_ratio", 1.0)) or 1.0)


def regnet_params(good_models: "pd.DataFrame", q: int = 8) -> "pd.DataFrame":
    """Fit ``(w0, wa, wm, depth)`` to each model's widths; one row per model with ``e_fit``.

    Widths come from the ``spec`` column (NetSpec JSON) or from ``w1..wN``/``d1..dN`` columns.
    """
    import pandas as pd

    check_frame(good_models, required=(), min_rows=1)
    rows = []
    for i, row in good_models.iterrows():
        ws, g, b = _row_widths(row)
        f = fit_regnet(ws, g, b, q)
        rows.append({"row": i, **{k: row[k] for k in ("id", "name", "space", "error") if k in row.index},
                     "w0": f.w0, "wa": f.wa, "wm": f.wm, "depth": f.depth, "group_width": g, "e_fit": f.e_fit,
                     "exact": f.exact, "linear_w0": f.linear_w0, "linear_wa": f.linear_wa, "linear_e_fit": f.linear_e_fit})
    return pd.DataFrame(rows).set_index("row")


# ------------------------------------------------------------------------------------- trends
def best_fraction(df: "pd.DataFrame", k: float = 0.1) -> "pd.DataFrame":
    """The best ``k`` fraction of models by error (at least one), best first."""
    check_frame(df, ("error",), min_rows=1)
    if not 0 < k <= 1:
        raise AnalysisInputError("k", f"must be a fraction in (0, 1], got {k}")
    return df.nsmallest(max(1, int(math.ceil(k * len(df)))), "error")


def error_trend(df: "pd.DataFrame", param: str, k: float = 0.1, n_bins: int = 8) -> "pd.DataFrame":
    """Error vs a free parameter: per value (or quantile bin, when there are more than
    ``n_bins`` values) the number of models, the best error, the ``k``-quantile error (the
    error of the bin's best ``k`` fraction) and the median."""
    import pandas as pd

    check_frame(df, ("error", param), min_rows=2)
    x = pd.to_numeric(df[param])
    if x.nunique() <= n_bins:
        key = x
    else:
        key = pd.qcut(x, n_bins, duplicates="drop").map(lambda iv: float(iv.mid)).astype(float)
    g = df["error"].groupby(key.to_numpy(), sort=True)
    out = pd.DataFrame({"n": g.size(), "best": g.min(), "best_k": g.quantile(k), "median": g.median()})
    out.index.name = param
    return out.reset_index()


def best_k_line(df: "pd.DataFrame", param: str, k: float = 0.1) -> tuple[float, float] | None:
    """Least-squares line ``error ~ a + b * param`` through the best ``k`` fraction of models
    (RegNet paper, Figs. 7-11 style trends); None if those models share one value."""
    best = best_fraction(check_frame(df, ("error", param)), k)
    x = best[param].to_numpy(float)
    if best.shape[0] < 2 or np.ptp(x) == 0:
        return None
    b, a = np.polyfit(x, best["error"].to_numpy(float), 1)
    return float(a), float(b)
