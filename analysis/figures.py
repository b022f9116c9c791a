"""Plotly figures of design-space analyses (NDS / RegNet papers' plots).

* :func:`edf_figure` -- error EDFs of several spaces with simultaneous bootstrap bands (the
  whole curve lies inside with 95% probability), raw or complexity-normalized over the
  complexity range every space covers (NDS Figs. 5-6), named models as vertical markers;
* :func:`complexity_figure` -- error vs complexity, every model, with the binned best and
  median error of each space (NDS Fig. 3) and named models as labelled stars;
* :func:`param_figure` -- error vs one free parameter with the best-``k`` trend and its interval,
  and the empirical-bootstrap range of the best networks as a band (RegNet paper, Sec. 3).

Errors are drawn in percent, on axes clipped to the data (``log_error`` for a log axis).  Bands,
best-``k`` lines and best ranges are drawn only for groups of at least
:data:`designspace.analysis.trends.MIN_NETWORKS` networks.  Every figure carries the complexity
convention (``designspace.CONVENTION``) in a footnote.  Inputs are DataFrames as documented in
:mod:`designspace.analysis.data`; pass network tables (:func:`designspace.analysis.network.network_table`)
so that every point is a network.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .data import AnalysisInputError, check_frame
from .edf import DEFAULT_BINS, complexity_bins, edf_band, normalized_edf_band, overlap_bins, weighted_histogram
from .network import to_fraction
from .trends import MIN_NETWORKS, best_k_band, best_range, binned_trend

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["edf_figure", "complexity_figure", "param_figure", "complexity_label", "common_reference", "pareto_figure"]

_TEMPLATE = "plotly_white"



#: above this many points a marker scatter is drawn with WebGL (plotly's scattergl): SVG
#: scatters of 10,000+ points make a browser crawl
WEBGL_ABOVE = 2000


def _scatter(n: int) -> Any:
    import plotly.graph_objects as go

    return go.Scattergl if n > WEBGL_ABOVE else go.Scatter

def _colors() -> list[str]:
    import plotly.express as px

    return list(px.colors.qualitative.Plotly)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def complexity_label(complexity: str) -> str:
    return {"flops": "flops (multiply-adds)", "params": "parameters", "acts": "activations",
            "latency": "measured inference latency (ms)", "train_time": "measured training time per image (s)"
            }.get(complexity, complexity)


def time_label(time: str) -> str:
    """Axis label of a measured time axis (``latency``, ``train_time``)."""
    return {"latency": "inference latency, batch 1 (ms)", "train_time": "training time per image (s)"}.get(time, time)


def _pct(errors: Any) -> np.ndarray:
    return 100 * to_fraction(np.asarray(errors, dtype=float))


def _clip_error(fig: "go.Figure", errors: np.ndarray, axis: str = "y", log: bool = False) -> None:
    """Clip the error axis to the data (percent), a little padding; a log axis if asked."""
    lo, hi = float(np.min(errors)), float(np.max(errors))
    upd = fig.update_yaxes if axis == "y" else fig.update_xaxes
    if log:
        lo = max(lo, 1e-3)
        upd(type="log", range=[np.log10(lo) - 0.02, np.log10(max(hi, lo * 1.01)) + 0.02])
    else:
        pad = 0.03 * (hi - lo) or 0.5
        upd(range=[lo - pad, hi + pad])


def _finish(fig: "go.Figure", title: str, xtitle: str, ytitle: str) -> "go.Figure":
    from designspace import CONVENTION

    fig.update_layout(
        template=_TEMPLATE, xaxis_title=xtitle, yaxis_title=ytitle, height=480,
        title=dict(text=title, subtitle=dict(text=f"complexity convention: {CONVENTION}", font=dict(size=11, color="#666"))),
        margin=dict(l=60, r=20, t=80, b=60), legend=dict(orientation="h", yanchor="top", y=-0.15, x=0),
    )
    return fig


def _named(df: "pd.DataFrame | None") -> "pd.DataFrame | None":
    if df is None or "name" not in df.columns:
        return None
    named = df[df["name"].notna()]
    return named if len(named) else None


def common_reference(spaces: Mapping[str, "pd.DataFrame"], complexity: str = "flops",
                     bins: int = DEFAULT_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges over the complexity range every space covers and a reference sample (one value per bin that every space
    occupies): normalizing each space to it gives every space the same, uniform-over-shared-bins
    complexity histogram (see :func:`designspace.analysis.edf.matched_weights`)."""
    cs = [g[complexity].to_numpy(float) for g in spaces.values()]
    edges = overlap_bins(*cs, bins=bins, column=complexity)
    shared = np.logical_and.reduce([weighted_histogram(c, None, edges) > 0 for c in cs])
    if not shared.any():
        raise AnalysisInputError(complexity, "the spaces' complexity ranges share no bin; normalized EDFs are undefined")
    centers = np.sqrt(edges[:-1] * edges[1:])
    return edges, centers[shared]


def edf_figure(spaces: Mapping[str, "pd.DataFrame"], normalized: bool = False, complexity: str = "flops",
               bands: bool = True, n_boot: int = 500, level: float = 0.95, bins: int = DEFAULT_BINS,
               named: "pd.DataFrame | None" = None, seed: int = 0, kind: str = "simultaneous",
               log_error: bool = False) -> "go.Figure":
    """Error EDFs (percent), one curve per space, with bootstrap bands of ``kind``
    (simultaneous by default) for spaces of at least ``MIN_NETWORKS`` rows."""
    import plotly.graph_objects as go

    if not spaces:
        raise AnalysisInputError("spaces", "nothing to plot (no groups)")
    req = ("error", complexity) if normalized else ("error",)
    for name, g in spaces.items():
        check_frame(g, req, where=name)
    if normalized:
        edges, ref = common_reference(spaces, complexity, bins)
    allerr = np.concatenate([_pct(g["error"]) for g in spaces.values()])
    fig = go.Figure()
    drew_band = False
    for (name, g), color in zip(spaces.items(), _colors() * 10):
        err = _pct(g["error"])
        grid = np.unique(np.r_[err, allerr.min(), allerr.max()])
        if normalized:
            band = normalized_edf_band(err, g[complexity].to_numpy(float), ref, grid=grid, bins=edges,
                                       n_boot=n_boot, level=level, seed=seed, kind=kind)
        else:
            band = edf_band(err, grid=grid, n_boot=n_boot, level=level, seed=seed, kind=kind)
        if bands and len(g) >= MIN_NETWORKS:
            drew_band = True
            fig.add_trace(go.Scatter(x=band.grid, y=band.hi, mode="lines", line=dict(width=0, shape="hv"),
                                     hoverinfo="skip", showlegend=False, legendgroup=name))
            fig.add_trace(go.Scatter(x=band.grid, y=band.lo, mode="lines", line=dict(width=0, shape="hv"),
                                     fill="tonexty", fillcolor=_rgba(color, 0.18), hoverinfo="skip",
                                     name=f"{name} {int(level * 100)}% {kind} band", showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=band.grid, y=band.F, mode="lines", line=dict(color=color, width=2, shape="hv"),
                                 name=f"{name} (n={len(g)} networks)", legendgroup=name,
                                 hovertemplate="error %{x:.4g}%<br>F %{y:.3f}<extra>" + name + "</extra>"))
    nm = _named(named)
    if nm is not None:
        for _, row in nm.iterrows():
            fig.add_vline(x=float(_pct([row["error"]])[0]), line=dict(color="#444", dash="dot", width=1),
                          annotation_text=str(row["name"]), annotation_textangle=-90, annotation_font_size=10)
    _clip_error(fig, allerr, "x", log_error)
    what = f"{complexity}-normalized error EDF (shared {complexity} range)" if normalized else "error EDF"
    bands_text = (f"{int(level * 100)}% {kind} bootstrap bands" if drew_band
                  else f"no bands: fewer than {MIN_NETWORKS} networks" if bands else "no bands")
    return _finish(fig, f"{what} of network means ({bands_text})", "error (%)", "cumulative prob. F(error)")


def complexity_figure(spaces: Mapping[str, "pd.DataFrame"], complexity: str = "flops", n_bins: int = 8,
                      named: "pd.DataFrame | None" = None, log_error: bool = False) -> "go.Figure":
    """Error (percent) vs complexity: each network a dot; per space the best and median error of
    log-spaced complexity bins as lines; named models as labelled stars."""
    import plotly.graph_objects as go

    for name, g in spaces.items():
        check_frame(g, ("error", complexity), min_rows=1, where=name)
    edges = complexity_bins(*[g[complexity].to_numpy(float) for g in spaces.values()], bins=n_bins)
    centers = np.sqrt(edges[:-1] * edges[1:])
    fig = go.Figure()
    for (name, g), color in zip(spaces.items(), _colors() * 10):
        c, e = g[complexity].to_numpy(float), _pct(g["error"])
        hover = g["id"].astype(str) if "id" in g.columns else None
        fig.add_trace(_scatter(len(c))(x=c, y=e, mode="markers", marker=dict(color=_rgba(color, 0.45), size=6),
                                 name=name, legendgroup=name, text=hover,
                                 hovertemplate="%{x:.3s} " + complexity + "<br>error %{y:.4g}%<br>%{text}<extra>" + name + "</extra>"))
        k = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, n_bins - 1)
        xs, best, med = [], [], []
        for b in range(n_bins):
            if (k == b).any():
                xs.append(centers[b]), best.append(e[k == b].min()), med.append(np.median(e[k == b]))
        fig.add_trace(go.Scatter(x=xs, y=best, mode="lines+markers", line=dict(color=color, width=2),
                                 name=f"{name} best", legendgroup=name))
        fig.add_trace(go.Scatter(x=xs, y=med, mode="lines", line=dict(color=color, width=2, dash="dash"),
                                 name=f"{name} median", legendgroup=name))
    nm = _named(named)
    if nm is not None and complexity in nm.columns:
        fig.add_trace(go.Scatter(x=nm[complexity], y=_pct(nm["error"]), mode="markers+text", text=nm["name"].astype(str),
                                 textposition="top center", marker=dict(symbol="star", size=13, color="#222"),
                                 name="named models"))
    fig.update_xaxes(type="log")
    _clip_error(fig, np.concatenate([_pct(g["error"]) for g in spaces.values()]), "y", log_error)
    return _finish(fig, f"error vs {complexity}: networks, binned best (solid) and median (dashed)",
                   complexity_label(complexity), "error (%)")


def _param_trend(fig: "go.Figure", g: "pd.DataFrame", param: str, k: float, name: str, color: str, seed: int) -> None:
    """Binned best-k error with intervals, the best-k line with its band, the best range."""
    import plotly.graph_objects as go

    tr = binned_trend(g, param, k=k, seed=seed)
    fig.add_trace(go.Scatter(x=tr[param], y=tr["best_k"], mode="lines+markers", line=dict(color=color, width=2),
                             error_y=dict(type="data", symmetric=False, array=tr["hi"] - tr["best_k"],
                                          arrayminus=tr["best_k"] - tr["lo"], thickness=1),
                             name=f"{name} best {k:.0%} per bin (95% CI)", legendgroup=name))
    band = best_k_band(g, param, k=k, seed=seed)
    if band is not None:
        fig.add_trace(go.Scatter(x=band[param], y=band["hi"], mode="lines", line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=band[param], y=band["lo"], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=_rgba(color, 0.12), hoverinfo="skip", showlegend=False, legendgroup=name))
        fig.add_trace(go.Scatter(x=band[param], y=band["fit"], mode="lines", line=dict(color=color, dash="dot", width=1.5),
                                 name=f"{name} trend of best {k:.0%} (95% band)", legendgroup=name))
    lo, hi = best_range(g[param], g["error"], seed=seed)
    fig.add_vrect(x0=lo, x1=hi, fillcolor=_rgba(color, 0.10), line_width=0, layer="below",
                  annotation_text=f"{name}: best networks lie here (95%)", annotation_font_size=10,
                  annotation_position="top left")


def param_figure(spaces: Mapping[str, "pd.DataFrame"], param: str, k: float = 0.1,
                 named: "pd.DataFrame | None" = None, log_error: bool = False, seed: int = 0) -> "go.Figure":
    """Error (percent) vs a free parameter: every network; for spaces of at least
    ``MIN_NETWORKS`` networks the binned best-``k`` error with intervals, a least-squares trend
    through the best ``k`` fraction with its band, and the empirical-bootstrap best range."""
    import plotly.graph_objects as go

    fig = go.Figure()
    drawn, errs = 0, []
    for (name, g), color in zip(spaces.items(), _colors() * 10):
        if param not in g.columns or g[param].notna().sum() < 2:
            continue
        g = g[g[param].notna()]
        check_frame(g, ("error", param), where=name)
        drawn += 1
        errs.append(_pct(g["error"]))
        fig.add_trace(_scatter(len(g))(x=g[param], y=errs[-1], mode="markers", marker=dict(color=_rgba(color, 0.4), size=6),
                                 name=f"{name} (n={len(g)} networks)", legendgroup=name))
        if len(g) >= MIN_NETWORKS:
            _param_trend(fig, g, param, k, name, color, seed)
    if not drawn:
        raise AnalysisInputError(param, "no space has at least two models with this parameter")
    nm = _named(named)
    if nm is not None and param in nm.columns and nm[param].notna().any():
        nm = nm[nm[param].notna()]
        fig.add_trace(go.Scatter(x=nm[param], y=_pct(nm["error"]), mode="markers+text", text=nm["name"].astype(str),
                                 textposition="top center", marker=dict(symbol="star", size=13, color="#222"),
                                 name="named models"))
    _clip_error(fig, np.concatenate(errs), "y", log_error)
    return _finish(fig, f"error vs {param} (best {k:.0%} per bin and its linear trend with 95% intervals; shaded: "
                   "where the best networks lie, empirical bootstrap)", param, "error (%)")


def pareto_figure(spaces: Mapping[str, "pd.DataFrame"], time: str = "latency",
                  named: "pd.DataFrame | None" = None) -> "go.Figure":
    """Error vs measured time, every model (WebGL), with each space's (error, time) Pareto front."""
    import plotly.graph_objects as go

    from .speed import add_time_columns, pareto_front

    fig = go.Figure()
    for (name, df), color in zip(spaces.items(), _colors() * 10):
        d = add_time_columns(df)
        fig.add_trace(go.Scattergl(x=d[time], y=_pct(d["error"]), mode="markers", name=name,
                                   marker=dict(color=color, size=5, opacity=0.5)))
        front = pareto_front(d, time)
        fig.add_trace(go.Scatter(x=front[time], y=_pct(front["error"]), mode="lines+markers", name=f"{name} Pareto front",
                                 line=dict(color=color, shape="hv"), marker=dict(size=7)))
    nd = _named(named)
    if nd is not None and time in add_time_columns(nd).columns:
        nd = add_time_columns(nd)
        fig.add_trace(go.Scatter(x=nd[time], y=_pct(nd["error"]), mode="markers+text", text=nd["name"], name="named models",
                                 textposition="top center", marker=dict(symbol="star", size=12, color="black")))
    label = time_label(time)
    fig.update_xaxes(type="log")
    return _finish(fig, f"Error vs measured {label}", label, "error (%)")


def time_figure(spaces: Mapping[str, "pd.DataFrame"], time: str = "train_time", complexity: str = "flops",
                named: "pd.DataFrame | None" = None) -> "go.Figure":
    """Measured time vs a complexity measure (log-log), every model, named models as stars: how
    well the count predicts the time on this device (no error needed)."""
    import plotly.graph_objects as go

    from .speed import add_time_columns

    fig = go.Figure()
    for (name, df), color in zip(spaces.items(), _colors() * 10):
        d = add_time_columns(df)
        fig.add_trace(go.Scattergl(x=d[complexity], y=d[time], mode="markers", name=name,
                                   marker=dict(color=color, size=5, opacity=0.6)))
    nd = _named(named)
    if nd is not None:
        nd = add_time_columns(nd)
        if time in nd.columns:
            fig.add_trace(go.Scatter(x=nd[complexity], y=nd[time], mode="markers+text", text=nd["name"],
                                     name="named models", textposition="top center",
                                     marker=dict(symbol="star", size=12, color="black")))
    label = time_label(time)
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return _finish(fig, f"Measured {label} vs {complexity_label(complexity)}", complexity_label(complexity), label)
