"""``designspace study run|status|export STUDY.toml``: run, inspect and export Optuna studies."""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from designspace.cli import UsageError

STORAGE_HELP = ("Optuna storage URL (e.g. postgresql://user@host/db; the same URL on many machines forms "
                "one study) or a journal file path; default: $DESIGNSPACE_STORAGE, else SQLite <spec>.db "
                "next to the spec")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    r = sub.add_parser("run", help="run or resume a study until it holds n_trials finished trials")
    r.add_argument("spec", help="study spec TOML file (see studies/)")
    r.add_argument("--storage", default=None, help=STORAGE_HELP)
    r.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    r.add_argument("--n-trials", type=int, default=None, help="override the spec's n_trials")
    r.add_argument("--device", default=None, help="training device (default: cuda if available, else cpu)")
    s = sub.add_parser("status", help="trials by state, best so far, ETA")
    s.add_argument("spec")
    s.add_argument("--storage", default=None, help=STORAGE_HELP)
    e = sub.add_parser("export", help="one CSV row per trial: spec, complexity, errors, times")
    e.add_argument("spec")
    e.add_argument("--storage", default=None, help=STORAGE_HELP)
    e.add_argument("-o", "--output", required=True, help="CSV file to write (atomically)")


def run(args: argparse.Namespace) -> int:
    from search.study import StudySpecError, mask

    if getattr(args, "action", None) is None:
        raise UsageError("choose an action: run, status or export")
    storage = args.storage or os.environ.get("DESIGNSPACE_STORAGE") or None
    try:
        return _ACTIONS[args.action](args, storage)
    except StudySpecError as e:
        raise UsageError(str(e)) from None
    except FileNotFoundError as e:
        raise UsageError(mask(str(e))) from None
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a storage or worker error: one masked message, no credentials
        if os.environ.get("DESIGNSPACE_DEBUG"):
            print(mask(traceback.format_exc()), file=sys.stderr)
        print(mask(f"designspace study {args.action}: error: {type(e).__name__}: {e}"), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, storage: str | None) -> int:
    from search.study import load_spec, mask, resolve, run_study
    from search.study.export import status_text

    if args.workers < 1:
        raise UsageError(f"--workers={args.workers} must be >= 1")
    if args.n_trials is not None and args.n_trials < 1:
        raise UsageError(f"--n-trials={args.n_trials} must be >= 1")
    spec = load_spec(args.spec)
    url = resolve(spec, storage)
    print(mask(f"designspace study: {spec.name}: {args.n_trials or spec.n_trials} trials, {args.workers} "
               f"worker(s), storage {url}"), file=sys.stderr)
    study = run_study(args.spec, n_trials=args.n_trials, storage=storage, workers=args.workers, device=args.device)
    print(status_text(study, spec, args.n_trials or spec.n_trials, mask(url)))
    return 0


def _status(args: argparse.Namespace, storage: str | None) -> int:
    from search.study import load_study, mask
    from search.study.export import status_text

    study, spec, url = load_study(args.spec, storage)
    print(status_text(study, spec, spec.n_trials, mask(url)))
    return 0


def _export(args: argparse.Namespace, storage: str | None) -> int:
    from search.study import load_study
    from search.study.export import trials_frame, write_csv_atomic

    study, spec, _ = load_study(args.spec, storage)
    df = trials_frame(study, spec)
    path = write_csv_atomic(df, args.output)
    print(f"designspace study export: {len(df)} trials -> {path}", file=sys.stderr)
    return 0


_ACTIONS = {"run": _run, "status": _status, "export": _export}
