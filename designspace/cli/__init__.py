"""The ``designspace`` command: the one dispatcher, for every subcommand of every package.

Each subcommand lives next to the code it drives, ``<package>/commands/<name>.py``, exposing
``add_arguments(parser)`` and ``run(args) -> int``; it raises :class:`UsageError` (from
:mod:`designspace.errors`, below every package) and never imports this package.  Only the chosen
subcommand's module is imported, so ``designspace sample`` never pays for torch, optuna or
plotly.

Exit status: 0 done; 1 a run-time failure (a dataset that cannot be read, a storage error, a
full disk: ``no space left on device writing PATH``);
2 a bad input of any kind (:class:`~designspace.errors.InputError`: a flag, a spec, a file, a
study or space file), always one line on standard error naming the value; 130 Ctrl-C; 143
SIGTERM (temporary files removed either way).  ``-v`` shows debug messages, ``-q`` only
warnings and errors (and no progress bars).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, NoReturn

from ..errors import InputError, UsageError

__all__ = ["main", "UsageError", "COMMANDS"]

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("designspace.commands.list", "list the named models with resolution, params and GFLOPs"),
    "show": ("designspace.commands.show", "show a named model or spec file stage by stage"),
    "spaces": ("designspace.commands.spaces", "list the built-in design spaces"),
    "sample": ("designspace.commands.sample", "sample models from a design space to JSONL/CSV"),
    "bench": ("designspace.commands.bench", "measure training and inference speed on this device"),
    "train": ("designspace.search.commands.train", "train a named model or spec on a dataset"),
    "study": ("designspace.search.commands.study", "run, inspect and export Optuna studies"),
    "dashboard": ("designspace.search.commands.dashboard", "serve optuna-dashboard for a study"),
    "storage": ("designspace.search.commands.storage", "serve a study database to many workers (gRPC proxy)"),
    "analyze": ("designspace.analysis.commands.analyze", "EDF comparison report from studies or CSV files"),
}


class _ArgumentError(Exception):
    """argparse's own complaint (an unknown flag, a value of the wrong type), as one line."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog, self.message = prog, message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump), for every subcommand and
    every action below it (argparse makes sub-parsers of the parser's own class)."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise _ArgumentError(self.prog, message)


def add_verbosity(p: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v``/``-q`` on ``p``, accepted before and after the subcommand (below the top, they
    default to SUPPRESS so that they do not reset what was given before)."""
    g = p.add_argument_group("messages")
    default = 0 if top else argparse.SUPPRESS
    g.add_argument("-v", "--verbose", action="count", default=default, help="show debug messages (default: off)")
    g.add_argument("-q", "--quiet", action="count", default=default,
                   help="only warnings and errors; no progress bars (default: off)")


def _verbosity_below(p: argparse.ArgumentParser) -> None:
    """Give every action of a subcommand (``study run``, ``study status``, ...) ``-v``/``-q`` too,
    unless its module added them itself: ``designspace study run spec.toml -q`` works."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                if "-q" not in child._option_string_actions and "-v" not in child._option_string_actions:
                    add_verbosity(child)
                _verbosity_below(child)


def _parser(only: str | None) -> argparse.ArgumentParser:
    from .. import __version__

    p = _Parser(prog="designspace", description="Design spaces of convolutional networks.")
    add_verbosity(p, top=True)
    p.add_argument("--version", action="version", version=f"designspace {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        add_verbosity(sp)
        if name == only:
            importlib.import_module(module).add_arguments(sp)
            _verbosity_below(sp)
    return p


def _wire(args: argparse.Namespace) -> None:
    """What a subcommand may use from a package beside its own (the CLI is the one place that
    knows every package): ``analyze`` reads study files through the study package."""
    if args.command == "analyze":
        def read_study(path: str) -> Any:
            from ..search.study import export_frame

            return export_frame(path)

        args.read_study = read_study


#: flags whose value may begin with "-" (a range such as -5M:1M): argparse would take it for a flag
_VALUE_FLAGS = ("--flops", "--params", "--acts", "--resolution", "--seed", "--n", "--budget", "--lr", "--epochs",
                "--workers", "--n-trials", "--batch-size", "--top", "--best", "--bootstrap", "--bins", "--port",
                "--batch", "--threads", "--train-size", "--val-size", "--num-classes", "--in-chans")


def _join_values(argv: list[str]) -> list[str]:
    """``--flops -5M:1M`` -> ``--flops=-5M:1M``, so that the value reaches the command's own check
    (one line naming the flag) instead of argparse's "expected one argument" and a usage dump."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in _VALUE_FLAGS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] != "-" \
                and not argv[i + 1].startswith("--"):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    from ..files import DiskFull, Terminated, is_disk_full, terminate_raises
    from ..logs import configure, verbosity_level

    argv = _join_values(sys.argv[1:] if argv is None else list(argv))
    chosen = next((a for a in argv if not a.startswith("-")), None)
    only = chosen if chosen in COMMANDS else None
    parser = _parser(only)
    try:
        args = parser.parse_args(argv)
    except _ArgumentError as e:  # one line, exit 2, like every other bad input
        prog = e.prog if e.prog != "designspace" or only is None else f"designspace {only}"
        print(f"{prog}: error: {e.message} (see {prog} --help)", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help()
        return 2
    configure(verbosity_level(args.verbose, args.quiet))
    import logging

    logging.getLogger("designspace.cli").debug("designspace %s: %s", args.command,
                                               " ".join(a for a in argv if a != args.command))
    _wire(args)
    try:
        with terminate_raises():
            module = importlib.import_module(COMMANDS[args.command][0])
            return int(module.run(args) or 0)
    except InputError as e:
        print(f"designspace {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # (an OSError: before the clause below)
        return 0
    except OSError as e:
        if not is_disk_full(e):
            raise
        where = e.path if isinstance(e, DiskFull) else (e.filename or "a file")
        print(f"designspace {args.command}: error: no space left on device writing {where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"designspace {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"designspace {args.command}: terminated", file=sys.stderr)
        return Terminated.exit_code


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return " ".join(part.strip() for part in text.splitlines()) if text else type(e).__name__


if __name__ == "__main__":
    # run the imported module, not __main__, so UsageError is the one the commands raise
    from designspace.cli import main as _main

    sys.exit(_main())
