"""``python -m designspace.analysis.commands.simulate``: print the simulation's false-positive
rate, bootstrap coverage and best-region hits (:mod:`designspace.analysis.simulate`)."""
from __future__ import annotations

import argparse
from typing import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    from designspace.analysis.simulate import figures

    p = argparse.ArgumentParser(prog="python -m designspace.analysis.commands.simulate",
                                description="simulated studies with known truth: false positives and coverage")
    p.add_argument("--studies", type=int, default=400, help="simulated studies per figure (default: 400)")
    p.add_argument("--networks", type=int, default=30, help="networks per group (default: 30)")
    p.add_argument("--seeds", type=int, default=5, help="runs per network (default: 5)")
    a = p.parse_args(argv)
    for bad, flag in ((a.studies < 1, "--studies"), (a.networks < 3, "--networks"), (a.seeds < 1, "--seeds")):
        if bad:
            p.error(f"{flag} is too small")
    for line in figures(a.studies, a.networks, a.seeds):
        print(line)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
