"""Throughput of the short-schedule trainer vs a plain PyTorch loop with a torchvision-style DataLoader.

Both train the same model (same spec, same initialisation) on the same CIFAR-size uint8 synthetic
data with the same augmentation (pad 4, random crop, horizontal flip, normalise) and the same
precision.  The baseline keeps the images as HWC uint8 arrays like ``torchvision.datasets.CIFAR10``
and augments each sample in DataLoader workers (torchvision transforms on PIL images when
torchvision is installed, the same steps in numpy otherwise); ours holds the uint8 data on the
device and augments whole batches there.

On CUDA it also reports, for regnetx_002 and resnet18 at 32x32, images/s, peak GPU memory and the
fraction of wall time the GPU is busy (kernel time from torch.profiler over one training epoch),
and writes ``benchmarks/results/train_<device>.{json,md}``.

    python benchmarks/train.py                          # CPU: small settings, well under 2 minutes
    python benchmarks/train.py --device cuda            # full CIFAR-size run on a GPU
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import designspace  # noqa: E402
from designspace.search import data, train  # noqa: E402
from designspace.search.augment import Augment  # noqa: E402

MEAN, STD = (0.5, 0.5, 0.5), (0.289, 0.289, 0.289)


# ------------------------------------------------------------------------------ baseline
class CifarLikeDataset(torch.utils.data.Dataset):
    """HWC uint8 images augmented per sample, the way torchvision's CIFAR10 + transforms do it."""

    def __init__(self, images_hwc: np.ndarray, labels: np.ndarray, pad: int = 4):
        self.x, self.y, self.pad = images_hwc, labels, pad
        try:
            from torchvision import transforms as T

            self.tf = T.Compose([T.RandomCrop(images_hwc.shape[1], padding=pad), T.RandomHorizontalFlip(),
                                 T.ToTensor(), T.Normalize(MEAN, STD)])
        except ImportError:
            self.tf = None

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = self.x[i]
        if self.tf is not None:
            from PIL import Image

            return self.tf(Image.fromarray(img)), int(self.y[i])
        h, w, p = img.shape[0], img.shape[1], self.pad
        padded = np.pad(img, ((p, p), (p, p), (0, 0)))
        dy, dx = np.random.randint(0, 2 * p + 1, 2)
        img = padded[dy:dy + h, dx:dx + w]
        if np.random.rand() < 0.5:
            img = img[:, ::-1]
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255)
        return (t - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1), int(self.y[i])


def baseline(model: nn.Module, ds: data.Dataset, s: train.Schedule, dev: torch.device, workers: int,
             amp: torch.dtype | None) -> list[float]:
    """A plain training loop; returns images/s of each epoch."""
    images = ds.train_images.permute(0, 2, 3, 1).contiguous().numpy()
    loader = torch.utils.data.DataLoader(
        CifarLikeDataset(images, ds.train_labels.numpy()), batch_size=s.batch_size, shuffle=True,
        num_workers=workers, pin_memory=dev.type == "cuda", drop_last=True, persistent_workers=workers > 0)
    model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum, nesterov=s.nesterov,
                          weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.epochs * len(loader))
    crit = nn.CrossEntropyLoss()
    out = []
    for _ in range(s.epochs):
        _sync(dev)
        t0 = time.perf_counter()
        for x, y in loader:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
                loss = crit(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        _sync(dev)
        out.append(len(loader) * s.batch_size / (time.perf_counter() - t0))
    return out


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


# ----------------------------------------------------------------------------- helpers
def _model(name: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return designspace.create(name, num_classes=10, resolution=32)


def _steady(ips: list[float]) -> float:
    """Mean images/s over the epochs after the first (warm-up: cudnn autotune, compile, workers)."""
    rest = ips[1:] or ips
    return sum(rest) / len(rest)


class _BusyMeter:
    """Fraction of wall time the GPU runs kernels, over one epoch's steps (epoch 2), via torch.profiler."""

    def __init__(self, dev: torch.device, epoch: int = 2):
        self.dev, self.epoch, self.prof, self.fraction = dev, epoch, None, None

    def __call__(self, epoch: int, step: int, steps: int) -> None:
        from torch.profiler import ProfilerActivity, profile

        if epoch != self.epoch or self.dev.type != "cuda":
            return
        if step == 1:
            torch.cuda.synchronize(self.dev)
            self.prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
            self.prof.start()
            self.t0 = time.perf_counter()
        elif step == steps and self.prof is not None:
            torch.cuda.synchronize(self.dev)
            wall_us = (time.perf_counter() - self.t0) * 1e6
            self.prof.stop()
            busy = 0.0
            for e in self.prof.key_averages():
                busy += getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0.0)
            self.fraction = min(busy / wall_us, 1.0) if wall_us > 0 else None
            self.prof = None


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu {platform.machine()} x{os.cpu_count()} threads={torch.get_num_threads()}"


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


# --------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--model", default=None, help="named model for the comparison (default regnetx_002)")
    p.add_argument("--n-train", type=int, default=None, help="images per epoch (default 50000 CUDA, 1024 CPU)")
    p.add_argument("--batch-sizes", default=None, help="comma-separated batch sizes to compare at (default 512,2048 CUDA; 128 CPU)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run, the first is warm-up (default 3 CUDA, 2 CPU)")
    p.add_argument("--workers", type=int, default=None, help="baseline DataLoader workers (default min(8, cpus))")
    p.add_argument("--amp", default="bf16", choices=train.AMP_CHOICES)
    p.add_argument("--compile", action="store_true", help="also time our trainer with compile=True (CUDA graphs)")
    p.add_argument("--models", default="regnetx_002,resnet18", help="CUDA: models to report images/s, memory, busy for")
    p.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--no-write", action="store_true", help="print only, write no result files")
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but CUDA is not available")
    cuda = dev.type == "cuda"
    n_train = a.n_train or (50_000 if cuda else 1024)
    sizes = [int(b) for b in (a.batch_sizes or ("512,2048" if cuda else "128")).split(",") if b]
    epochs = a.epochs or (3 if cuda else 2)
    workers = a.workers if a.workers is not None else min(8, os.cpu_count() or 1)
    model_name = a.model or "regnetx_002"
    ds = data.load("synthetic", n_train=n_train, n_val=min(10_000, max(max(sizes), n_train // 5)), resolution=32)
    ds = dataclasses.replace(ds, mean=MEAN, std=STD, augment=Augment(4, True))
    res: dict[str, Any] = {
        "device": _device_name(dev), "torch": torch.__version__, "n_train": n_train, "epochs": epochs,
        "baseline_workers": workers, "comparisons": [], "models": [],
    }
    s = train.Schedule(epochs=epochs, lr=0.1, weight_decay=5e-4, amp=a.amp)
    amp = train._amp_dtype(s, dev)
    for bs in sizes:
        s = dataclasses.replace(s, batch_size=bs)
        ours = train.fit(_model(model_name, 0), ds, s, device=dev)
        row = {"model": model_name, "batch_size": bs, "precision": ours.precision,
               "ours_images_per_s": _steady([h.images_per_s for h in ours.history])}
        if cuda and a.compile:
            try:
                comp = train.fit(_model(model_name, 0), ds, dataclasses.replace(s, compile=True), device=dev)
                row["ours_compiled_images_per_s"] = _steady([h.images_per_s for h in comp.history])
                row["compile_first_epoch_s"] = comp.history[0].seconds
            except Exception as e:  # noqa: BLE001 - a torch.compile failure is a result to report
                row["compile_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                print(f"  compile=True failed at batch {bs}: {row['compile_error']}", flush=True)
        row["baseline_images_per_s"] = _steady(baseline(_model(model_name, 0), ds, s, dev, workers, amp))
        row["ratio"] = row["ours_images_per_s"] / row["baseline_images_per_s"]
        res["comparisons"].append(row)
        extra = ""
        if "ours_compiled_images_per_s" in row:
            extra = (f", ours compiled {row['ours_compiled_images_per_s']:,.0f} img/s "
                     f"({row['ours_compiled_images_per_s'] / row['baseline_images_per_s']:.2f}x)")
        print(f"[{res['device']}] {model_name} 32x32 batch {bs} {ours.precision}: ours {row['ours_images_per_s']:,.0f} "
              f"img/s, plain loop + DataLoader({workers} workers) {row['baseline_images_per_s']:,.0f} img/s, "
              f"ratio {row['ratio']:.2f}x{extra}", flush=True)
    if cuda:
        s = dataclasses.replace(s, batch_size=sizes[-1], epochs=max(epochs, 3))
        for name in [m for m in a.models.split(",") if m]:
            meter = _BusyMeter(dev)
            r = train.fit(_model(name, 0), ds, s, device=dev, progress=meter)
            row = {"model": name, "batch_size": s.batch_size, "images_per_s": _steady([h.images_per_s for h in r.history[1:]]),  # epoch 2 is profiled
                   "peak_memory_gib": (r.peak_memory_bytes or 0) / 2**30, "gpu_busy_fraction": meter.fraction,
                   "params": r.num_params}
            res["models"].append(row)
            busy = f"{100 * meter.fraction:.0f}%" if meter.fraction is not None else "n/a"
            print(f"  {name} batch {s.batch_size}: {row['images_per_s']:,.0f} img/s, peak {row['peak_memory_gib']:.2f} GiB, "
                  f"GPU busy {busy} (under the profiler)", flush=True)
    if not a.no_write:
        out = Path(a.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"train_{_slug(res['device'] if cuda else 'cpu')}"
        stem.with_suffix(".json").write_text(json.dumps(res, indent=2))
        stem.with_suffix(".md").write_text(_markdown(res))
        print(f"wrote {stem}.json and .md")
    return 0


def _markdown(r: dict[str, Any]) -> str:
    lines = [f"# Trainer throughput on {r['device']}", "",
             f"torch {r['torch']}, {r['n_train']} CIFAR-size (32x32) synthetic images per epoch, {r['epochs']} epochs "
             f"(the first is warm-up and not counted); baseline: plain loop, DataLoader with {r['baseline_workers']} "
             "workers doing per-sample crop/flip/normalise, same model, precision and batch size.", "",
             "| model | batch | precision | ours (img/s) | ours, compile=True (img/s) | baseline (img/s) | ratio |",
             "|---|---|---|---|---|---|---|"]
    for c in r["comparisons"]:
        comp = f"{c['ours_compiled_images_per_s']:,.0f}" if "ours_compiled_images_per_s" in c else "-"
        lines.append(f"| {c['model']} | {c['batch_size']} | {c['precision']} | {c['ours_images_per_s']:,.0f} | {comp} | "
                     f"{c['baseline_images_per_s']:,.0f} | {c['ratio']:.2f}x |")
    if r["models"]:
        lines += ["", "| model (32x32) | params | batch | img/s | peak GPU memory | GPU busy (profiler) |",
                  "|---|---|---|---|---|---|"]
        for m in r["models"]:
            busy = f"{100 * m['gpu_busy_fraction']:.0f}%" if m["gpu_busy_fraction"] is not None else "n/a"
            lines.append(f"| {m['model']} | {m['params'] / 1e6:.2f}M | {m['batch_size']} | {m['images_per_s']:,.0f} | "
                         f"{m['peak_memory_gib']:.2f} GiB | {busy} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
