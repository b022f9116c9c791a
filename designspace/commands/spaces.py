"""`designspace spaces`: the built-in design spaces, one line each; with names (or TOML files),
each space's parameters and their domains."""
from __future__ import annotations

import argparse

from ..errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help="spaces (or .toml files) to describe parameter by parameter")


def run(args: argparse.Namespace) -> int:
    from ..spaces import SPACES, SpaceError, get_space

    if not args.names:
        width = max(len(k) for k in SPACES)
        for name, s in SPACES.items():
            print(f"{name:<{width}}  {len(s.params):>2} params  {s.title}")
        print("\n`designspace spaces NAME` shows a space's parameters; `designspace sample --space NAME` samples it.")
        return 0
    for i, name in enumerate(args.names):
        try:
            s = get_space(name)
        except SpaceError as e:
            raise UsageError(str(e)) from None
        if i:
            print()
        print(s.describe())
        regime = getattr(s, "regime", None)
        if regime is not None:
            print(f"  constraints: {regime}")
    return 0
