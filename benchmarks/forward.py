"""Training-step throughput (forward + backward + SGD step, CPU) of ``designspace.create(name)``
vs ``timm.create_model(name)`` for the same model, measured interleaved in one run.

    python benchmarks/forward.py [--models resnet50,...] [--batch 8] [--resolution 128] [--steps 5] [--rounds 3] [--warmup 3]

Target ratio (ours / timm images per second) >= 1.0.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

DEFAULT = "resnet50,regnetx_032,efficientnet_b0,tresnet_m,resnetrs50"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--resolution", type=int, default=128, help="input size (0 = each model's native resolution)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps of each model first")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of ours/timm (median is reported)")
    ap.add_argument("--device", default="cuda" if os.environ.get("CUDA_VISIBLE_DEVICES") else "cpu")
    args = ap.parse_args()

    import timm
    import torch

    import designspace
    from _common import machine

    dev = torch.device(args.device if args.device != "cuda" or torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    print(f"# training-step throughput, batch {args.batch}, {dev}; {machine()}; torch {torch.__version__}, timm {timm.__version__}")
    print(f"{'model':18s} {'res':>4s} {'ours img/s':>11s} {'timm img/s':>11s} {'ratio':>7s}   "
          "95% CI of the median paired-round ratio")
    ratios = []
    for name in args.models.split(","):
        res = args.resolution or designspace.zoo[name].resolution
        models = {"ours": designspace.create(name).to(dev).train(), "timm": timm.create_model(name).to(dev).train()}
        x = torch.randn(args.batch, 3, res, res, device=dev)
        y = torch.randint(0, 1000, (args.batch,), device=dev)
        opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for k, m in models.items()}

        def step(k: str) -> None:
            opts[k].zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(models[k](x), y).backward()
            opts[k].step()

        def timed(k: str) -> float:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(args.steps):
                step(k)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            return args.batch * args.steps / (time.perf_counter() - t)

        for _ in range(args.warmup):  # warm-up, alternating: allocator and oneDNN caches settle for both
            for k in models:
                step(k)
        speed = {k: [] for k in models}
        for r in range(args.rounds):
            for k in (("ours", "timm") if r % 2 == 0 else ("timm", "ours")):  # alternate: no order bias
                speed[k].append(timed(k))
        ours, ref = statistics.median(speed["ours"]), statistics.median(speed["timm"])
        ratios.append(ours / ref)
        # paired rounds: the ratio of each round, and a bootstrap 95% interval of their median
        paired = [a / b for a, b in zip(speed["ours"], speed["timm"])]
        rng = random.Random(0)
        boot = sorted(statistics.median(rng.choices(paired, k=len(paired))) for _ in range(2000))
        lo, hi = boot[int(0.025 * len(boot))], boot[int(0.975 * len(boot)) - 1]
        print(f"{name:18s} {res:4d} {ours:11.1f} {ref:11.1f} {ours / ref:7.3f}   [{lo:.3f}, {hi:.3f}]")
        del models, opts
    print(f"\nratio ours/timm: geometric mean {statistics.geometric_mean(ratios):.3f}, min {min(ratios):.3f} (target >= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
