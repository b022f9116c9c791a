"""Speed of `designspace sample`, in one run on one machine:

1. wall time and peak RSS of ``designspace sample --n 500`` (process start to exit) against
   ``python -c "import torch"``, each a fresh subprocess, interleaved, median of ``--repeat``;
   prints the ratio (target: < 0.5, and under 1 s);
2. 100,000 RegNetX samples with complexity (in-process ``sample_records``; target < 10 s);
3. the paper's regime: 500 AnyNetX_E models at 360M-400M flops.

    python benchmarks/sample.py [--repeat 5] [--n 500] [--big 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# A wrapper whose only child is the measured command: RUSAGE_CHILDREN's ru_maxrss is then that
# child's peak RSS (KiB on Linux).
_WRAP = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "w = time.perf_counter() - t\n"
    "print(json.dumps({'rc': r.returncode, 'wall': w, 'rss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)
MAIN = "import sys; from designspace.cli import main; sys.exit(main())"


def measure(cmd: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, env=env, check=True)
    res = json.loads(out.stdout)
    if res["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {res['rc']}")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()
    from _common import machine

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        sample_cmd = [sys.executable, "-c", MAIN, "sample", "--n", str(args.n), "-o", os.path.join(tmp, "s.jsonl")]
        torch_cmd = [sys.executable, "-c", "import torch"]
        measure(torch_cmd)  # warm the file cache for both
        measure(sample_cmd)
        runs: dict[str, list[dict]] = {"sample": [], "torch": []}
        for _ in range(args.repeat):
            runs["sample"].append(measure(sample_cmd))
            runs["torch"].append(measure(torch_cmd))
    med = {k: statistics.median(r["wall"] for r in v) for k, v in runs.items()}
    rss = {k: max(r["rss_kib"] for r in v) / 1024 for k, v in runs.items()}
    print(f"designspace sample --n {args.n}: {med['sample']:.3f} s wall (median of {args.repeat}), peak RSS {rss['sample']:.0f} MiB")
    print(f"python -c 'import torch':   {med['torch']:.3f} s wall (median of {args.repeat}), peak RSS {rss['torch']:.0f} MiB")
    print(f"ratio sample / import torch: {med['sample'] / med['torch']:.2f}  (target < 0.5; sample < 1 s: "
          f"{'yes' if med['sample'] < 1 else 'NO'}; RSS < 150 MiB: {'yes' if rss['sample'] < 150 else 'NO'})")

    from designspace.spaces import Regime, get_space, sample_records

    t = time.perf_counter()
    res = sample_records(get_space("regnetx"), args.big, seed=0)
    dt = time.perf_counter() - t
    print(f"{args.big:,} RegNetX samples with complexity: {dt:.2f} s ({res.drawn:,} draws; target < 10 s)")
    t = time.perf_counter()
    res = sample_records(get_space("anynetx_e"), 500, seed=1, regime=Regime.of(flops="360M:400M"))
    dt = time.perf_counter() - t
    print(f"500 AnyNetX_E at 360M-400M flops: {dt:.2f} s ({res.drawn:,} draws, acceptance {100 * res.rate:.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
