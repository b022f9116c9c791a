"""The ``designspace`` command.

Each subcommand lives in its own module, ``<package>/commands/<name>.py``, exposing
``add_arguments(parser)`` and ``run(args) -> int``.  Only the chosen subcommand's module is
imported, so ``designspace sample`` never pays for torch, optuna or plotly.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("designspace.commands.list", "list the named models with resolution, params and GFLOPs"),
    "show": ("designspace.commands.show", "show a named model or spec file stage by stage"),
    "spaces": ("designspace.commands.spaces", "list the built-in design spaces"),
    "sample": ("designspace.commands.sample", "sample models from a design space to JSONL/CSV"),
    "train": ("search.commands.train", "train a named model or spec on a dataset"),
    "study": ("search.commands.study", "run, inspect and export Optuna studies"),
    "dashboard": ("search.commands.dashboard", "serve optuna-dashboard for a study"),
    "analyze": ("analysis.commands.analyze", "EDF comparison report from studies or CSV files"),
}


class UsageError(Exception):
    """A bad command-line value: printed as one line, exit status 2."""


def _parser(only: str | None) -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="designspace", description="Design spaces of convolutional networks.")
    p.add_argument("--version", action="version", version=f"designspace {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        if name == only:
            importlib.import_module(module).add_arguments(sp)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    only = chosen if chosen in COMMANDS else None
    parser = _parser(only)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .spec import SpecError

    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except (UsageError, SpecError) as e:
        print(f"designspace {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"designspace {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    # run the imported module, not __main__, so UsageError is the one the commands raise
    from designspace.cli import main as _main

    sys.exit(_main())
