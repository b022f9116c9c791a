"""One self-contained HTML report of a design-space analysis.

The report opens offline (plotly.js is inlined once, nothing is fetched) and holds: the
complexity convention, a plain-language summary of each pairwise comparison
(:func:`designspace.analysis.stats.compare`), EDF and complexity-normalized EDF figures with bootstrap
bands, error vs complexity, error vs each free parameter, a table of the best models with their
specs, and the RegNet fit of the best models' widths when widths are known.
"""
from __future__ import annotations

import html
import itertools
import json
from typing import TYPE_CHECKING, Any, Sequence

from .data import AnalysisInputError, check_frame, free_parameters, groups

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["build_report", "build_speed_report", "spec_summary", "speed_times"]

_CSS = """
body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
.conv{color:#555;font-size:.9em}table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}pre{white-space:pre-wrap;font-size:.8em;margin:0}
.verdict{margin:.4em 0}.figure{margin:1em 0}
"""


def human(x: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def spec_summary(spec_json: Any) -> str:
    """A one-line summary of a NetSpec JSON: per-stage block, depth, width, group width."""
    if not isinstance(spec_json, str) or not spec_json.strip():
        return ""
    try:
        d = json.loads(spec_json)
        stages = d["stages"]
        parts = [f"{s.get('block', '?')} d={s['depth']} w={s['width']}"
                 + (f" g={s['group_width']}" if s.get("group_width") else "")
                 + (f" b={s['bottleneck_ratio']:g}" if s.get("bottleneck_ratio", 1) != 1 else "")
                 + (f" se={s['se_ratio']:g}" if s.get("se_ratio") else "") for s in stages]
        return f"stem {d['stem']['width']} | " + " | ".join(parts) + f" | res {d.get('resolution', '?')}"
    except (ValueError, KeyError, TypeError):
        return "(unreadable spec)"


def _figure_html(fig: Any, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _best_table(df: "pd.DataFrame", by: str | None, complexity: str, top: int, params: Sequence[str]) -> str:
    best = df.nsmallest(top, "error")
    cols = ["#", "model"] + ([by] if by else []) + ["error", complexity] + \
        [c for c in ("params", "flops") if c in df.columns and c != complexity] + list(params) + ["spec"]
    rows = ["<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"]
    for rank, (_, r) in enumerate(best.iterrows(), 1):
        name = r.get("name") if "name" in r.index and isinstance(r.get("name"), str) else None
        ident = name or (str(r["id"]) if "id" in r.index else "")
        cells = [f"<td class=num>{rank}</td>", f"<td>{html.escape(ident)}</td>"]
        if by:
            cells.append(f"<td>{html.escape(str(r[by]))}</td>")
        cells.append(f"<td class=num>{r['error']:.4g}</td>")
        for c in [complexity] + [c for c in ("params", "flops") if c in df.columns and c != complexity]:
            cells.append(f"<td class=num>{human(float(r[c])) if r.get(c) == r.get(c) else ''}</td>")
        for p in params:
            v = r.get(p)
            cells.append(f"<td class=num>{'' if v != v or v is None else f'{v:g}'}</td>")
        spec = r.get("spec") if "spec" in r.index else None
        summ = spec_summary(spec)
        cells.append("<td>" + (f"<details><summary>{html.escape(summ)}</summary><pre>{html.escape(str(spec))}</pre></details>"
                               if summ else "") + "</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _fit_table(best: "pd.DataFrame") -> str:
    from .fit import regnet_params

    if "spec" in best.columns and "w1" not in best.columns:  # fit the models whose widths are known
        best = best[best["spec"].map(lambda s: isinstance(s, str) and bool(s.strip()))]
    if best.empty:
        return ""
    try:
        fits = regnet_params(best)
    except (AnalysisInputError, ValueError):
        return ""
    cols = ["model", "w0", "wa", "wm", "depth", "group_width", "e_fit", "linear_w0", "linear_wa", "linear_e_fit"]
    rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"]
    for i, r in fits.iterrows():
        ident = r.get("name") if isinstance(r.get("name"), str) else r.get("id", i)
        vals = [html.escape(str(ident))] + [f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols[1:]]
        rows.append("<tr>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>")
    return ("<h2>RegNet fit of the best models' widths</h2><p>Quantized linear widths "
            "w<sub>j</sub> = w0 + wa&middot;j (Radosavovic et al., CVPR 2020) fitted to each model's per-block "
            "widths; e_fit is the mean |log ratio| of fitted to actual widths (0: reproduced exactly).</p>"
            "<table>" + "".join(rows) + "</table>")


def _speed_table(df: "pd.DataFrame", times: Sequence[str], seed: int) -> str:
    """Which complexity measure predicts measured time on this device (Spearman, 95% intervals)."""
    from .speed import speed_correlations

    rows = ["<tr><th>time</th><th>measure</th><th>Spearman rho</th><th>95% interval</th><th>p</th><th>n</th></tr>"]
    for t in times:
        sub = df[df[t].notna()]
        c = speed_correlations(sub, t, n_boot=300, seed=seed)
        for _, r in c.sort_values("rho", ascending=False).iterrows():
            rows.append(f"<tr><td>{t}</td><td>{r.measure}</td><td class=num>{r.rho:.3f}</td>"
                        f"<td class=num>{r.lo:.3f} to {r.hi:.3f}</td><td class=num>{r.pvalue:.2g}</td>"
                        f"<td class=num>{int(r.n)}</td></tr>")
    return ("<h2>Measured speed</h2><p>Rank correlation of each complexity measure with the time measured on "
            "this device (designspace.measure): the measure with the highest rho predicts speed best here.</p>"
            "<table>" + "".join(rows) + "</table>")


def speed_times(df: "pd.DataFrame") -> list[str]:
    """The measured time axes of ``df`` with at least 3 values (``latency``, ``train_time``)."""
    from .speed import add_time_columns

    d = add_time_columns(df)
    return [t for t in ("latency", "train_time") if t in d.columns and d[t].notna().sum() >= 3]


def _page(title: str, body: Sequence[str]) -> str:
    import plotly.offline

    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
            f"<script type=\"text/javascript\">{plotly.offline.get_plotlyjs()}</script></head><body>"
            + "\n".join(body) + "</body></html>")


def build_speed_report(df: "pd.DataFrame", by: str | None = None, seed: int = 0, title: str | None = None,
                       sources: Sequence[str] = ()) -> str:
    """The HTML text of a report on measured speed alone (``designspace bench`` output, no error
    column): which complexity measure predicts the measured time, and time against each measure."""
    from designspace import CONVENTION

    from . import figures
    from .speed import add_time_columns

    times = speed_times(df)
    if not times:
        raise AnalysisInputError("error", "column is missing, and there is no measured speed either",
                                 "column 'error' is missing, and there is no measured speed (train_images_per_s, "
                                 "infer_latency_ms) for a speed-only report")
    df = add_time_columns(df)
    measures = [m for m in ("flops", "acts", "params") if m in df.columns]
    check_frame(df, measures, min_rows=3)
    spaces = groups(df, by)
    named = df[df["name"].notna()] if "name" in df.columns else None
    title = title or "Measured speed: " + ", ".join(spaces)
    device = ""
    if "measure_device" in df.columns and df["measure_device"].notna().any():
        device = " on " + ", ".join(sorted(map(str, df["measure_device"].dropna().unique())))
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p class=conv><b>Complexity convention:</b> {html.escape(CONVENTION)}.</p>",
            f"<p>{len(df)} measured models{html.escape(device)}; no error column, so this report is about speed "
            "only.</p>"]
    if sources:
        body.append("<p class=conv>Data: " + ", ".join(html.escape(s) for s in sources) + "</p>")
    body.append(_speed_table(df, times, seed))
    body.append("<h2>Figures</h2>")
    for t in times:
        for m in measures:
            fig = figures.time_figure(spaces, t, m, named=named)
            body.append(f"<div class=figure>{_figure_html(fig, f'fig-{t}-{m}')}</div>")
    return _page(title, body)


def build_report(df: "pd.DataFrame", by: str | None = None, complexity: str = "flops", k: float = 0.1,
                 top: int = 15, n_boot: int = 500, bins: int = 8, seed: int = 0, title: str | None = None,
                 sources: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The HTML text of a report on ``df`` grouped by column ``by`` (see :mod:`designspace.analysis.data`).

    ``notes``: sentences on whether the comparison can be trusted (:func:`designspace.analysis.trust.trust_sentences`)."""
    from designspace import CONVENTION

    from . import figures
    from .stats import compare

    from .speed import add_time_columns

    check_frame(df, ("error",))
    df = add_time_columns(df)
    spaces = groups(df, by)
    for name, g in spaces.items():
        check_frame(g, ("error", complexity), where=f"{by}={name}" if by else "")
    named = df[df["name"].notna()] if "name" in df.columns else None
    params = free_parameters(df)
    title = title or "Design space analysis: " + ", ".join(spaces)

    body: list[str] = [f"<h1>{html.escape(title)}</h1>",
                       f"<p class=conv><b>Complexity convention:</b> {html.escape(CONVENTION)}.</p>",
                       "<p>" + "; ".join(f"<b>{html.escape(n)}</b>: {len(g)} models, best error {g['error'].min():.4g}, "
                                         f"median {g['error'].median():.4g}" for n, g in spaces.items()) + ".</p>"]
    if sources:
        body.append("<p class=conv>Data: " + ", ".join(html.escape(s) for s in sources) + "</p>")
    if notes:
        body.append("<h2>Can the comparison be trusted</h2><ul class=trust>"
                    + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    names = list(spaces)
    if len(names) >= 2:
        body.append("<h2>Summary</h2>")
        for a, b in itertools.islice(itertools.combinations(names, 2), 15):
            c = compare(spaces[a], spaces[b], names=(a, b), complexity=complexity, bins=bins, n_boot=n_boot, seed=seed)
            body.append(f"<p class=verdict>{html.escape(c.verdict)}</p>")
    figs: list[tuple[str, Any]] = [("edf", figures.edf_figure(spaces, False, complexity, n_boot=n_boot, named=named, seed=seed))]
    if len(names) >= 2:
        figs.append(("edf-normalized", figures.edf_figure(spaces, True, complexity, n_boot=n_boot, bins=bins,
                                                          named=named, seed=seed)))
    figs.append(("complexity", figures.complexity_figure(spaces, complexity, named=named)))
    for p in params:
        try:
            figs.append((f"param-{p}", figures.param_figure(spaces, p, k=k, named=named)))
        except AnalysisInputError:
            continue
    times = [t for t in ("latency", "train_time") if t in df.columns and df[t].notna().sum() >= 3]
    for t in times:
        figs.append((f"pareto-{t}", figures.pareto_figure(spaces, t, named=named)))
    if times:
        body.append(_speed_table(df, times, seed))
    body.append("<h2>Figures</h2>")
    body += [f"<div class=figure>{_figure_html(f, 'fig-' + fid)}</div>" for fid, f in figs]
    body.append(f"<h2>Best {min(top, len(df))} models</h2>")
    body.append(_best_table(df, by, complexity, top, params))
    body.append(_fit_table(df.nsmallest(min(top, len(df)), "error")))
    return _page(title, body)
