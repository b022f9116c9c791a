"""Shared by the studies' result writers: export a study, wall time, comparison lines, PNGs."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


HERE = Path(__file__).resolve().parent.parent  # studies/

#: the pre-registered constants of the one-sample comparisons (depth_width, effnet_lr): TOST
#: margin in points, alpha, and the chance error at or above which a run diverged
MARGIN, ALPHA, CHANCE = 1.0, 0.05, 0.9


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def export(spec: Path, label: str) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """(all trials as exported, the analysis frame of trained models: `space` = label, `name` for baselines).

    The CSV holds every trained model: the counted ones and the retrains (`role` repeat or
    fidelity, `of` = the original trial)."""
    from designspace.analysis.data import from_study_export
    from designspace.search.study import export_frame

    raw = export_frame(spec)
    trained = raw[raw["role"].isin(["counted", "reference", "repeat", "fidelity"])].reset_index(drop=True)
    trained.to_csv(spec.with_suffix(".csv"), index=False)
    df, _ = from_study_export(raw)
    df["space"] = label
    return raw, df


def retrains(raw: "pd.DataFrame", label: str) -> "pd.DataFrame":
    """The finished retrains of a study export (`role` repeat / fidelity), `space` = label."""
    ex = raw[raw["role"].isin(["repeat", "fidelity"]) & (raw["state"].astype(str) == "COMPLETE")].copy()
    ex["space"] = label
    return ex.reset_index(drop=True)


def wall(raw: "pd.DataFrame") -> str:
    """Wall time the study's trials actually ran: the union of the trials' [start, end]
    intervals (the pauses of a study resumed in several sittings are not counted). Only trials
    that trained to the end count: a surplus or stale trial is closed when a later sitting finds
    it, so its [start, end] would span the pause."""
    import pandas as pd

    d = raw[raw["datetime_start"].notna() & raw["datetime_complete"].notna()
            & raw["state"].astype(str).isin(["COMPLETE", "PRUNED"])]
    if "role" in d:
        d = d[d["role"].astype(str) != "surplus"]
    spans = sorted(zip(pd.to_datetime(d["datetime_start"]), pd.to_datetime(d["datetime_complete"])))
    busy, end = 0.0, None
    for a, b in spans:
        if end is None or a > end:
            busy += (b - a).total_seconds()
            end = b
        elif b > end:
            busy += (b - end).total_seconds()
            end = b
    secs = raw.loc[raw["state"].astype(str) == "COMPLETE", "duration_s"].astype(float).sum()
    return f"{busy / 60:.1f} min wall while trials ran ({secs / 60:.1f} min of trials summed)"


def compare_lines(title: str, c, holm_p: float | None = None) -> list[str]:
    """A flops-normalized comparison (:func:`designspace.analysis.stats.compare`, network means)."""
    out = ["", f"## {title}", "",
           f"- KS statistic {c.ks:.3f}, p-value {c.pvalue:.3g} (scipy.stats.ks_2samp on network means, "
           f"n = {c.n_a}, {c.n_b} networks)",
           f"- largest EDF gap {c.gap:.3f}, {int(c.level * 100)}% bootstrap CI [{c.gap_ci[0]:.3f}, {c.gap_ci[1]:.3f}]",
           f"- area between EDFs (mean error of {c.name_b} minus {c.name_a}) {c.area:+.4f}, "
           f"CI [{c.area_ci[0]:+.4f}, {c.area_ci[1]:+.4f}]"]
    if c.pvalue_normalized is not None:
        out.append(f"- approximate p-value of the normalized gap {c.pvalue_normalized:.3g}"
                   + (f" (Holm-adjusted {holm_p:.3g})" if holm_p is not None else ""))
    out.append(f"- verdict: {c.verdict}")
    return out


def summary_lines(summary: dict) -> list[str]:
    """The comparisons of :func:`designspace.analysis.summarize` (network means, Holm, three verdicts)."""
    from designspace.analysis.verdict import verdict_sentence

    lines = ["", "## Comparison on network means (designspace.analysis.summarize)", "",
             "| group | networks | runs | diverged runs | seed sd median (q1-q3, max), pooled | retest distance (seed swaps: median, 95%; p) |",
             "|---|---|---|---|---|---|"]
    for n, g in summary["groups"].items():
        sd, rt = g["seed_sd"], g["retest_d"]
        sd_t = f"{sd['median']:.2f} ({sd['q1']:.2f}-{sd['q3']:.2f}, {sd['max']:.2f}), {sd['pooled']:.2f}" if sd else "-"
        rt_t = f"{rt['estimate']:.3f} ({rt['swap_median']:.3f}, {rt['swap_upper']:.3f}; {rt['p']:.2g})" if rt else "-"
        lines.append(f"| {n} | {g['networks']} | {g['runs']} | {g['diverged']} | {sd_t} | {rt_t} |")
    lines += ["", "| A | B | KS D | p | p Holm | Mann-Whitney p | mean B - A (points, 95% cluster bootstrap) | "
              "TOST p | detectable KS D / mean | verdict |", "|---|---|---|---|---|---|---|---|---|---|"]
    m = len(summary["comparisons"])
    for c in summary["comparisons"]:
        lo, hi = c["mean_diff"]["ci"]
        lines.append(f"| {c['a']} | {c['b']} | {c['ks']['d']:.3f} | {c['ks']['p']:.3g} | {c['ks']['p_holm']:.3g} | "
                     f"{c['mannwhitney']['p']:.3g} | {c['mean_diff']['estimate']:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
                     f"{c['tost']['p']:.3g} (margin {c['tost']['margin']:g}) | {c['mde']['ks_d'] if c['mde']['ks_d'] is None else round(c['mde']['ks_d'], 2)} / "
                     f"{c['mde']['mean_diff']:.2f} | **{c['verdict']}** |")
    lines += ["", *[f"- {verdict_sentence(c, m)}" for c in summary["comparisons"]]]
    return lines


def to_png(fig, path: Path, width: int = 1000, height: int = 600) -> None:
    """Render a plotly figure to PNG with headless Chromium (no kaleido needed)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:  # the numbers still get written; the figure on disk stays as it was
        print(f"note: chromium is missing, {path.name} not redrawn (bash .ci/install-chromium.sh)", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "figure.html"
        fig.update_layout(width=width, height=height, margin=dict(l=60, r=30, t=80, b=60))
        fig.write_html(html, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
        tmp_png = Path(tmp) / "figure.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", "--virtual-time-budget=15000",
                        f"--window-size={width},{height}", f"--screenshot={tmp_png}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
        shutil.move(tmp_png, path)


SUMMARY_HEADER = ["| space | networks | draws rejected (outside the regime) | best error | median error | mean error | "
                  "training minutes |", "|---|---|---|---|---|---|---|"]


def summary_rows(name: str, raw, networks) -> list[str]:
    """One row of :data:`SUMMARY_HEADER`: ``networks`` holds one ``error`` per network (its seed
    repeats averaged, :func:`designspace.analysis.summary.network_groups`)."""
    rejected = int((raw["role"] == "rejected").sum())
    secs = raw.loc[raw["role"] == "counted", "wall_seconds"].astype(float)
    e = networks["error"]
    return [f"| {name} | {len(networks)} | {rejected} | {e.min():.4f} | {e.median():.4f} | {e.mean():.4f} | {secs.sum() / 60:.1f} |"]


def baseline_lines(sampled, named, header: bool = True) -> list[str]:
    """Where each named model falls among the study's own sampled models."""
    if named.empty:
        return []
    out = ["", "| named baseline (study) | error | flops | share of the study's sampled models with lower error |",
           "|---|---|---|---|"] if header else []
    for _, r in named.iterrows():
        out.append(f"| {r['name']} ({r['space']}) | {r['error']:.4f} | {r['flops'] / 1e6:.2f}M | {(sampled['error'] < r['error']).mean():.0%} |")
    return out


def one_sample(values, label: str) -> dict:
    """t-test of mean = 0, TOST within +-MARGIN, bootstrap interval over the values (one per unit)."""
    import numpy as np
    from scipy import stats
    from statsmodels.stats.weightstats import ttost_paired

    v = np.asarray(values, float)
    boot = np.random.default_rng(0).choice(v, (4000, v.size)).mean(axis=1)
    return {"label": label, "n": v.size, "mean": v.mean(), "ci": np.quantile(boot, [0.025, 0.975]),
            "p": stats.ttest_1samp(v, 0.0).pvalue, "tost": ttost_paired(v, np.zeros_like(v), -MARGIN, MARGIN)[0],
            "negative": int((v < 0).sum())}


def verdicts(tests: list[dict]) -> None:
    from designspace.analysis.multiplicity import holm

    for t, p in zip(tests, holm([t["p"] for t in tests])):
        t["p_holm"] = p
        t["verdict"] = "different" if p < ALPHA else "equivalent" if t["tost"] < ALPHA else "inconclusive"
