"""Analytic ``designspace.count()`` vs fvcore on the built model, for the same specs.

Prints per-model time of each, the speed-up, and whether the numbers are identical.
Target: >= 1000x faster, identical numbers.

    python benchmarks/complexity.py [--models resnet50,regnetx_032,...] [--random 5] [--resolution 224]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the package, before tests/designspace/ (a namespace dir of the same name)
sys.path.append(os.path.join(ROOT, "tests"))  # for oracles
sys.path.insert(0, os.path.dirname(__file__))

DEFAULT = "resnet50,resnext50_32x4d,resnetrs50,regnetx_032,regnety_016,efficientnet_b0,tresnet_m"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--random", type=int, default=5, help="also this many specs sampled from the RegNetX space (0.2-4 GFLOPs)")
    ap.add_argument("--resolution", type=int, default=None, help="count at this resolution (default: each spec's)")
    args = ap.parse_args()

    import torch

    import designspace
    from _common import best_time, machine
    from oracles import fvcore_count

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    warnings.simplefilter("ignore")
    specs = [(m, designspace.zoo[m]) for m in args.models.split(",") if m]
    if args.random:
        drawn = designspace.sample("regnetx", n=args.random, seed=0, flops=(2e8, 4e9))
        specs += [(f"regnetx_sample_{i}", designspace.NetSpec.from_json(s)) for i, s in enumerate(drawn.spec)]

    print(f"# count() vs fvcore(build(spec)) on {machine()}")
    print(f"# {designspace.CONVENTION}")
    print(f"{'model':24s} {'res':>4s} {'GFLOPs':>8s} {'count() us':>11s} {'build+fvcore s':>15s} {'speed-up':>10s}  identical")
    ratios, all_equal = [], True
    for name, spec in specs:
        r = args.resolution or spec.resolution
        t_ours = best_time(lambda: designspace.count(spec, r), repeat=5, number=200)
        t0 = time.perf_counter()
        model = designspace.build(spec)
        ref = fvcore_count(model, r, spec.in_chans)
        t_ref = time.perf_counter() - t0
        c = designspace.count(spec, r)
        equal = (c.flops, c.params, c.acts) == ref
        all_equal &= equal
        ratios.append(t_ref / t_ours)
        print(f"{name:24s} {r:4d} {c.flops / 1e9:8.3f} {t_ours * 1e6:11.1f} {t_ref:15.2f} {t_ref / t_ours:9.0f}x  {'yes' if equal else 'NO ' + str(ref)}")
    print(f"\nspeed-up: median {statistics.median(ratios):.0f}x, min {min(ratios):.0f}x (target >= 1000x); "
          f"numbers identical for {'all' if all_equal else 'NOT all'} {len(specs)} specs")
    return 0 if all_equal else 1


if __name__ == "__main__":
    sys.exit(main())
