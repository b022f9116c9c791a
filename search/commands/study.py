"""``designspace study run|status|export STUDY.toml``: run, inspect and export Optuna studies."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from designspace.errors import InputError, UsageError
from designspace.files import Terminated, check_output

log = logging.getLogger(__name__)

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
    r.add_argument("--devices", default=None,
                   help="comma-separated devices, worker i on devices[i %% n] (e.g. cuda:0,cuda:1); workers may share one")
    s = sub.add_parser("status", help="trials by state, best so far, ETA")
    s.add_argument("spec")
    s.add_argument("--storage", default=None, help=STORAGE_HELP)
    e = sub.add_parser("export", help="one CSV row per trial: spec, complexity, errors, times")
    e.add_argument("spec")
    e.add_argument("--storage", default=None, help=STORAGE_HELP)
    e.add_argument("-o", "--output", required=True, help="CSV file to write (atomically), or - for stdout")


def run(args: argparse.Namespace) -> int:
    from designspace.search.study import StudySpecError, mask

    if getattr(args, "action", None) is None:
        raise UsageError("choose an action: run, status or export")
    storage = args.storage or os.environ.get("DESIGNSPACE_STORAGE") or None
    try:
        return _ACTIONS[args.action](args, storage)
    except StudySpecError as e:
        raise UsageError(mask(str(e))) from None
    except InputError as e:  # UsageError, SpecError, MissingExtra, a bad data set name: exit 2
        raise UsageError(mask(str(e))) from None
    except FileNotFoundError as e:
        raise UsageError(mask(str(e))) from None
    except (KeyboardInterrupt, Terminated, BrokenPipeError):  # a closed pipe (`| head`) ends quietly in main
        raise
    except Exception as e:  # a storage or worker error: one masked message, no credentials
        if os.environ.get("DESIGNSPACE_DEBUG"):
            print(mask(traceback.format_exc()), file=sys.stderr)
        print(mask(f"designspace study {args.action}: error: {type(e).__name__}: {e}"), file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, storage: str | None) -> int:
    from designspace.search.study import load_spec, mask, resolve, run_study
    from designspace.search.study.export import status_text

    from designspace.progress import bar
    from designspace.search.cores import parse_devices

    if args.workers < 1:
        raise UsageError(f"--workers={args.workers} must be >= 1")
    if args.n_trials is not None and args.n_trials < 1:
        raise UsageError(f"--n-trials={args.n_trials} must be >= 1")
    try:
        devices = parse_devices(args.devices)
        if args.device:
            parse_devices(args.device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    spec = load_spec(args.spec)
    url = resolve(spec, storage)
    n = args.n_trials or spec.n_trials
    with bar(n, spec.name, unit="trial", quiet=bool(args.quiet)) as pbar:
        def progress(done: int, total: int) -> None:
            pbar.update(max(0, done - pbar.n))

        study = run_study(args.spec, n_trials=args.n_trials, storage=storage, workers=args.workers,
                          device=args.device, devices=devices, progress=progress)
    print(status_text(study, spec, n, mask(url)))
    return 0


def _status(args: argparse.Namespace, storage: str | None) -> int:
    from designspace.search.study import load_study, mask
    from designspace.search.study.export import status_text

    study, spec, url = load_study(args.spec, storage)
    print(status_text(study, spec, spec.n_trials, mask(url)))
    return 0


def _export(args: argparse.Namespace, storage: str | None) -> int:
    from designspace.search.study import load_study
    from designspace.search.study.export import trials_frame, write_csv_atomic

    check_output(args.output, "-o")
    study, spec, _ = load_study(args.spec, storage)
    df = trials_frame(study, spec)
    where = write_csv_atomic(df, args.output)
    log.info("designspace study export: %d trials -> %s", len(df), where)
    return 0


_ACTIONS = {"run": _run, "status": _status, "export": _export}
