"""Analysis at population scale: time and report size for 1k / 5k / 20k synthetic models.

    python benchmarks/analyze.py [--sizes 1000 5000 20000]

Two RegNet-like spaces of n/2 models each (error falling with log FLOPs, a space offset, noise),
analysed as ``designspace analyze`` does (report with simultaneous EDF bands, trend fits, verdicts
on network means and the sensitivity sentences).  Prints one JSON line per size: seconds, report bytes, models.
Target (issue 16): 20,000 models well under a minute, report size bounded.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import pandas as pd


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    space = np.where(np.arange(n) < n // 2, "space_a", "space_b")
    w0 = rng.choice([16, 24, 32, 48, 64], n)
    wa = rng.uniform(8, 64, n).round(2)
    wm = rng.uniform(1.5, 3.0, n).round(2)
    depth = rng.integers(6, 20, n)
    flops = (w0 * wa * depth * 3e3 * rng.uniform(0.5, 2, n)).astype(float)
    err = 0.5 - 0.03 * np.log(flops / 1e8) + np.where(space == "space_a", 0.01, 0.0) + rng.normal(0, 0.01, n)
    return pd.DataFrame({"space": space, "id": [f"{i:012x}" for i in range(n)], "error": err, "flops": flops,
                         "params": flops / 50, "w0": w0, "wa": wa, "wm": wm, "depth": depth})


def one(n: int) -> dict:
    from designspace.analysis.report import build_report
    from designspace.analysis.trust import trust_sentences

    df = synthetic(n)
    t0 = time.perf_counter()
    notes = trust_sentences(df, by="space")
    html = build_report(df, by="space", notes=notes)
    dt = time.perf_counter() - t0
    return {"bench": "analyze", "models": n, "seconds": round(dt, 2), "report_bytes": len(html.encode()),
            "report_mb": round(len(html.encode()) / 2 ** 20, 2), "target_s": 60, "host": platform.node(),
            "python": platform.python_version()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    for n in p.parse_args().sizes:
        print(json.dumps(one(n)), flush=True)


if __name__ == "__main__":
    main()
