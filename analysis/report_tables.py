"""The statistical sections of the HTML report: data and hygiene notes, the comparisons with
their verdicts, and where the best networks lie with the joint importance of each parameter.

Everything here reads the result of :func:`designspace.analysis.summarize` and the network
groups behind it (:func:`designspace.analysis.summary.network_groups`); every table says how
many networks and runs it used.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .data import AnalysisInputError, free_parameters

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .summary import Group

__all__ = ["error_step", "data_notes", "comparison_section", "trends_section"]


def error_step(errors: Sequence[float] | np.ndarray) -> float | None:
    """The step between distinct run errors (fractions), e.g. 1e-4 for a 10,000-image
    validation set: the largest ``s`` (at least 1e-6) of which every gap is a whole multiple;
    None when the errors sit on no such grid (fewer than 5 gaps, or none found)."""
    e = np.unique(np.round(np.asarray(errors, float), 9))
    d = np.diff(e)
    d = d[d > 1e-9]
    if d.size < 5:
        return None
    for m in range(1, 2001):
        s = d.min() / m
        if s < 1e-6:
            break
        if np.all(np.abs(d / s - np.round(d / s)) < 0.01):
            return float(s)
    return None


def _step_note(runs: "pd.DataFrame") -> str:
    from .network import to_fraction

    if "val_size" in runs.columns and runs["val_size"].notna().any():
        n = int(runs["val_size"].dropna().iloc[0])
        return f"Validation set: {n:,} images, so errors move in steps of {100 / n:.3g} points."
    step = error_step(to_fraction(runs["error"]))
    if step is None:
        return "The validation set's size is not recorded and the errors sit on no common step."
    return (f"Errors move in steps of {100 * step:.3g} points: a validation set of about {round(1 / step):,} "
            "images; differences below a few steps cannot be resolved.")


def data_notes(gs: "dict[str, Group]", runs: "pd.DataFrame", mismatched: dict[str, dict[str, int]]) -> list[str]:
    """HTML paragraphs: networks and runs per group, the error step, warnings (small groups,
    diverged runs, stored parameters that do not match the spec)."""
    from .trends import MIN_NETWORKS

    out = ["<p>" + "; ".join(
        f"<b>{html.escape(n)}</b>: {len(g.table)} networks, {int(g.k.sum())} runs ({int(g.table['diverged'].sum())} "
        f"diverged), best network {g.means.min():.2f}%, "
        f"median {np.median(g.means):.2f}%" for n, g in gs.items()) + " (errors in percent, each network's runs "
        "averaged: the network is the unit of every statistic below).</p>", f"<p class=conv>{_step_note(runs)}</p>"]
    for n, g in gs.items():
        if len(g.table) < MIN_NETWORKS:
            out.append(f"<p class=warn>Warning: {html.escape(n)} has only {len(g.table)} networks (fewer than "
                       f"{MIN_NETWORKS}): its EDF has no bands, its trends no best-k lines or best ranges, and its "
                       "comparisons have little power.</p>")
        div = g.table[g.table["diverged"] > 0]
        if len(div):
            ids = ", ".join(html.escape(str(i)) for i in div["id"][:10]) + (", ..." if len(div) > 10 else "")
            out.append(f"<p class=warn>{html.escape(n)}: {int(div['diverged'].sum())} diverged run(s) (error at "
                       f"chance or worse) in networks {ids}; kept in the EDFs and comparisons, left out of the seed "
                       "noise.</p>")
    for n, bad in mismatched.items():
        if bad:
            what = ", ".join(f"{c} in {k} network(s)" for c, k in bad.items())
            out.append(f"<p class=warn>{html.escape(n)}: stored parameters differ from the built network's spec "
                       f"({what}): a space's compatibility rounding (AnyNetX widths to their group width) or "
                       "raw draws stored by an old version; plots and trends use the spec's values, what was "
                       "built.</p>")
    return out


def _ks_d(d: float | None) -> str:
    return "none" if d is None else f"{d:.2f}"


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def comparison_section(summary: dict[str, Any], gs: "dict[str, Group]", alpha: float) -> str:
    """One row and one sentence per comparison (KS on network means, named baselines excluded)."""
    from .verdict import verdict_sentence

    comps = summary["comparisons"]
    if not comps:
        return ""
    m = len(comps)
    head = ["A", "B", "networks (runs)", "KS D", "p", "p Holm", "Mann-Whitney p", "p Holm",
            "mean B - A (points, 95% CI)", "TOST p", "detectable D / mean", "verdict"]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for c in comps:
        a, b = c["a"], c["b"]
        lo, hi = c["mean_diff"]["ci"]
        cells = [html.escape(a), html.escape(b),
                 f"{c['n_a']} ({int(gs[a].k.sum())}) / {c['n_b']} ({int(gs[b].k.sum())})",
                 f"{c['ks']['d']:.3f}", _p(c["ks"]["p"]), _p(c["ks"]["p_holm"]), _p(c["mannwhitney"]["p"]),
                 _p(c["mannwhitney"]["p_holm"]), f"{c['mean_diff']['estimate']:+.2f} [{lo:+.2f}, {hi:+.2f}]",
                 _p(c["tost"]["p"]), f"{_ks_d(c['mde']['ks_d'])} / {c['mde']['mean_diff']:.2f}", f"<b>{c['verdict']}</b>"]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    sentences = "".join(f"<p class=verdict>{html.escape(verdict_sentence(c, m))}</p>" for c in comps)
    return ("<h2>Comparisons</h2><p class=conv>One KS test per comparison, on network means (named baselines "
            f"excluded); p-values raw and Holm-adjusted over the {m} comparison(s); verdicts: <b>different</b> "
            f"(Holm-adjusted KS p &lt; {alpha:g}), <b>equivalent</b> (not different, and TOST within "
            f"&plusmn;{comps[0]['tost']['margin']:g} points p &lt; {alpha:g}), else <b>inconclusive</b>. Detectable "
            "sizes: 80% power at alpha 0.05 for these numbers of networks.</p><table>" + "".join(rows) + "</table>"
            + sentences)


def trends_section(summary: dict[str, Any], gs: "dict[str, Group]", n_boot: int, seed: int) -> str:
    """Per group and parameter: the best range, the joint (multivariable) effect with its
    interval and Holm-adjusted p, and the one-at-a-time slope next to it."""
    from .consistency import values_from_spec
    from .trends import importance

    parts = []
    for name, g in gs.items():
        tr = summary["trends"].get(name, {})
        if not tr:
            continue
        try:
            imp = importance(values_from_spec(g.table)[0], free_parameters(g.table), n_boot=min(n_boot, 500),
                             seed=seed).set_index("param")
        except AnalysisInputError as e:
            imp, why = None, str(e)
        head = ["parameter", "best networks lie in (95%)", "joint effect (points per sd, 95% CI)", "p", "p Holm",
                "alone (points per sd)", "p", "p Holm"]
        rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
        for p, t in tr.items():
            br = "-" if t["best_range"] is None else f"{t['best_range'][0]:.4g} to {t['best_range'][1]:.4g}"
            cells = [html.escape(p), br]
            if imp is not None and p in imp.index:
                r = imp.loc[p]
                cells += [f"{r.joint:+.2f} [{r.lo:+.2f}, {r.hi:+.2f}]", _p(r.p), _p(r.p_holm), f"{r.alone:+.2f}",
                          _p(r.alone_p), _p(r.alone_p_holm)]
            else:
                cells += ["-"] * 6
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        note = (f"joint least-squares fit of network-mean error on all {len(imp)} standardized parameters, "
                f"{int(imp['networks'].iloc[0])} networks ({int(g.k.sum())} runs averaged per network)"
                if imp is not None else html.escape(why))
        parts.append(f"<h3>{html.escape(name)}</h3><p class=conv>{note}; best range: the RegNet paper's empirical "
                     "bootstrap (25% of networks drawn, the best kept, 10,000 times).</p><table>" + "".join(rows) + "</table>")
    if not parts:
        return ""
    return ("<h2>Parameters: where the best networks lie, and which matter together</h2><p class=conv>Constraints "
            "make parameters correlate, so a one-at-a-time trend can credit one parameter with another's effect; "
            "the joint fit accounts for the others.</p>" + "".join(parts))
