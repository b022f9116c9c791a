"""Models per hour: training a whole population on Fashion-MNIST, every per-model cost included.

A fixed population (``--n`` specs drawn with a fixed seed from RegNetX at 3-9 MFLOPs, 32 px,
grey, 10 classes) and a fixed schedule, trained three ways in one run:

* **ours**: ``designspace train samples.jsonl --workers K`` (one process start, K worker
  processes that each load the data once, keep it on the device and train model after model;
  on CPU each worker takes cores / K threads; small feature maps as matrix products);
* **ours, no sharing**: our trainer started once per model (``designspace train spec.json``):
  process start, imports, data loading and upload paid by every model;
* **plain loop**: what a pycls/timm user writes: one process per model, torchvision's
  ``FashionMNIST`` with per-sample transforms (pad, random crop, flip, ToTensor, Normalize) in a
  ``DataLoader``, an eager SGD loop with the same schedule, evaluation every epoch.

All three train the same networks (``designspace.build`` of the same specs, same init seed) on
the same training subset and validation split.  Printed for each: models per hour, images per
second over the whole run (training images of every model / wall time), and the fraction of the
machine's dense-convolution throughput that training reaches (3 x forward multiply-adds per
training image, over the training steps' own time and over the whole run), the peak measured in
the same run (a 3x3 conv, 256 channels, 16x16, forward + backward, every core).  Then the
ratios.  On CUDA it also reports the per-model fixed cost (everything but training steps), peak
memory and the GPU's busy fraction.

    python benchmarks/population.py                    # CPU, 24 models (about 25 min on 2 cores)
    python benchmarks/population.py --n 8 --ways ours,plain     # quicker
    python benchmarks/population.py --device cuda --epochs 10 --train-size 50000 --workers 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402

PLAIN = r'''
"""The plain loop: one model per process, torchvision data pipeline, eager training."""
import json, math, sys, time
t_start = time.perf_counter()
import numpy as np
import torch
from torch import nn
from torchvision import datasets, transforms
import designspace

cfg = json.loads(sys.argv[1])
spec = designspace.NetSpec.from_json(cfg["spec"])
dev = torch.device(cfg["device"])
root = cfg["root"]
pad = (cfg["resolution"] - 28) // 2
norm = transforms.Normalize((cfg["mean"],), (cfg["std"],))
train_tf = transforms.Compose([transforms.Pad(pad), transforms.RandomCrop(cfg["resolution"], padding=2),
                               transforms.RandomHorizontalFlip(), transforms.ToTensor(), norm])
val_tf = transforms.Compose([transforms.Pad(pad), transforms.ToTensor(), norm])
train_set = torch.utils.data.Subset(datasets.FashionMNIST(root, train=True, transform=train_tf), cfg["train_idx"])
val_set = torch.utils.data.Subset(datasets.FashionMNIST(root, train=True, transform=val_tf), cfg["val_idx"])
loader = torch.utils.data.DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True, drop_last=True,
                                     num_workers=cfg["loader_workers"], pin_memory=dev.type == "cuda",
                                     persistent_workers=cfg["loader_workers"] > 0)
val_loader = torch.utils.data.DataLoader(val_set, batch_size=1024, num_workers=cfg["loader_workers"])
torch.manual_seed(cfg["seed"])
model = designspace.build(spec).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, nesterov=True, weight_decay=5e-4)
steps = cfg["epochs"] * len(loader)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
crit = nn.CrossEntropyLoss()
amp = torch.bfloat16 if dev.type == "cuda" else None
train_s = 0.0
for epoch in range(cfg["epochs"]):
    model.train()
    t0 = time.perf_counter()
    for x, y in loader:
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            loss = crit(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    train_s += time.perf_counter() - t0
    model.eval()
    wrong = n = 0
    with torch.no_grad():
        for x, y in val_loader:
            x, y = x.to(dev), y.to(dev)
            with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
                wrong += int((model(x).argmax(1) != y).sum())
            n += len(y)
print(json.dumps({"error": wrong / n, "train_s": train_s, "seconds": time.perf_counter() - t_start}))
'''


def dense_peak(threads: int, device: str = "cpu") -> float:
    """Multiply-adds per second of a dense 3x3 conv (256 channels, 16x16, batch 64), forward +
    backward, channels_last, best of 5, with ``threads`` threads (CPU) or on the GPU (bf16)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cpu":
        torch.set_num_threads(threads)
    n, c, hw = (64, 256, 16) if dev.type == "cpu" else (256, 256, 32)
    conv = torch.nn.Conv2d(c, c, 3, padding=1, bias=False).to(dev, memory_format=torch.channels_last)
    x = torch.randn(n, c, hw, hw, device=dev).to(memory_format=torch.channels_last).requires_grad_()
    amp = torch.bfloat16 if dev.type == "cuda" else None
    best = float("inf")
    for i in range(8):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
            y = conv(x)
        y.float().sum().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            best = min(best, time.perf_counter() - t)
    return 3 * n * c * c * 9 * hw * hw / best


def population(n: int, seed: int, space: str, flops: str) -> list[dict]:
    from designspace.spaces import Regime, get_space, sample_records

    sp = get_space(space, resolution=32, num_classes=10, in_chans=1)
    return sample_records(sp, n, seed=seed, regime=Regime.of(flops=flops)).records


def _run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd[:6])} ...\n{r.stderr[-3000:]}")
    return r


def way_ours(recs: list[dict], args: argparse.Namespace, tmp: Path) -> dict:
    samples = tmp / "pop.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp / "ours.jsonl"
    cmd = [sys.executable, "-m", "designspace", "-q", "train", str(samples), "--data", "fashion_mnist",
           "--train-size", str(args.train_size), "--val-size", str(args.val_size), "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--workers", str(args.workers),
           "--out", str(out)] + (["--device", args.device] if args.device != "cpu" else [])
    t0 = time.perf_counter()
    _run(cmd)
    wall = time.perf_counter() - t0
    res = [json.loads(l) for l in out.read_text().splitlines()]
    return {"wall": wall, "results": res}


def way_unshared(recs: list[dict], args: argparse.Namespace, tmp: Path) -> dict:
    res = []
    t0 = time.perf_counter()
    for i, r in enumerate(recs):
        f = tmp / f"spec{i}.json"
        f.write_text(r["spec"])
        out = tmp / f"unshared{i}.json"
        cmd = [sys.executable, "-m", "designspace", "-q", "train", str(f), "--data", "fashion_mnist",
               "--train-size", str(args.train_size), "--val-size", str(args.val_size), "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--out", str(out)] + (
               ["--device", args.device] if args.device != "cpu" else [])
        _run(cmd)
        d = json.loads(out.read_text())
        res.append({"error": d["history"][-1]["val_top1_err"], "train_s": d["extra"]["train_s"],
                    "seconds": d["seconds"]})
    return {"wall": time.perf_counter() - t0, "results": res}


def way_plain(recs: list[dict], args: argparse.Namespace, tmp: Path) -> dict:
    import gzip

    import numpy as np

    from designspace.search import data
    from designspace.search.mnist import VAL_SEED, split_indices

    raw = tmp / "FashionMNIST" / "raw"  # torchvision's layout, decompressed once (a user has it after a download)
    raw.mkdir(parents=True, exist_ok=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        src = Path("/usr/share/datasets/fashion-mnist") / f"{name}.gz"
        if not src.exists():
            src = Path(os.environ.get("DESIGNSPACE_DATA", "")) / f"{name}.gz"
        (raw / name).write_bytes(gzip.decompress(src.read_bytes()))
    # the same split as ours: the held-out validation images and the stratified training subset
    from designspace.search.mnist import IDX_SETS, read_idx

    labels = read_idx(raw / "train-labels-idx1-ubyte", IDX_SETS["fashion_mnist"].files[1]).astype(np.int64)
    va = split_indices(labels, args.val_size, VAL_SEED)
    rest = np.setdiff1d(np.arange(len(labels)), va)
    keep = rest[split_indices(labels[rest], args.train_size, VAL_SEED + 1)]
    ds = data.load("fashion_mnist", resolution=32, train_size=args.train_size, val_size=args.val_size)
    loader_workers = min(4, os.cpu_count() or 1)
    res = []
    t0 = time.perf_counter()
    for r in recs:
        spec = json.loads(r["spec"])
        cfg = {"spec": json.dumps(spec), "device": args.device, "root": str(tmp), "resolution": 32,
               "mean": ds.mean[0], "std": ds.std[0], "train_idx": keep.tolist(), "val_idx": va.tolist(),
               "batch_size": args.batch_size, "loader_workers": loader_workers, "seed": 0, "lr": args.lr,
               "epochs": args.epochs}
        p = _run([sys.executable, "-c", PLAIN, json.dumps(cfg)])
        res.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {"wall": time.perf_counter() - t0, "results": res}


def summarise(name: str, w: dict, recs: list[dict], args: argparse.Namespace, peak: float) -> dict:
    n = len(recs)
    images = n * args.epochs * args.train_size
    macs = sum(3 * r["flops"] for r in recs) * args.epochs * args.train_size
    parallel = args.workers if name == "ours" else 1  # ours trains `workers` models at once
    train_s = sum(r.get("train_s", 0.0) for r in w["results"]) / parallel
    errs = [r["error"] for r in w["results"] if r.get("error") is not None]
    out = {"way": name, "models": n, "wall_s": w["wall"], "models_per_hour": n / w["wall"] * 3600,
           "images_per_s": images / w["wall"], "peak_fraction_run": macs / w["wall"] / peak,
           "peak_fraction_steps": (macs / train_s / peak) if train_s else None,
           "mean_error": sum(errs) / len(errs) if errs else None, "fixed_s_per_model": (w["wall"] - train_s) / n}
    if name == "ours":
        rr = w["results"]
        out["per_model_costs_s"] = {k: sum(r[k] for r in rr) / n for k in ("build_s", "setup_s", "capture_s",
                                                                            "train_s", "eval_s", "seconds")}
        out["step_modes"] = sorted({r["step_mode"] for r in rr})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="models in the population (default 24)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--space", default="regnetx")
    ap.add_argument("--flops", default="3M:9M")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-size", type=int, default=2000)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=None, help="ours: worker processes (default: 2 on CPU, 2 per GPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ways", default="ours,unshared,plain")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    import torch

    cores = len(os.sched_getaffinity(0))
    args.workers = args.workers or 2
    recs = population(args.n, args.seed, args.space, args.flops)
    peak = dense_peak(cores, args.device)
    torch.set_num_threads(cores)
    print(f"{machine()}; torch {torch.__version__}; device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else ""))
    print(f"population: {len(recs)} {args.space} models at {args.flops} flops (32 px, grey, 10 classes), "
          f"flops {min(r['flops'] for r in recs) / 1e6:.2f}-{max(r['flops'] for r in recs) / 1e6:.2f}M; schedule "
          f"{args.epochs} epoch(s) x {args.train_size} images, batch {args.batch_size}, val {args.val_size}")
    print(f"dense-conv peak (3x3, 256 ch, fwd+bwd, {cores} threads): {peak / 1e9:.1f} GMAC/s")
    figures = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for way in args.ways.split(","):
            fn = {"ours": way_ours, "unshared": way_unshared, "plain": way_plain}[way]
            w = fn(recs, args, tmp)
            s = summarise(way, w, recs, args, peak)
            figures.append(s)
            steps = f"{100 * s['peak_fraction_steps']:.1f}%" if s["peak_fraction_steps"] else "-"
            print(f"{way:9s} {s['wall_s']:8.1f} s  {s['models_per_hour']:8.0f} models/h  {s['images_per_s']:8.0f} img/s"
                  f"  peak {100 * s['peak_fraction_run']:.1f}% (run) {steps} (steps)  fixed {s['fixed_s_per_model']:.2f} s/model"
                  f"  mean error {100 * (s['mean_error'] or 0):.2f}%", flush=True)
            if way == "ours":
                c = s["per_model_costs_s"]
                print("          per model: " + ", ".join(f"{k} {v:.2f}" for k, v in c.items())
                      + f"; step modes {s['step_modes']}")
    by = {f["way"]: f for f in figures}
    if "ours" in by:
        for other in ("plain", "unshared"):
            if other in by:
                print(f"ours / {other}: {by['ours']['models_per_hour'] / by[other]['models_per_hour']:.2f}x models per hour")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "args": vars(args), "peak_macs": peak,
                                               "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
