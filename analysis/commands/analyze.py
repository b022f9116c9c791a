"""`designspace analyze INPUT... -o report.html`: EDF comparison report from CSV files or studies.

Inputs are CSV/JSONL tables with one row per model (columns in :mod:`designspace.analysis.data`) or Optuna
study files (``.toml``, exported with ``designspace.search.study.export_frame``).  Groups: ``--by COLUMN``;
otherwise each input file is a group when several are given, or the ``space`` column splits a
single file.  A table with measured speed and no error column (``designspace bench`` or
``sample --measure`` output) gets a speed-only report: which complexity measure predicts the
measured time.  The report is written atomically (temporary file + ``os.replace``).
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
    p.add_argument("--title", help="report title")


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

    # repeats and fidelity retrains are read apart (from_study_export keeps counted models only)
    retrain = df["role"].astype(str).isin(RETRAIN_ROLES) if "role" in df.columns else None
    extras = df.iloc[:0]
    if retrain is not None and "of" in df.columns:
        extras = df[retrain & (df["state"].astype(str) == "COMPLETE")] if "state" in df.columns else df[retrain]
    df, dropped = from_study_export(df)
    dropped -= int(retrain.sum()) if retrain is not None else 0
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
    check_output(args.output, "--output")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from designspace.analysis.data import AnalysisInputError
    from designspace.analysis.report import build_report, build_speed_report, speed_times

    _check_numbers(args)
    try:
        frames, extras = [], []
        for path in args.inputs:
            df, ex = _load(path, getattr(args, "read_study", None))
            label = os.path.splitext(os.path.basename(path))[0]
            frames.append(df.assign(**{_SOURCE: label}) if _SOURCE not in df.columns else df)
            extras.append(ex.assign(**{_SOURCE: label}) if _SOURCE not in ex.columns else ex)
        labels = [f[_SOURCE].iloc[0] if len(f) else "" for f in frames]
        if len(set(labels)) < len(labels):
            raise UsageError("two inputs have the same file name; rename one so their groups can be told apart")
        df = pd.concat(frames, ignore_index=True)
        by = args.by
        if by is None:
            if len(frames) > 1:
                by = _SOURCE
            elif "space" in df.columns and df["space"].nunique() > 1:
                by = "space"
        from designspace.analysis.trust import trust_sentences

        speed_only = "error" not in df.columns and bool(speed_times(df))  # `designspace bench` output
        if speed_only:
            notes: list[str] = []
            text = build_speed_report(df, by=by, seed=args.seed, title=args.title, sources=args.inputs)
        else:
            ex = pd.concat(extras, ignore_index=True)
            notes = trust_sentences(df, ex if len(ex) else None, by=by, seed=args.seed)
            text = build_report(df, by=by, complexity=args.complexity, k=args.best, top=args.top,
                                n_boot=args.bootstrap, bins=args.bins, seed=args.seed, title=args.title,
                                sources=args.inputs, notes=notes)
    except AnalysisInputError as e:
        raise UsageError(str(e)) from None
    where = write_output(args.output, lambda f: f.write(text))
    n_groups = df[by].nunique() if by else 1
    for line in notes:  # can the comparison be trusted: noise floor, sample size, schedule fidelity
        if where == "stdout":
            log.info("%s", line)
        else:
            print(line)
    _print_speed(df, args.seed, to_stderr=where == "stdout")
    if where == "stdout":  # the report is standard output: the summary goes to standard error
        log.info("wrote the report to stdout: %d models in %d group(s)", len(df), n_groups)
    else:
        what = " (speed only: no error column)" if speed_only else ""
        print(f"wrote {args.output}: {len(df)} models in {n_groups} group(s){what}")
    return 0
