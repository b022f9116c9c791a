"""The README's first-hour figures: its training commands run as a new user runs them, with a
fixed thread count, each result line read back.

    python benchmarks/readme.py [--threads 2 1] [--only digits]

A CPU run is bitwise reproducible for a given thread count (and torch build): the error it
prints depends on the thread count, never on the machine's load; the seconds depend on both.
The README quotes the errors this script prints (``DESIGNSPACE_THREADS=2``) and the seconds of
the machine it names.  Results also go to ``benchmarks/results/readme_cpu.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

#: (name, the README's command line after `designspace`)
COMMANDS = [
    ("digits", "train regnetx_002 --data digits --epochs 8 --batch-size 64 --lr 0.2 --warmup-epochs 1"),
    ("fashion_mnist", "train regnetx_002 --data fashion_mnist --resolution 32 --epochs 1 --train-size 6000"),
]
LINE = re.compile(r"top-1 error (?P<error>[\d.]+)%.* in (?P<seconds>[\d.]+) s, (?P<ips>[\d,]+) images/s "
                  r"\((?P<device>[^,]+), (?P<threads>\d+) threads?, seed (?P<seed>\d+)")


def run(command: str, threads: int) -> dict:
    env = dict(os.environ, DESIGNSPACE_THREADS=str(threads))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "designspace", "-q", *command.split()], capture_output=True, text=True,
                       env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"designspace {command} failed ({r.returncode}): {r.stderr.strip()}")
    last = r.stdout.strip().splitlines()[-1]
    m = LINE.search(last)
    if m is None:
        raise SystemExit(f"unexpected result line: {last}")
    return {"command": f"DESIGNSPACE_THREADS={threads} designspace {command}", "line": last,
            "error_pct": float(m["error"]), "train_s": float(m["seconds"]), "wall_s": round(wall, 1),
            "threads": int(m["threads"]), "seed": int(m["seed"]), "device": m["device"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[2], help="thread counts to run (default 2)")
    ap.add_argument("--only", choices=[n for n, _ in COMMANDS], help="one command (default: all)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "readme_cpu.json"),
                    help="JSON file for the results (default benchmarks/results/readme_cpu.json)")
    args = ap.parse_args()

    from _common import machine

    import torch

    print(f"{machine()}, torch {torch.__version__}; load average {os.getloadavg()[0]:.1f} at the start")
    rows = []
    for name, command in COMMANDS:
        if args.only and name != args.only:
            continue
        for threads in args.threads:
            row = {"name": name, **run(command, threads)}
            rows.append(row)
            print(f"{row['command']}\n  -> {row['error_pct']:.2f}% error, {row['train_s']:.1f} s training, "
                  f"{row['wall_s']:.1f} s wall", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    out = Path(args.out)  # runs of other commands or thread counts from earlier calls are kept
    old = json.loads(out.read_text())["runs"] if out.exists() else []
    rows = [r for r in old if r["command"] not in {x["command"] for x in rows}] + rows
    out.write_text(json.dumps({"machine": machine(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
                               "runs": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
