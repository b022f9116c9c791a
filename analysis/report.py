"""One self-contained HTML report of a design-space analysis.

The report opens offline (plotly.js is inlined once, nothing is fetched) and holds: the
complexity convention, networks and runs per group with the validation set's error step and
warnings (small groups, diverged runs, stored parameters that do not match the spec), the
comparisons with their verdicts (:func:`designspace.analysis.summarize`, :mod:`.report_tables`),
where the best networks lie and the joint importance of each parameter, EDF and
complexity-normalized EDF figures with simultaneous bootstrap bands, error vs complexity, error
vs each free parameter, a table of the best networks with their specs, and the RegNet fit of the
best networks' widths when widths are known.  The network is the unit throughout: each network's
seed repeats are averaged, errors are in percent.
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
.verdict{margin:.4em 0}.figure{margin:1em 0}.warn{color:#8a4b00;background:#fff6e0;padding:4px 8px}
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
    cols = ["#", "network"] + ([by] if by else []) + ["error (%)", "runs", complexity] + \
        [c for c in ("params", "flops") if c in df.columns and c != complexity] + list(params) + ["spec"]
    rows = ["<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"]
    for rank, (_, r) in enumerate(best.iterrows(), 1):
        name = r.get("name") if "name" in r.index and isinstance(r.get("name"), str) else None
        ident = name or (str(r["id"]) if "id" in r.index else "")
        cells = [f"<td class=num>{rank}</td>", f"<td>{html.escape(ident)}</td>"]
        if by:
            cells.append(f"<td>{html.escape(str(r[by]))}</td>")
        cells.append(f"<td class=num>{100 * r['error']:.2f}</td>")
        cells.append(f"<td class=num>{int(r['runs']) if 'runs' in r.index and r['runs'] == r['runs'] else 1}</td>")
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
    """Which complexity measure predicts measured time on this device (Spearman, 95% intervals,
    p raw and Holm-adjusted over every correlation of the table)."""
    from .multiplicity import holm
    from .speed import speed_correlations

    found = []
    for t in times:
        c = speed_correlations(df[df[t].notna()], t, n_boot=300, seed=seed)
        found += [(t, r) for _, r in c.sort_values("rho", ascending=False).iterrows()]
    adj = holm([r.pvalue for _, r in found])
    rows = ["<tr><th>time</th><th>measure</th><th>Spearman rho</th><th>95% interval</th><th>p</th><th>p Holm</th>"
            "<th>n</th></tr>"]
    for (t, r), ph in zip(found, adj):
        rows.append(f"<tr><td>{t}</td><td>{r.measure}</td><td class=num>{r.rho:.3f}</td>"
                    f"<td class=num>{r.lo:.3f} to {r.hi:.3f}</td><td class=num>{r.pvalue:.2g}</td>"
                    f"<td class=num>{ph:.2g}</td><td class=num>{int(r.n)}</td></tr>")
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


def _default_title(names: Sequence[str], sources: Sequence[str]) -> str:
    import os

    shown = [n for n in names if n != "all"] or [os.path.splitext(os.path.basename(s))[0] for s in sources] or ["all"]
    return "Design space analysis: " + ", ".join(shown)


def _figures(tables: "dict[str, pd.DataFrame]", named: Any, params: Sequence[str], complexity: str, k: float,
             n_boot: int, bins: int, seed: int, log_error: bool) -> list[tuple[str, Any]]:
    from . import figures

    figs: list[tuple[str, Any]] = [("edf", figures.edf_figure(tables, False, complexity, n_boot=n_boot, named=named,
                                                               seed=seed, log_error=log_error))]
    if len(tables) >= 2:
        try:
            figs.append(("edf-normalized", figures.edf_figure(tables, True, complexity, n_boot=n_boot, bins=bins,
                                                              named=named, seed=seed, log_error=log_error)))
        except AnalysisInputError as e:  # no overlap of the complexity ranges: say so, draw nothing
            figs.append(("edf-normalized", f"<p class=warn>{html.escape(str(e))}</p>"))
    figs.append(("complexity", figures.complexity_figure(tables, complexity, named=named, log_error=log_error)))
    for p in params:
        try:
            figs.append((f"param-{p}", figures.param_figure(tables, p, k=k, named=named, log_error=log_error, seed=seed)))
        except AnalysisInputError:
            continue
    return figs


def build_report(df: "pd.DataFrame", by: str | None = None, complexity: str = "flops", k: float = 0.1,
                 top: int = 15, n_boot: int = 500, bins: int = 8, seed: int = 0, title: str | None = None,
                 sources: Sequence[str] = (), notes: Sequence[str] = (), margin: float = 0.5, alpha: float = 0.05,
                 num_classes: int | None = None, log_error: bool = False, summary: dict[str, Any] | None = None,
                 gs: Any = None) -> str:
    """The HTML text of a report on the runs in ``df`` grouped by column ``by`` (see
    :mod:`designspace.analysis.data`; rows sharing ``id`` are one network).

    ``notes``: sentences on whether the comparison can be trusted (:func:`designspace.analysis.trust.trust_sentences`);
    ``summary``/``gs``: :func:`designspace.analysis.summarize` and its network groups, if already computed."""
    import pandas as pd
    from designspace import CONVENTION

    from . import figures
    from .consistency import values_from_spec
    from .report_tables import comparison_section, data_notes, trends_section
    from .speed import add_time_columns
    from .summary import network_groups, summarize

    check_frame(df, ("error",))
    df = add_time_columns(df)
    for name, g in groups(df, by).items():
        check_frame(g, ("error", complexity), where=f"{by}={name}" if by else "")
    gs = gs or network_groups(df, by, num_classes, n_boot, seed)
    summary = summary or summarize(df, by, margin, alpha, n_boot, seed, num_classes, network_groups_=gs)
    cleaned = {n: values_from_spec(g.table) for n, g in gs.items()}
    tables = {n: t for n, (t, _) in cleaned.items()}
    named = df[df["name"].notna()] if "name" in df.columns else None
    params = free_parameters(pd.concat(tables.values(), ignore_index=True))
    title = title or _default_title(list(gs), sources)

    body: list[str] = [f"<h1>{html.escape(title)}</h1>",
                       f"<p class=conv><b>Complexity convention:</b> {html.escape(CONVENTION)}.</p>"]
    body += data_notes(gs, df, {n: bad for n, (_, bad) in cleaned.items()})
    if sources:
        body.append("<p class=conv>Data: " + ", ".join(html.escape(s) for s in sources) + "</p>")
    if notes:
        body.append("<h2>Can the comparison be trusted</h2><ul class=trust>"
                    + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    body.append(comparison_section(summary, gs, alpha))
    body.append(trends_section(summary, gs, n_boot, seed))
    figs = _figures(tables, named, params, complexity, k, n_boot, bins, seed, log_error)
    times = [t for t in ("latency", "train_time") if t in df.columns and df[t].notna().sum() >= 3]
    for t in times:
        figs.append((f"pareto-{t}", figures.pareto_figure(tables, t, named=named)))  # one point per network
    if times:
        body.append(_speed_table(df, times, seed))
    body.append("<h2>Figures</h2>")
    body += [f"<div class=figure>{f if isinstance(f, str) else _figure_html(f, 'fig-' + fid)}</div>" for fid, f in figs]
    nets = pd.concat([t.assign(**({by: n} if by else {})) for n, t in tables.items()], ignore_index=True)
    if named is not None and len(named):
        nets = pd.concat([nets, named.assign(error=named["error"].map(lambda e: e / 100 if e > 1 else e))], ignore_index=True)
    body.append(f"<h2>Best {min(top, len(nets))} networks</h2>")
    body.append(_best_table(nets, by, complexity, top, params))
    body.append(_fit_table(nets.nsmallest(min(top, len(nets)), "error")))
    return _page(title, body)
