"""Regenerate the recorded results of the studies in this folder from their study storage.

    python studies/make_results.py            # every study below
    python studies/make_results.py anynet_a_vs_e regnetx_digits_100 efficientnet_scaling
    python studies/make_results.py fmnist_schedule fmnist_anynet_a_vs_e fmnist_regnetx \
        fmnist_resnet_scaling fmnist_efficientnet_scaling flops_vs_speed

For each study folder it writes, next to the TOML specs:
  <study>.csv   one row per trained model (from `designspace study export`; draws rejected
                without training are counted in results.md, not listed)
  results.md    the figures' numbers: sizes, KS test, bootstrap intervals, best models, fits
  *.png         the key figure, rendered by headless Chromium from the plotly figure
Run the studies first (`designspace study run <spec> --workers 2`); re-running them resumes.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

HERE = Path(__file__).resolve().parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def export(spec: Path, label: str) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """(all trials as exported, the analysis frame of trained models: `space` = label, `name` for baselines).

    The CSV holds every trained model: the counted ones and the retrains (`role` repeat or
    fidelity, `of` = the original trial)."""
    from designspace.analysis.data import from_study_export
    from designspace.search.study import export_frame

    raw = export_frame(spec)
    trained = raw[raw["role"].isin(["counted", "repeat", "fidelity"])].reset_index(drop=True)
    trained.to_csv(spec.with_suffix(".csv"), index=False)
    df, _ = from_study_export(raw)
    df["space"] = label
    return raw, df


def retrains(raw: "pd.DataFrame", label: str) -> "pd.DataFrame":
    """The finished retrains of a study export (`role` repeat / fidelity), `space` = label."""
    ex = raw[raw["role"].isin(["repeat", "fidelity"]) & (raw["state"].astype(str) == "COMPLETE")].copy()
    ex["space"] = label
    return ex.reset_index(drop=True)


def _wall(raw: "pd.DataFrame") -> str:
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


def _compare_lines(title: str, c) -> list[str]:
    out = ["", f"## {title}", "",
           f"- KS statistic {c.ks:.3f}, p-value {c.pvalue:.3g} (scipy.stats.ks_2samp, n = {c.n_a}, {c.n_b})",
           f"- largest EDF gap {c.gap:.3f}, {int(c.level * 100)}% bootstrap CI [{c.gap_ci[0]:.3f}, {c.gap_ci[1]:.3f}]",
           f"- area between EDFs (mean error of {c.name_b} minus {c.name_a}) {c.area:+.4f}, "
           f"CI [{c.area_ci[0]:+.4f}, {c.area_ci[1]:+.4f}]"]
    if c.pvalue_normalized is not None:
        out.append(f"- approximate p-value of the normalized gap {c.pvalue_normalized:.3g}")
    out.append(f"- verdict: {c.verdict}")
    return out


def to_png(fig, path: Path, width: int = 1000, height: int = 600) -> None:
    """Render a plotly figure to PNG with headless Chromium (no kaleido needed)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is needed for the PNG figures: bash .ci/install-chromium.sh")
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "figure.html"
        fig.update_layout(width=width, height=height, margin=dict(l=60, r=30, t=80, b=60))
        fig.write_html(html, include_plotlyjs=True, full_html=True, config={"staticPlot": True})
        tmp_png = Path(tmp) / "figure.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", "--virtual-time-budget=15000",
                        f"--window-size={width},{height}", f"--screenshot={tmp_png}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
        shutil.move(tmp_png, path)


def _summary_rows(name: str, raw, sampled) -> list[str]:
    rejected = int((raw["role"] == "rejected").sum())
    secs = raw.loc[raw["role"] == "counted", "wall_seconds"].astype(float)
    return [f"| {name} | {len(sampled)} | {rejected} | {sampled['error'].min():.4f} | {sampled['error'].median():.4f} | "
            f"{sampled['error'].mean():.4f} | {secs.sum() / 60:.1f} |"]


def _baselines(sampled, named, header: bool = True) -> list[str]:
    """Where each named model falls among the study's own sampled models."""
    if named.empty:
        return []
    out = ["", "| named baseline (study) | error | flops | share of the study's sampled models with lower error |",
           "|---|---|---|---|"] if header else []
    for _, r in named.iterrows():
        out.append(f"| {r['name']} ({r['space']}) | {r['error']:.4f} | {r['flops'] / 1e6:.2f}M | {(sampled['error'] < r['error']).mean():.0%} |")
    return out


def anynet_a_vs_e(study: str = "anynet_a_vs_e", data: str = "digits") -> None:
    import pandas as pd

    from designspace.analysis import figures, stats
    from designspace.analysis.trust import trust_sentences

    folder = HERE / study
    raws, spaces = {}, {}
    for s, label in (("anynetx_a", "AnyNetX_A"), ("anynetx_e", "AnyNetX_E")):
        raws[label], spaces[label] = export(folder / f"{s}.toml", label)
    sampled = {k: v[v["name"].isna()] for k, v in spaces.items()}
    # the baselines are trained in both studies: report each study's run
    named = pd.concat([v[v["name"].notna()] for v in spaces.values()])
    fig = figures.edf_figure(sampled, named=named.drop_duplicates("name"), n_boot=1000)
    to_png(fig, folder / "edf_a_vs_e.png")
    raw_cmp = stats.compare(sampled["AnyNetX_A"]["error"].to_numpy(), sampled["AnyNetX_E"]["error"].to_numpy(),
                            names=("AnyNetX_A", "AnyNetX_E"), n_boot=2000)
    norm_cmp = stats.compare(sampled["AnyNetX_A"], sampled["AnyNetX_E"], names=("AnyNetX_A", "AnyNetX_E"),
                             normalize=True, n_boot=2000)
    lines = [f"# AnyNetX_A vs AnyNetX_E on {data}: recorded results", "",
             f"Generated by `python studies/make_results.py {study}`; do not edit by hand.", "",
             "| space | trained models | draws rejected (outside the regime) | best error | median error | mean error | training minutes |",
             "|---|---|---|---|---|---|---|"]
    for k, raw in raws.items():
        lines += _summary_rows(k, raw, sampled[k])
    if data != "digits":
        lines += ["", *[f"- {k}: {_wall(raw)}" for k, raw in raws.items()]]
    for title, c in (("raw EDFs", raw_cmp), ("flops-normalized EDFs", norm_cmp)):
        lines += _compare_lines(title, c)
    for label, df in spaces.items():
        lines += _baselines(sampled[label], named[named["space"] == label], header=label == "AnyNetX_A")
    if data != "digits":  # can the comparison be trusted: noise floor and sample size, schedule fidelity
        counted = pd.concat(sampled.values(), ignore_index=True)
        extras = pd.concat([retrains(raw, k) for k, raw in raws.items()], ignore_index=True)
        lines += ["", "## Can the comparison be trusted?", "",
                  *[f"- {x}" for x in trust_sentences(counted, extras, by="space", n_boot=1000)]]
        lines += _pilot_lines()
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def regnetx_digits_100(study: str = "regnetx_digits_100", data: str = "digits") -> None:
    from designspace.analysis import figures, fit

    folder = HERE / study
    raw, df = export(folder / "regnetx.toml", "RegNetX")
    sampled = df[df["name"].isna()]
    named = df[df["name"].notna()]
    fig = figures.complexity_figure({"RegNetX": sampled}, complexity="flops", named=named)
    to_png(fig, folder / "error_vs_flops.png")
    best = fit.best_fraction(sampled, 0.1)
    fits = fit.regnet_params(best)
    lines = [f"# RegNetX sample on {data}: recorded results", "",
             f"Generated by `python studies/make_results.py {study}`; do not edit by hand.", "",
             "| space | trained models | draws rejected (outside the space or regime) | best error | median error | mean error | training minutes |",
             "|---|---|---|---|---|---|---|"]
    lines += _summary_rows("RegNetX", raw, sampled)
    if data != "digits":
        lines += ["", f"- {_wall(raw)}"]
    lines += _baselines(sampled, named)
    lines += ["", "## Best 10% vs the rest (sampled parameters)", "", "| parameter | best 10% median | all median | paper's trend |", "|---|---|---|---|"]
    trends = {"depth": "best models have 20-22 blocks (a sweet spot)", "w0": "w0 ~ wa", "wa": "-",
              "wm": "best models wm ~ 2.5", "group_width": "best group width grows with flops"}
    for p in ("depth", "w0", "wa", "wm", "group_width"):
        if p in sampled:
            lines.append(f"| {p} | {best[p].median():g} | {sampled[p].median():g} | {trends[p]} |")
    lines += ["", "## (w0, wa, wm) fitted to the per-block widths of the best 10%", "",
              "| error | sampled (w0, wa, wm, depth) | fitted (w0, wa, wm) | exact | e_fit |", "|---|---|---|---|---|"]
    for (_, r), (_, f) in zip(best.iterrows(), fits.iterrows()):
        lines.append(f"| {r['error']:.4f} | ({r['w0']:g}, {r['wa']:g}, {r['wm']:g}, {int(r['depth'])}) | "
                     f"({f['w0']:g}, {f['wa']:g}, {f['wm']:g}) | {bool(f['exact'])} | {f['e_fit']:.3g} |")
    from scipy import stats as sps

    lines += ["", f"## Rank correlation of each parameter with error (all {len(sampled)} sampled models)", "",
              "| parameter | Spearman rho | p-value |", "|---|---|---|"]
    for p in ("depth", "w0", "wa", "wm", "group_width", "flops", "params"):
        if p in sampled:
            r = sps.spearmanr(sampled[p], sampled["error"])
            lines.append(f"| {p} | {r.statistic:+.3f} | {r.pvalue:.3f} |")
    if data != "digits":
        lines += _pilot_lines()
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def efficientnet_scaling(study: str = "efficientnet_scaling", data: str = "digits") -> None:
    import json

    import numpy as np

    from designspace.analysis import figures, stats

    folder = HERE / study
    raw, df = export(folder / "scaling.toml", "EfficientNet")
    sampled = df[df["name"].isna()]
    named = df[df["name"].notna()]
    methods = ("compound", "width", "depth", "resolution")
    groups = {m: sampled[sampled["scaling"] == m] for m in methods}
    fig = figures.complexity_figure(groups, complexity="flops", n_bins=5, named=named)
    if data == "digits":
        fig.update_yaxes(range=[0, 0.2])
    to_png(fig, folder / "error_vs_flops.png")
    fig = figures.edf_figure(groups, normalized=True, n_boot=1000, named=named)
    to_png(fig, folder / "edf_normalized.png")

    lines = [f"# EfficientNet scaling on {data}: recorded results", "",
             f"Generated by `python studies/make_results.py {study}`; do not edit by hand.", "",
             "| scaling | trained models | best error | median error | mean error | models above 20% error | "
             "median flops | median resolution | training minutes |", "|---|---|---|---|---|---|---|---|---|"]
    res = sampled["spec"].map(lambda j: json.loads(j)["resolution"])  # each model's own
    for m, g in groups.items():
        lines.append(f"| {m} | {len(g)} | {g['error'].min():.4f} | {g['error'].median():.4f} | {g['error'].mean():.4f} | "
                     f"{int((g['error'] > 0.2).sum())} | {g['flops'].median() / 1e6:.1f}M | {int(res[g.index].median())} | "
                     f"{g['wall_seconds'].astype(float).sum() / 60:.1f} |")
    lines += _baselines(sampled, named)
    lines += ["", "## Each single-dimension scaling vs compound scaling at matched flops", "",
              "Flops-normalized EDFs (both methods reweighted to one binned flops distribution, as in the NDS "
              "paper); `area` is the flops-matched mean error of the method minus that of compound scaling "
              "(positive: compound is better), with a 95% bootstrap CI; KS on the raw errors (scipy).", "",
              "| method | n | KS (raw) | p (raw) | normalized gap | p (normalized) | area vs compound | 95% CI | verdict |",
              "|---|---|---|---|---|---|---|---|---|"]
    for m in methods[1:]:
        c = stats.compare(groups["compound"], groups[m], names=("compound", m), normalize=True, n_boot=2000)
        lines.append(f"| {m} | {c.n_b} | {c.ks:.3f} | {c.pvalue:.3g} | {c.gap:.3f} | {c.pvalue_normalized:.3g} | "
                     f"{c.area:+.4f} | [{c.area_ci[0]:+.4f}, {c.area_ci[1]:+.4f}] | {c.verdict} |")
    # error against log2 flops within each method (least squares), for the trend with scale
    lines += ["", "## Error against scale within each method", "",
              "| method | least-squares slope of error on log2(flops) | Spearman rho (error, flops) | p |", "|---|---|---|---|"]
    from scipy import stats as sps

    for m, g in groups.items():
        x, y = np.log2(g["flops"].to_numpy(float)), g["error"].to_numpy(float)
        slope = np.polyfit(x, y, 1)[0] if len(g) > 2 else float("nan")
        r = sps.spearmanr(g["flops"], g["error"])
        lines.append(f"| {m} | {slope:+.4f} per doubling | {r.statistic:+.3f} | {r.pvalue:.3f} |")
    if data != "digits":  # can the comparisons be trusted: seed noise, noise floor, sample size, schedule
        from designspace.analysis.noise import compare_to_floor, ks_statistic, noise_floor, seed_noise
        from designspace.analysis.power import required_n

        rep = retrains(raw, "EfficientNet")
        rep = rep[rep["role"] == "repeat"].assign(of=lambda d: d["of"].astype(int))
        first = sampled.set_index("number")["error"]
        runs = [np.concatenate([[first[of]], g["error"].to_numpy(float)]) for of, g in rep.groupby("of") if of in first]
        noise = seed_noise(runs) if runs else None
        lines += ["", "## Can the comparisons be trusted?", "", f"- {_wall(raw)}"]
        if noise is not None:
            lines.append(f"- seed noise: one run's error is off by {100 * noise.sd:.2f} points (sd) from its network's "
                         f"mean ({noise.models} networks, {noise.runs} runs)")
        for m in methods[1:]:
            a, b = groups["compound"]["error"].to_numpy(float), groups[m]["error"].to_numpy(float)
            floor = noise_floor(np.concatenate([a, b]), noise, a.size, b.size, n_boot=1000, seed=0)
            lines.append(f"- compound vs {m}: " + compare_to_floor(ks_statistic(a, b), floor))
            lines.append("- " + required_n(a, b, n_boot=200, seed=0).sentence(("compound", m)))
        lines += _pilot_lines()
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


#: the schedule-fidelity pilots: (spec, short epochs, long epochs), shortest first
PILOTS = (("pilot_2ep.toml", 2, 6), ("pilot_4ep.toml", 4, 12))


def _pilots() -> list[tuple[int, int, "pd.DataFrame", "pd.DataFrame"]]:
    """(short epochs, long epochs, export, model pairs with `short` and `long` errors) of each pilot run."""
    out = []
    for name, short, long in PILOTS:
        spec = HERE / "fmnist_schedule" / name
        if not spec.with_suffix(".db").exists():
            continue
        raw, df = export(spec, f"{short} epochs")
        ex = retrains(raw, "pilot")
        fid = ex[ex["role"] == "fidelity"].assign(of=lambda d: d["of"].astype(int))
        pairs = fid[["of", "error"]].merge(df[["number", "error", "flops"]].rename(columns={"number": "of", "error": "short"}),
                                          on="of").rename(columns={"error": "long"}).sort_values("short")
        if len(pairs) >= 3:  # a pilot still running has no pairs yet
            out.append((short, long, raw, pairs))
    return out


def _pilot_lines() -> list[str]:
    """The schedule-fidelity pilots' verdicts, quoted by every Fashion-MNIST study."""
    from designspace.analysis.fidelity import rank_agreement

    lines = ["", "## Schedule fidelity (studies/fmnist_schedule: 20 AnyNetX_A models per pilot)", ""]
    for short, long, _, pairs in _pilots():
        if len(pairs) >= 3:
            r = rank_agreement(pairs["short"].to_numpy(float), pairs["long"].to_numpy(float), n_boot=2000, seed=0)
            lines.append(f"- {short} vs {long} epochs: " + r.sentence())
    return lines


def fmnist_schedule() -> None:
    import pandas as pd

    from designspace.analysis.fidelity import rank_agreement

    folder = HERE / "fmnist_schedule"
    runs = _pilots()
    lines = ["# Schedule fidelity on Fashion-MNIST: recorded results", "",
             "Generated by `python studies/make_results.py fmnist_schedule`; do not edit by hand.", "",
             "Each pilot trains 20 AnyNetX_A models (3-9 MF at 32 px) at a candidate schedule and retrains all 20 "
             "at a 3x longer one; Kendall's tau between the two rankings, with a 95% bootstrap interval "
             "(2,000 resamples of the models; scipy.stats.kendalltau).", "",
             "| short schedule | long schedule | Kendall tau | 95% CI | p | Spearman rho | passes tau >= 0.6 | wall time |",
             "|---|---|---|---|---|---|---|---|"]
    chosen = None
    for short, long, raw, pairs in runs:
        r = rank_agreement(pairs["short"].to_numpy(float), pairs["long"].to_numpy(float), n_boot=2000, seed=0)
        ok = r.tau >= 0.6
        chosen = chosen or (short if ok else None)
        lines.append(f"| {short} epochs | {long} epochs | {r.tau:.2f} | {r.tau_ci[0]:.2f} to {r.tau_ci[1]:.2f} | {r.tau_p:.2g} | "
                     f"{r.rho:.2f} | {'yes' if ok else 'no'} | {_wall(raw)} |")
    longest = max((s for s, *_ in runs), default=None)
    lines += ["", f"- decision: {f'{chosen} epochs, the shortest schedule tested whose tau reaches 0.6' if chosen else f'no schedule tested reaches tau 0.6; the studies use the longest tested, {longest} epochs, and their comparisons say the ranking is only partly stable'}"]
    for short, long, _, pairs in runs:
        fig = _rank_figure(pairs, short, long)
        to_png(fig, folder / f"short_vs_long_{short}ep.png", width=700, height=600)
        lines += ["", f"## {short} vs {long} epochs", "", f"| trial | MFLOPs | error, {short} epochs | error, {long} epochs |",
                  "|---|---|---|---|"]
        for _, p in pairs.iterrows():
            lines.append(f"| {int(p['of'])} | {p['flops'] / 1e6:.2f} | {p['short']:.4f} | {p['long']:.4f} |")
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _rank_figure(pairs: "pd.DataFrame", short: int, long: int):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=pairs["short"], y=pairs["long"], mode="markers", marker=dict(size=9),
                               text=[f"trial {int(t)}" for t in pairs["of"]], name="model"))
    lo, hi = float(min(pairs["short"].min(), pairs["long"].min())), float(max(pairs["short"].max(), pairs["long"].max()))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(dash="dot", color="grey"), name="y = x"))
    fig.update_layout(title=f"Schedule fidelity: each model's error after {short} and after {long} epochs",
                      xaxis_title=f"validation error, {short} epochs", yaxis_title=f"validation error, {long} epochs",
                      template="plotly_white")
    return fig


def fmnist_anynet_a_vs_e() -> None:
    anynet_a_vs_e("fmnist_anynet_a_vs_e", "Fashion-MNIST")


def fmnist_regnetx() -> None:
    regnetx_digits_100("fmnist_regnetx", "Fashion-MNIST")


def fmnist_efficientnet_scaling() -> None:
    """Every network of the space (4 methods x phi 0.25..2, the phi = 0 base shared) with 4 seeds:
    each single-dimension method against compound scaling at the same phi, and pooled."""
    import json

    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    from scipy import stats as sps

    from designspace.analysis.noise import seed_noise

    folder = HERE / "fmnist_efficientnet_scaling"
    raw, df, runs = _seed_runs(folder / "scaling.toml", "EfficientNet")
    res = df.set_index("number")["spec"].map(lambda j: json.loads(j)["resolution"])
    runs["resolution"] = runs["of"].map(res)
    base0 = runs[runs["phi"] == 0]  # one network, drawn under one method name: it starts every curve
    methods = ("compound", "width", "depth", "resolution")
    every = pd.concat([runs[runs["phi"] > 0]] + [base0.assign(scaling=m) for m in methods], ignore_index=True)
    agg = (every.groupby(["scaling", "phi"]).agg(n=("error", "size"), mean=("error", "mean"), sd=("error", "std"),
                                                 flops=("flops", "first"), resolution=("resolution", "first"))
           .reset_index())
    named = df[df["name"].notna()]
    fig = go.Figure()
    for m in methods:
        g = agg[agg["scaling"] == m].sort_values("flops")
        fig.add_trace(go.Scatter(x=g["flops"] / 1e6, y=g["mean"], mode="lines+markers", name=f"{m} scaling",
                                 error_y=dict(type="data", array=1.96 * g["sd"] / np.sqrt(g["n"]))))
    for _, b in named.iterrows():
        fig.add_trace(go.Scatter(x=[b["flops"] / 1e6], y=[b["error"]], mode="markers", name=f"{b['name']} (1 seed)",
                                 marker=dict(symbol="star", size=14)))
    fig.update_layout(title="EfficientNet scaling on Fashion-MNIST: mean error over 4 seeds (95% interval of the mean)",
                      xaxis_title="MFLOPs (multiply-adds, at each network's resolution)", xaxis_type="log",
                      yaxis_title="validation error", template="plotly_white")
    to_png(fig, folder / "scaling_methods.png")
    trained = int((raw["role"].isin(["counted", "repeat"]) & (raw["state"].astype(str) == "COMPLETE")).sum())
    lines = ["# EfficientNet compound vs single-dimension scaling on Fashion-MNIST: recorded results", "",
             "Generated by `python studies/make_results.py fmnist_efficientnet_scaling`; do not edit by hand.", "",
             f"Trained models: {trained} ({len(runs.groupby('of'))} networks of the space x 4 seeds + "
             f"{len(named)} named baseline); {_wall(raw)}.", "",
             "| scaling | phi | MFLOPs | resolution | seeds | mean error | sd |", "|---|---|---|---|---|---|---|"]
    for _, r in agg.sort_values(["scaling", "phi"]).iterrows():
        lines.append(f"| {r['scaling']} | {r['phi']:g} | {r['flops'] / 1e6:.2f} | {int(r['resolution'])} | {int(r['n'])} | "
                     f"{r['mean']:.4f} | {r['sd']:.4f} |")
    lines += ["", "## Each method minus compound at the same phi (positive: compound is better)", "",
              "Mean error over seeds; Welch's t-test over the seeds (scipy). The flops ratio is the method's "
              "network over the compound one at that phi (the methods are built to match; rounding of depths, "
              "widths and resolutions moves them apart: see At matched flops).", "",
              "| method | phi | method - compound | Welch p | flops ratio |", "|---|---|---|---|---|"]
    cells = {(m, phi): g for (m, phi), g in every.groupby(["scaling", "phi"])}
    phis = sorted(every.loc[every["phi"] > 0, "phi"].unique())
    for m in methods[1:]:
        for phi in phis:
            if (m, phi) not in cells:  # the same network as at another phi (depths round): trained once
                lines.append(f"| {m} | {phi:g} | (the network of another phi: not trained twice) | | |")
                continue
            a, c = cells[(m, phi)], cells[("compound", phi)]
            t = sps.ttest_ind(a["error"], c["error"], equal_var=False)
            lines.append(f"| {m} | {phi:g} | {a['error'].mean() - c['error'].mean():+.4f} | {t.pvalue:.3g} | "
                         f"{a['flops'].iloc[0] / c['flops'].iloc[0]:.2f} |")
    own = [g["error"].to_numpy(float) for _, g in runs.groupby("of")]
    noise = seed_noise([o for o in own if o.size >= 2])
    n = int(np.median([o.size for o in own]))
    mdd = _min_detectable(noise.sd, n)
    rng = np.random.default_rng(0)
    lines += ["", "## Pooled over phi > 0, and can it be trusted?", "",
              f"Seed noise: one run's error is off by {100 * noise.sd:.2f} points (sd) from its network's mean "
              f"({noise.models} networks, {noise.runs} runs); with {n} seeds a difference of {100 * mdd:.2f} points "
              "at one phi is detected with 80% power (two-sided Welch, alpha 0.05, scipy's noncentral t). Pooled: "
              "the mean over phi of the per-phi differences, a 95% bootstrap interval (runs resampled within each "
              "network), KS of the method's runs against compound's (scipy), and a Wilcoxon signed-rank test of "
              "the per-phi mean differences (scipy).", "",
              "| method | method - compound (points) | 95% bootstrap | KS | KS p | Wilcoxon p | phi where compound is better |",
              "|---|---|---|---|---|---|---|"]
    verdicts = []
    for m in methods[1:]:
        a = every[(every["scaling"] == m) & (every["phi"] > 0)]
        c = every[(every["scaling"] == "compound") & (every["phi"] > 0)]
        diff, lo, hi = _pooled_diff(a, c, rng)
        ks = sps.ks_2samp(a["error"], c["error"])
        per = [cells[(m, phi)]["error"].mean() - cells[("compound", phi)]["error"].mean() for phi in phis
               if (m, phi) in cells]
        w = sps.wilcoxon(per)
        lines.append(f"| {m} | {100 * diff:+.2f} | {100 * lo:+.2f} to {100 * hi:+.2f} | {ks.statistic:.3f} | "
                     f"{ks.pvalue:.3g} | {w.pvalue:.3g} | {sum(d > 0 for d in per)} of {len(per)} |")
        verdicts.append((m, diff, lo, hi))
    lines += ["", "## At matched flops", "",
              "At the same phi the networks do not cost the same: the compound networks have "
              f"{agg.loc[(agg['scaling'] == 'compound') & (agg['phi'] > 0), 'flops'].min() / 1e6:.2f}-"
              f"{agg.loc[(agg['scaling'] == 'compound') & (agg['phi'] > 0), 'flops'].max() / 1e6:.2f} MFLOPs, the "
              "single-dimension ones "
              f"{agg.loc[(agg['scaling'] != 'compound') & (agg['phi'] > 0), 'flops'].min() / 1e6:.2f}-"
              f"{agg.loc[(agg['scaling'] != 'compound') & (agg['phi'] > 0), 'flops'].max() / 1e6:.2f} MFLOPs. Rounding "
              "moves each away from 2^phi x the base: depths round up to whole blocks (at depth 0.5 x 1.2^0.25 "
              "B0's 2-block stages keep 2 blocks, not 1), widths round to multiples of 8, and a resolution that is "
              "not a multiple of 32 rounds every stride-2 feature map up (at 33 px the last map is 2x2, not 1x1: "
              "2.3x the flops of the same network at 32 px). "
              "So each comparison is made again at equal flops: one curve's seed-mean error is interpolated "
              "linearly in log2(flops) at the other's networks, only inside the flops range that curve measured "
              "(phi = 0 included), in both directions; the 95% interval resamples the seeds of every network "
              "(2,000 bootstrap draws).", "",
              "| method | direction | networks matched | flops range (MF) | method - compound (points) | 95% bootstrap |",
              "|---|---|---|---|---|---|"]
    matched = {}
    comp = every[every["scaling"] == "compound"]
    for m in methods[1:]:
        mine = every[every["scaling"] == m]
        for label, pts, curve, sign in ((f"compound interpolated at the {m} networks", mine, comp, -1),
                                        (f"{m} interpolated at the compound networks", comp, mine, 1)):
            got = _matched_diff(pts[pts["phi"] > 0], curve, rng)
            if got is None:
                lines.append(f"| {m} | {label} | 0 | | | |")
                continue
            k, lo_f, hi_f, d, lo, hi = got
            d, lo, hi = sign * d, *sorted((sign * lo, sign * hi))
            matched.setdefault(m, []).append((k, d, lo, hi))
            lines.append(f"| {m} | {label} | {k} | {lo_f / 1e6:.2f}-{hi_f / 1e6:.2f} | {100 * d:+.2f} | "
                         f"{100 * lo:+.2f} to {100 * hi:+.2f} |")
    cbest = agg[(agg["scaling"] == "compound")].sort_values("mean").iloc[0]
    lines += ["", f"The best compound network (phi {cbest['phi']:g}, {cbest['flops'] / 1e6:.2f} MF) has mean error "
              f"{cbest['mean']:.4f}; the networks of other methods that beat it with fewer flops:", ""]
    cheaper = agg[(agg["scaling"] != "compound") & (agg["phi"] > 0) & (agg["flops"] < cbest["flops"])
                  & (agg["mean"] < cbest["mean"])].sort_values("flops")
    for _, r in cheaper.iterrows():
        lines.append(f"- {r['scaling']} phi {r['phi']:g}: {r['flops'] / 1e6:.2f} MF, error {r['mean']:.4f} "
                     f"(sd {r['sd']:.4f} over {int(r['n'])} seeds)")
    if cheaper.empty:
        lines.append("- none")
    lines += ["", "## Verdict", ""]
    for m, diff, lo, hi in verdicts:
        if lo > 0:
            v = "compound scaling is better"
        elif hi < 0:
            v = f"{m} scaling is better"
        else:
            v = "no difference resolved"
        both = matched.get(m, [])
        if both and all(l > 0 for _, _, l, _ in both):
            fv = "compound still better at matched flops"
        elif both and all(h < 0 for _, _, _, h in both):
            fv = f"{m} still better at matched flops"
        elif both:
            fv = "at matched flops: not resolved in both directions"
        else:
            fv = "no flops overlap to compare"
        mf = "; ".join(f"{100 * d:+.2f} ({100 * l:+.2f} to {100 * h:+.2f}, {k} networks)" for k, d, l, h in both)
        lines.append(f"- compound vs {m}: at the same phi {v} ({m} minus compound {100 * diff:+.2f} points, 95% "
                     f"{100 * lo:+.2f} to {100 * hi:+.2f}); {fv} ({mf})")
    for _, b in named.iterrows():
        share = (agg[agg["phi"] > 0]["mean"] < b["error"]).mean()
        lines.append(f"- {b['name']} ({b['flops'] / 1e6:.1f} MF, 1 seed): error {b['error']:.4f}; "
                     f"{share:.0%} of the scaled networks' seed means are lower")
    lines += _pilot_lines()
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _min_detectable(sd: float, n: int) -> float:
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


def _matched_diff(points: "pd.DataFrame", curve: "pd.DataFrame", rng, n_boot: int = 2000):
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


def _pooled_diff(a: "pd.DataFrame", b: "pd.DataFrame", rng, n_boot: int = 2000) -> tuple[float, float, float]:
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


def _seed_runs(spec: Path, label: str) -> tuple["pd.DataFrame", "pd.DataFrame", "pd.DataFrame"]:
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


def fmnist_resnet_scaling() -> None:
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    from scipy import stats as sps

    folder = HERE / "fmnist_resnet_scaling"
    rows, walls, baselines = [], [], []
    for sched, epochs in (("short", 2), ("long", 8)):
        spec = folder / f"{sched}.toml"
        if not spec.with_suffix(".db").exists():
            continue
        raw, df, runs = _seed_runs(spec, sched)
        walls.append(f"{sched} ({epochs} epochs): {_wall(raw)}")
        for _, b in df[df["name"].notna()].iterrows():
            baselines.append(f"- {b['name']} ({b['flops'] / 1e6:.1f} MF), {sched} schedule: error {b['error']:.4f}")
        runs["schedule"], runs["epochs"] = sched, epochs
        rows.append(runs)
    runs = pd.concat(rows, ignore_index=True)
    # the phi = 0 base is one network, drawn under one method name: it belongs to both curves
    base0 = runs[runs["phi"] == 0]
    runs = pd.concat([runs[runs["phi"] > 0], base0.assign(scaling="depth"), base0.assign(scaling="width")], ignore_index=True)
    agg = runs.groupby(["schedule", "scaling", "phi"]).agg(n=("error", "size"), mean=("error", "mean"), sd=("error", "std"),
                                                            flops=("flops", "first")).reset_index()
    fig = go.Figure()
    for (sched, method), g in agg.groupby(["schedule", "scaling"]):
        g = g.sort_values("flops")
        fig.add_trace(go.Scatter(x=g["flops"] / 1e6, y=g["mean"], error_y=dict(type="data", array=g["sd"] / np.sqrt(g["n"]) * 1.96),
                                 mode="lines+markers", name=f"{method} scaling, {sched} schedule",
                                 line=dict(dash="solid" if sched == "long" else "dash")))
    fig.update_layout(title="ResNet scaling on Fashion-MNIST: mean error over seeds (95% interval of the mean)",
                      xaxis_title="MFLOPs (multiply-adds at 32 px)", xaxis_type="log", yaxis_title="validation error",
                      template="plotly_white")
    to_png(fig, folder / "depth_vs_width.png")
    lines = ["# ResNet depth vs width scaling on Fashion-MNIST: recorded results", "",
             "Generated by `python studies/make_results.py fmnist_resnet_scaling`; do not edit by hand.", "",
             f"Trained runs: {len(runs) - len(base0)} ({', '.join(walls)}).", "",
             "| schedule | scaling | phi | MFLOPs | seeds | mean error | sd |", "|---|---|---|---|---|---|---|"]
    for _, r in agg.sort_values(["schedule", "scaling", "phi"]).iterrows():
        lines.append(f"| {r['schedule']} | {r['scaling']} | {r['phi']:g} | {r['flops'] / 1e6:.2f} | {int(r['n'])} | "
                     f"{r['mean']:.4f} | {r['sd']:.4f} |")
    lines += ["", "## Depth minus width at matched phi (positive: width scaling is better)", "",
              "Per schedule, the mean error of the depth-scaled network minus the width-scaled one at each phi > 0 "
              "(Welch's t-test over seeds, scipy), and over all phi a paired test of the per-phi means "
              "(Wilcoxon signed-rank, scipy).", "",
              "| schedule | phi | depth - width | Welch p |", "|---|---|---|---|"]
    verdicts = []
    for sched in agg["schedule"].unique():
        diffs = []
        for phi in sorted(runs.loc[runs["phi"] > 0, "phi"].unique()):
            a = runs[(runs["schedule"] == sched) & (runs["scaling"] == "depth") & (runs["phi"] == phi)]["error"]
            b = runs[(runs["schedule"] == sched) & (runs["scaling"] == "width") & (runs["phi"] == phi)]["error"]
            if len(a) >= 2 and len(b) >= 2:
                t = sps.ttest_ind(a, b, equal_var=False)
                diffs.append(a.mean() - b.mean())
                lines.append(f"| {sched} | {phi:g} | {a.mean() - b.mean():+.4f} | {t.pvalue:.3g} |")
        if len(diffs) >= 2:
            w = sps.wilcoxon(diffs)
            verdicts.append(f"- {sched} schedule: depth minus width {np.mean(diffs):+.4f} on average over {len(diffs)} phi; "
                            f"Wilcoxon p {w.pvalue:.3g} (with {len(diffs)} phi its smallest possible two-sided p is "
                            f"{2 / 2 ** len(diffs):.3g}: the bootstrap interval below is the sharper test)")
    lines += ["", "## Verdict per schedule", "", *verdicts]
    # can it be trusted: seed noise per schedule, the smallest per-phi difference the seeds can see,
    # and the pooled depth-vs-width comparison (KS, bootstrap interval of the mean difference)
    from designspace.analysis.noise import seed_noise

    lines += ["", "## Can the comparison be trusted?", "",
              "Seed noise from the repeated seeds of each network; the smallest depth-width difference at one phi "
              "that a two-sided Welch test over the seeds detects with 80% power at alpha 0.05 (scipy's noncentral "
              "t); over all phi > 0 pooled, KS of the depth runs against the width runs (scipy) and a 95% "
              "bootstrap interval of the mean difference (runs resampled within each network).", ""]
    rng = np.random.default_rng(0)
    for sched in agg["schedule"].unique():
        r = runs[(runs["schedule"] == sched) & (runs["phi"] > 0)]
        own = runs[(runs["schedule"] == sched) & ~((runs["scaling"] == "width") & (runs["phi"] == 0))]  # base once
        cells = [g["error"].to_numpy(float) for _, g in own.groupby(["scaling", "phi"])]
        noise = seed_noise([c for c in cells if c.size >= 2])
        n = int(np.median([c.size for c in cells]))
        mdd = _min_detectable(noise.sd, n)
        a, b = r[r["scaling"] == "depth"], r[r["scaling"] == "width"]
        ks = sps.ks_2samp(a["error"], b["error"])
        diff, lo, hi = _pooled_diff(a, b, rng)
        lines.append(f"- {sched} schedule: seed sd {100 * noise.sd:.2f} points ({noise.models} networks, {noise.runs} runs); "
                     f"with {n} seeds a per-phi difference of {100 * mdd:.2f} points is detected with 80% power; pooled "
                     f"over phi > 0, depth minus width {100 * diff:+.2f} points (95% bootstrap {100 * lo:+.2f} to "
                     f"{100 * hi:+.2f}), KS {ks.statistic:.3f} (p {ks.pvalue:.3g}, n = {len(a)}, {len(b)})")
    lines += ["", "## Named baseline", "", *baselines]
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def flops_vs_speed() -> None:
    import json

    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    folder = HERE / "flops_vs_speed"
    pop = pd.DataFrame([json.loads(x) for x in (folder / "regnety_200_measured.jsonl").read_text().splitlines() if x.strip()])
    named = pd.DataFrame([json.loads(x) for x in (folder / "named_measured.jsonl").read_text().splitlines() if x.strip()])
    for d in (pop, named):
        d["train_ms_per_image"] = 1e3 / d["train_images_per_s"]
        d["infer_ms_per_image"] = 1e3 / d["infer_images_per_s"]
    device = pop["measure_device"].iloc[0]
    times = {"train_ms_per_image": "training time per image", "infer_latency_ms": "inference latency (1 image)",
             "infer_ms_per_image": "inference time per image (batch)"}
    lines = ["# Do FLOPs predict speed? Recorded results", "",
             "Generated by `python studies/make_results.py flops_vs_speed`; do not edit by hand.", "",
             f"{len(pop)} RegNetY models (200M-1G FLOPs at 224 px) and {len(named)} named models measured on {device}, "
             "batch 8, 224 px, fp32, channels_last (`designspace bench`).", "",
             f"## Rank correlation with measured time (Spearman rho over the {len(pop)} RegNetY models, "
             "95% bootstrap interval; `designspace.analysis.speed.speed_correlations`, scipy)", "",
             "| complexity | " + " | ".join(times.values()) + " |", "|---|" + "---|" * len(times)]
    from designspace.analysis.speed import speed_correlations

    pop["infer_time"] = pop["infer_ms_per_image"]
    cors = {t: speed_correlations(pop, time=col, n_boot=2000).set_index("measure")
            for t, col in (("train_ms_per_image", "train_time"), ("infer_latency_ms", "latency"),
                           ("infer_ms_per_image", "infer_time"))}
    for c in ("flops", "params", "acts"):
        cells = [f"{cors[t].loc[c, 'rho']:+.3f} [{cors[t].loc[c, 'lo']:+.2f}, {cors[t].loc[c, 'hi']:+.2f}]" for t in times]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += ["", "## Named models", "",
              "| model | GFLOPs | M params | M acts | train img/s | ms per training image | latency ms | inference img/s |",
              "|---|---|---|---|---|---|---|---|"]
    for _, r in named.iterrows():
        lines.append(f"| {r['name']} | {r['flops'] / 1e9:.2f} | {r['params'] / 1e6:.1f} | {r['acts'] / 1e6:.2f} | "
                     f"{r['train_images_per_s']:.1f} | {r['train_ms_per_image']:.1f} | {r['infer_latency_ms']:.1f} | "
                     f"{r['infer_images_per_s']:.1f} |")
    lines += _speed_fit_lines(pop, times)
    lines += _per_gflop_lines(pop, named)
    by = named.set_index("name")
    if {"tresnet_m", "resnet50"} <= set(by.index):
        lines += _tresnet_lines(pop, by.loc["tresnet_m"], by.loc["resnet50"])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=pop["flops"] / 1e9, y=pop["train_ms_per_image"], mode="markers", name="RegNetY samples",
                             marker=dict(size=6, color=np.log(pop["acts"]), colorscale="Viridis",
                                         colorbar=dict(title="log acts"))))
    fig.add_trace(go.Scatter(x=named["flops"] / 1e9, y=named["train_ms_per_image"], mode="markers+text", name="named models",
                             text=named["name"], textposition="top center", marker=dict(size=11, symbol="star", color="crimson")))
    fig.update_layout(title=f"Measured training time per image vs FLOPs ({device}, batch 8, 224 px)",
                      xaxis_title="GFLOPs (multiply-adds)", yaxis_title="ms per training image", xaxis_type="log",
                      yaxis_type="log", template="plotly_white")
    to_png(fig, folder / "time_vs_flops.png")
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _speed_fit_lines(pop, times) -> list[str]:
    """The joint log-log fit of each time on flops, acts and params (RegNetY models)."""
    from designspace.analysis.speed import speed_fit

    lines = ["", f"## Joint fit: log time = a + b_flops log flops + b_acts log acts + b_params log params "
             f"({len(pop)} RegNetY models; 95% bootstrap intervals over models; "
             "`designspace.analysis.speed.speed_fit`)", "",
             "| time | b_flops | b_acts | b_params | R^2 joint | R^2 flops alone | R^2 acts alone | R^2 params alone |",
             "|---|---|---|---|---|---|---|---|"]
    for col, label in times.items():
        f = speed_fit(pop.assign(t=pop[col]), time="t", n_boot=2000).set_index("term")
        cells = [f"{f.loc[m, 'coef']:+.2f} [{f.loc[m, 'lo']:+.2f}, {f.loc[m, 'hi']:+.2f}]" for m in ("flops", "acts", "params")]
        r2 = [f"{f.loc[k, 'r2']:.2f}" for k in ("flops", "alone:flops", "alone:acts", "alone:params")]
        lines.append(f"| {label} | " + " | ".join(cells + r2) + " |")
    return lines


def _per_gflop_lines(pop, named) -> list[str]:
    """Milliseconds of training time per image and GFLOP, by family."""
    import numpy as np

    ms = lambda d: d["train_ms_per_image"] / (d["flops"] / 1e9)  # noqa: E731
    q = np.percentile(ms(pop), [25, 50, 75])
    lines = ["", "## Training milliseconds per image and GFLOP, by family (lower: more FLOPs per second)", "",
             "| family | models | ms per image per GFLOP |", "|---|---|---|",
             f"| RegNetY 200M-1G (sampled) | {len(pop)} | {q[1]:.1f} (quartiles {q[0]:.1f}-{q[2]:.1f}) |"]
    for _, r in named.assign(ms=ms(named)).sort_values("ms").iterrows():
        lines.append(f"| {r['name']} | 1 | {r['ms']:.1f} |")
    return lines


def _tresnet_lines(pop, m, r50) -> list[str]:
    """TResNet-M against ResNet-50: what FLOPs predict, what the joint fit predicts, what was measured."""
    import numpy as np

    from designspace.analysis.speed import speed_fit

    f = speed_fit(pop.assign(t=pop["train_ms_per_image"]), time="t", n_boot=200).set_index("term")
    log_ratio = sum(f.loc[k, "coef"] * np.log(m[k] / r50[k]) for k in ("flops", "acts", "params"))
    return ["", f"TResNet-M has {m['flops'] / r50['flops']:.2f}x ResNet-50's FLOPs, {m['acts'] / r50['acts']:.2f}x its "
            f"activations and {m['params'] / r50['params']:.2f}x its parameters. FLOPs alone predict "
            f"{r50['flops'] / m['flops']:.2f}x ResNet-50's training speed; the RegNetY joint fit predicts "
            f"{np.exp(-log_ratio):.2f}x (an extrapolation across families); measured: "
            f"{m['train_images_per_s'] / r50['train_images_per_s']:.2f}x in training, "
            f"{m['infer_images_per_s'] / r50['infer_images_per_s']:.2f}x in batch inference and "
            f"{r50['infer_latency_ms'] / m['infer_latency_ms']:.2f}x in single-image latency."]


STUDIES = {"anynet_a_vs_e": anynet_a_vs_e, "regnetx_digits_100": regnetx_digits_100,
           "efficientnet_scaling": efficientnet_scaling, "fmnist_schedule": fmnist_schedule,
           "fmnist_anynet_a_vs_e": fmnist_anynet_a_vs_e, "fmnist_regnetx": fmnist_regnetx,
           "fmnist_resnet_scaling": fmnist_resnet_scaling, "fmnist_efficientnet_scaling": fmnist_efficientnet_scaling,
           "flops_vs_speed": flops_vs_speed}

if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    for name in sys.argv[1:] or list(STUDIES):
        if name not in STUDIES:
            raise SystemExit(f"unknown study {name!r}: one of {', '.join(STUDIES)}")
        STUDIES[name]()
