"""`designspace analyze INPUT... -o report.html`: EDF comparison report from CSV files or studies.

Inputs are CSV/JSONL tables with one row per model (columns in :mod:`designspace.analysis.data`) or Optuna
study files (``.toml``, exported with ``designspace.search.study.export_frame``).  Groups: ``--by COLUMN``;
otherwise each input file is a group when several are given, or the ``space`` column splits a
single file.  Rows sharing a spec ``id`` are one network (a study's seed repeats are read in
as more runs of their network).  ``--json PATH`` (``-``: stdout) writes the machine-readable
result of :func:`designspace.analysis.summarize` besides the report.  A table with measured speed
and no error column (``designspace bench`` or ``sample --measure`` output) gets a speed-only
report: which complexity measure predicts the measured time.  Files are written atomically
(temporary file + ``os.replace``); every option is checked before any work.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Any, Callable

from designspace.errors import UsageError
from designspace.files import check_output, write_output

log = logging.getLogger(__name__)

_SOURCE = "source"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="CSV/JSONL files of models, or study .toml files")
    p.add_argument("--by", metavar="COLUMN", help="column that names each model's design space "
                   "(default: one group per input file, or the `space` column of a single file)")
    p.add_argument("-o", "--output", default="report.html", help="HTML report to write, or - for stdout (default: report.html)")
    p.add_argument("--complexity", default="flops", choices=("flops", "params", "acts", "latency", "train_time"),
                   help="complexity axis for normalized EDFs and scatter plots (default: flops); latency and "
                        "train_time are measured speed (designspace bench / measure = true)")
    p.add_argument("--top", type=int, default=15, help="rows of the best-models table (default: 15)")
    p.add_argument("--best", type=float, default=0.1, metavar="FRACTION",
                   help="fraction of best models for parameter trends (default: 0.1)")
    p.add_argument("--bootstrap", type=int, default=500, metavar="N", help="bootstrap resamples (default: 500)")
    p.add_argument("--bins", type=int, default=8, help="log-complexity bins for normalization (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    p.add_argument("--title", help="report title (default: from the study or group names)")
    p.add_argument("--json", metavar="PATH", help="also write the comparisons as JSON (version 1), or - for stdout")
    p.add_argument("--margin", type=float, default=0.5, metavar="POINTS",
                   help="equivalence margin of the TOST, in percentage points of error (default: 0.5)")
    p.add_argument("--alpha", type=float, default=0.05, help="level of the tests, Holm-adjusted (default: 0.05)")
    p.add_argument("--num-classes", type=int, metavar="K", help="classes of the data set: a run with error >= "
                   "1 - 1/K diverged (default: the num_classes column, else the spec's, else 10)")
    p.add_argument("--log-error", action="store_true", help="log scale for the error axes")


def _load(path: str, read_study: Callable[[str], Any] | None):
    """One input as a frame of finished models (study exports adapted, see from_study_export).

    A study file (``.toml``) is read by ``read_study``, which the command line provides (the
    analysis package does not import the study package)."""
    from designspace.analysis.data import from_study_export, read_table

    if path.endswith(".toml"):
        if not os.path.exists(path):
            raise UsageError(f"study file {path} does not exist")
        if read_study is None:
            raise UsageError(f"{path}: reading a study needs designspace.search (export it to CSV with "
                             "`designspace study export` and analyze the CSV)")
        try:
            df = read_study(path)
        except FileNotFoundError as e:
            raise UsageError(str(e)) from None
    else:
        df = read_table(path)
    from designspace.analysis.trust import RETRAIN_ROLES

    # fidelity retrains are read apart (a longer schedule); seed repeats are more runs of their network
    retrain = df["role"].astype(str).isin(RETRAIN_ROLES) if "role" in df.columns else None
    extras = df.iloc[:0]
    if retrain is not None and "of" in df.columns:
        extras = df[retrain & (df["state"].astype(str) == "COMPLETE")] if "state" in df.columns else df[retrain]
        extras = extras[extras["role"].astype(str) != "repeat"]
    if "role" in df.columns:
        df = df.assign(role=df["role"].astype(str).replace("repeat", "counted"))
    n_fidelity = int((df["role"] == "fidelity").sum()) if "role" in df.columns else 0
    df, dropped = from_study_export(df)
    dropped -= n_fidelity
    if dropped:
        log.info("designspace analyze: %s: skipped %d trial(s) that did not complete or do not count", path, dropped)
    return df, extras


def _print_speed(df: Any, seed: int, to_stderr: bool) -> None:
    """Which complexity measure predicts measured time (when the table has measured speed)."""
    from designspace.analysis.speed import add_time_columns, speed_correlations

    d = add_time_columns(df)
    for t in ("latency", "train_time"):
        if t in d.columns and d[t].notna().sum() >= 3:
            c = speed_correlations(d[d[t].notna()], t, n_boot=300, seed=seed)
            text = "; ".join(f"{r.measure} rho {r.rho:.2f} ({r.lo:.2f} to {r.hi:.2f})" for _, r in
                             c.sort_values("rho", ascending=False).iterrows())
            line = f"measured {t} vs complexity (Spearman, 95% interval, n={int(c.n.iloc[0])}): {text}"
            if to_stderr:
                log.info("%s", line)
            else:
                print(line)


def _check_numbers(args: argparse.Namespace) -> None:
    if args.top < 1:
        raise UsageError(f"--top={args.top} must be at least 1")
    if not 0 < args.best <= 1:
        raise UsageError(f"--best={args.best} must be a fraction in (0, 1]")
    if args.bootstrap < 10:
        raise UsageError(f"--bootstrap={args.bootstrap} must be at least 10")
    if args.bins < 1:
        raise UsageError(f"--bins={args.bins} must be at least 1")
    if not (args.margin > 0 and args.margin < float("inf")):
        raise UsageError(f"--margin={args.margin} must be a positive number of percentage points")
    if not 0 < args.alpha < 1:
        raise UsageError(f"--alpha={args.alpha} must be in (0, 1)")
    if args.num_classes is not None and args.num_classes < 2:
        raise UsageError(f"--num-classes={args.num_classes} must be at least 2")
    check_output(args.output, "--output")
    if args.json is not None:
        if args.json == "-" and args.output == "-":
            raise UsageError("--json - and --output - would both write to stdout; send one to a file")
        check_output(args.json, "--json")


def _read_inputs(args: argparse.Namespace) -> tuple[Any, Any, str | None]:
    """All inputs as one frame of runs (a ``source`` column), the fidelity retrains, the group column."""
    import pandas as pd

    frames, extras, own_source = [], [], False
    for path in args.inputs:
        df, ex = _load(path, getattr(args, "read_study", None))
        own_source |= _SOURCE in df.columns
        label = os.path.splitext(os.path.basename(path))[0]
        frames.append(df.assign(**{_SOURCE: label}) if _SOURCE not in df.columns else df)
        extras.append(ex.assign(**{_SOURCE: label}) if _SOURCE not in ex.columns else ex)
    labels = [f[_SOURCE].iloc[0] if len(f) else "" for f in frames]
    if len(set(labels)) < len(labels):
        raise UsageError("two inputs have the same file name; rename one so their groups can be told apart")
    df = pd.concat(frames, ignore_index=True)
    by = args.by
    if by is None:  # one group per input file (named after it), or the spaces of a single file
        if len(frames) == 1 and "space" in df.columns and df["space"].nunique() > 1:
            by = "space"
        elif len(frames) > 1 or not own_source:  # a single file's own `source` column is not a grouping
            by = _SOURCE
    return df, pd.concat(extras, ignore_index=True), by


def _analyse(args: argparse.Namespace, df: Any, ex: Any, by: str | None) -> tuple[str, list[str], dict | None]:
    """(report HTML, trust sentences, JSON summary or None for a speed-only report)."""
    from designspace.analysis.report import build_report, build_speed_report, speed_times
    from designspace.analysis.summary import network_groups, summarize
    from designspace.analysis.trust import trust_sentences

    if "error" not in df.columns and bool(speed_times(df)):  # `designspace bench` output
        if args.json is not None:
            raise UsageError("--json: this table has no error column (measured speed only); nothing to compare")
        return build_speed_report(df, by=by, seed=args.seed, title=args.title, sources=args.inputs), [], None
    from designspace.analysis.data import check_frame, groups

    check_frame(df, ("error",))
    for name, g in groups(df, by).items():
        check_frame(g, ("error", args.complexity), where=f"{by}={name}" if by else "")
    gs = network_groups(df, by, args.num_classes, args.bootstrap, args.seed)
    summary = summarize(df, by, args.margin, args.alpha, args.bootstrap, args.seed, args.num_classes,
                        network_groups_=gs)
    notes = trust_sentences(df, ex if len(ex) else None, by=by, seed=args.seed, gs=gs)
    text = build_report(df, by=by, complexity=args.complexity, k=args.best, top=args.top, n_boot=args.bootstrap,
                        bins=args.bins, seed=args.seed, title=args.title, sources=args.inputs, notes=notes,
                        margin=args.margin, alpha=args.alpha, num_classes=args.num_classes,
                        log_error=args.log_error, summary=summary, gs=gs)
    return text, notes, summary


def run(args: argparse.Namespace) -> int:
    import json

    from designspace.analysis.data import AnalysisInputError

    _check_numbers(args)
    try:
        df, ex, by = _read_inputs(args)
        text, notes, summary = _analyse(args, df, ex, by)
    except AnalysisInputError as e:
        raise UsageError(str(e)) from None
    where = write_output(args.output, lambda f: f.write(text))
    if summary is not None and args.json is not None:
        jwhere = write_output(args.json, lambda f: f.write(json.dumps(summary, indent=2) + "\n"))
        where = "stdout" if jwhere == "stdout" else where
    n_groups = df[by].nunique() if by else 1
    for line in notes:  # can the comparison be trusted: seed noise, sensitivity, schedule fidelity
        if where == "stdout":
            log.info("%s", line)
        else:
            print(line)
    if summary is not None:
        from designspace.analysis.verdict import verdict_sentence

        for c in summary["comparisons"]:
            line = verdict_sentence(c, len(summary["comparisons"]))
            log.info("%s", line) if where == "stdout" else print(line)
    _print_speed(df, args.seed, to_stderr=where == "stdout")
    if summary is None:
        what = f"{len(df)} models in {n_groups} group(s) (speed only: no error column)"
    else:
        nets = sum(g["networks"] for g in summary["groups"].values())
        runs = sum(g["runs"] for g in summary["groups"].values())
        what = f"{nets} networks ({runs} runs) in {n_groups} group(s)"
    if where == "stdout":  # a report or the JSON is standard output: the summary goes to standard error
        log.info("wrote %s: %s", "the report" if args.output == "-" else args.output, what)
    else:
        print(f"wrote {args.output}: {what}")
    return 0
