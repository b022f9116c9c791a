"""``designspace study run|status|export STUDY.toml``: run, inspect and export Optuna studies."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from typing import Any

from designspace.errors import InputError, UsageError
from designspace.files import Terminated, check_output

log = logging.getLogger(__name__)

STORAGE_HELP = ("Optuna storage URL (e.g. postgresql://user@host/db; the same URL on many machines forms "
                "one study) or a journal file path; default: $DESIGNSPACE_STORAGE, else SQLite <spec>.db "
                "next to the spec")


#: the most local worker processes one ``study run`` starts (more machines: one command on each)
MAX_WORKERS = 1024
#: the most seconds ``--storage-retry`` may wait out an unreachable storage
MAX_STORAGE_RETRY_S = 7 * 24 * 3600

_RUN = "run or resume a study until it holds n_trials finished trials"
_STATUS = "trials by state, best so far, ETA"
_EXPORT = "one CSV row per trial: spec, complexity, errors, times"


def _action(sub: Any, name: str, text: str) -> argparse.ArgumentParser:
    """An action's parser, with its description line and ``-v``/``-q`` accepted after it."""
    a = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    g = a.add_argument_group("messages")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="show debug messages")
    g.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS,
                   help="only warnings and errors; no progress bar")
    a.add_argument("spec", help="study spec TOML file (see studies/)")
    a.add_argument("--storage", default=None, help=STORAGE_HELP)
    return a


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    r = _action(sub, "run", _RUN)
    r.add_argument("--workers", default="1", help=f"local worker processes, 1 to {MAX_WORKERS} (default 1)")
    r.add_argument("--n-trials", default=None, help="override the spec's n_trials (default: the spec's)")
    r.add_argument("--device", default=None,
                   help="training device of every worker (default: cuda if available, else cpu)")
    r.add_argument("--devices", default=None,
                   help="comma-separated devices, worker i on devices[i %% n] (e.g. cuda:0,cuda:1); workers may share one")
    r.add_argument("--storage-retry", default=None,
                   help="seconds every worker waits out an unreachable storage (a database restart) before "
                        "giving up (default: the spec's [workers] storage_retry_s, else 120)")
    _action(sub, "status", _STATUS)
    e = _action(sub, "export", _EXPORT)
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
    except RuntimeError as e:
        from designspace.search.study.storage import StorageUnreachable

        if not isinstance(e, StorageUnreachable):
            return _failed(args, e)
        print(mask(f"designspace study {args.action}: error: {e}"), file=sys.stderr)
        return 1
    except Exception as e:  # a storage or worker error: one masked message, no credentials
        return _failed(args, e)


def _failed(args: argparse.Namespace, e: Exception) -> int:
    """A run-time failure: one masked line (a traceback only with DESIGNSPACE_DEBUG), exit 1."""
    from designspace.search.study import mask

    if os.environ.get("DESIGNSPACE_DEBUG"):
        print(mask(traceback.format_exc()), file=sys.stderr)
    print(mask(f"designspace study {args.action}: error: {type(e).__name__}: {e}"), file=sys.stderr)
    return 1


def _run(args: argparse.Namespace, storage: str | None) -> int:
    from designspace.search.study import load_spec, mask, resolve, run_study
    from designspace.search.study.export import status_text
    from designspace.search.study.references import load_references

    from designspace.progress import bar

    workers = _int("--workers", args.workers, 1, MAX_WORKERS)
    n_trials = None if args.n_trials is None else _int("--n-trials", args.n_trials, 1, 10**9)
    retry = None if args.storage_retry is None else _int("--storage-retry", args.storage_retry, 0, MAX_STORAGE_RETRY_S)
    devices = _devices(args.device, args.devices)
    spec = load_spec(args.spec)
    url = resolve(spec, storage)
    n = n_trials or spec.n_trials
    with bar(n, spec.name, unit="trial", quiet=bool(getattr(args, "quiet", 0))) as pbar:
        def progress(done: int, total: int) -> None:
            pbar.update(max(0, done - pbar.n))

        study = run_study(args.spec, n_trials=n_trials, storage=storage, workers=workers,
                          devices=devices, progress=progress, storage_retry_s=retry)
    print(status_text(study, spec, n, mask(url), load_references(study)))
    return 0


def _int(flag: str, text: Any, lo: int, hi: int) -> int:
    """``text`` as an integer in ``[lo, hi]``, or one line naming the flag as typed."""
    try:
        v = int(str(text).strip().replace("_", ""))
    except ValueError:
        raise UsageError(f"{flag}={text!r} is not an integer") from None
    if not lo <= v <= hi:
        raise UsageError(f"{flag}={v} must be >= {lo}" if v < lo else f"{flag}={v} must be <= {hi}")
    return v


def _devices(device: str | None, devices: str | None) -> list[str]:
    """The workers' devices from ``--device`` (one) or ``--devices`` (a list); errors name the flag typed."""
    from designspace.search.cores import parse_devices

    if device is not None and devices is not None:
        raise UsageError(f"--device={device!r} and --devices={devices!r}: give one of them")
    flag, text = ("--device", device) if device is not None else ("--devices", devices)
    if text is None:
        return []
    if not text.strip():
        raise UsageError(f"{flag}={text!r} names no device (e.g. cpu, cuda, cuda:0)")
    if flag == "--device" and "," in text:
        raise UsageError(f"--device={text!r} names one device; use --devices for a list")
    try:
        return parse_devices(text)
    except ValueError as e:  # parse_devices speaks of --devices
        raise UsageError(str(e).replace("--devices", flag, 1)) from None


def _status(args: argparse.Namespace, storage: str | None) -> int:
    from designspace.search.study import load_study, mask
    from designspace.search.study.export import status_text
    from designspace.search.study.references import load_references
    from designspace.search.study.storage import close_storage

    study, spec, url = load_study(args.spec, storage)
    try:
        print(status_text(study, spec, spec.n_trials, mask(url), load_references(study)))
    finally:
        close_storage(study)
    return 0


def _export(args: argparse.Namespace, storage: str | None) -> int:
    from designspace.search.study import load_study
    from designspace.search.study.export import trials_frame, write_csv_atomic
    from designspace.search.study.references import load_references
    from designspace.search.study.storage import close_storage

    check_output(args.output, "-o")
    study, spec, _ = load_study(args.spec, storage)
    try:  # an interrupted export closes its connections too: no -wal/-shm left beside the database
        df = trials_frame(study, spec, load_references(study))
    finally:
        close_storage(study)
    where = write_csv_atomic(df, args.output)
    log.info("designspace study export: %d trials -> %s", len(df), where)
    return 0


_ACTIONS = {"run": _run, "status": _status, "export": _export}
