"""``designspace bench``: measured speed, the second complexity axis.

    designspace bench regnetx_032                                   # this device: train img/s, latency, memory
    designspace bench samples.jsonl --device cuda --batch 256 -o measured.jsonl   # adds columns
    designspace bench --compare tresnet_m resnet50 regnetx_032 efficientnet_b0   # ours beside timm's

Measurements are cached per device (:mod:`designspace.measure`); ``--no-cache`` measures again.
``--compare`` times timm's own model of each name in the same run: a ratio near 1 shows that the
measurement measures the architecture, not our implementation of it (needs timm:
``pip install 'designspace[timm]'``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any, TextIO

from ..errors import UsageError
from ..files import check_output, write_output
from ..flags import MAX_BATCH, MAX_RESOLUTION, MAX_ROUNDS, MAX_THREADS, bounded_int

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL", help="named models, spec JSON files, or one sample file (JSONL/CSV)")
    p.add_argument("--compare", action="store_true", help="also time timm's own model of each named model (default off)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--batch", type=int, default=8, help="batch of the training and throughput rounds (default 8)")
    p.add_argument("--resolution", type=int, default=None, help="input size (default: each spec's own)")
    p.add_argument("--rounds", type=int, default=10, help="timed rounds (default 10)")
    p.add_argument("--steps", type=int, default=2, help="steps per round (default 2)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--no-cache", action="store_true", help="measure even when the cache has the figure (default: use the cache)")
    p.add_argument("-o", "--output", default=None, help="with a sample file: the records with measured columns, "
                   "JSONL (- for stdout; default: a table on stdout)")


def _check(args: argparse.Namespace) -> None:
    if not args.models:
        raise UsageError("name at least one model, spec file or sample file")
    for flag, v, hi in (("--batch", args.batch, MAX_BATCH), ("--rounds", args.rounds, MAX_ROUNDS),
                        ("--steps", args.steps, MAX_ROUNDS), ("--threads", args.threads, MAX_THREADS),
                        ("--resolution", args.resolution, MAX_RESOLUTION)):
        if v is not None:
            bounded_int(flag, v, 1, hi)
    import torch

    try:
        dev = torch.device(args.device)
    except (RuntimeError, TypeError):
        raise UsageError(f"--device {args.device!r} is not a device (cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: CUDA is not available on this machine")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {args.device}: only cpu and cuda are measured")
    check_output(args.output, "-o")
    if args.compare:  # before anything is measured: a missing timm or an unnamed model fails at once
        from .. import zoo
        from ..errors import require

        for ref in args.models:
            if ref not in zoo:
                raise UsageError(f"--compare needs named models (timm has {ref!r} under no name)")
        require("timm", extra="timm", what="bench --compare")


def _sample_file(path: str) -> bool:
    return Path(path).suffix.lower() in (".jsonl", ".csv", ".ndjson")


def _specs(refs: list[str]) -> list[tuple[str, Any]]:
    from ..commands.show import load_spec

    return [(r, load_spec(r)) for r in refs]


def run(args: argparse.Namespace) -> int:
    samples = len(args.models) == 1 and _sample_file(args.models[0])
    if not samples and any(_sample_file(m) for m in args.models):
        raise UsageError("give one sample file, or named models and spec files (not both)")
    if args.output and not samples:
        raise UsageError("-o writes a sample file's records with their measured columns: give one sample file")
    for m in args.models:
        if (m.endswith(".json") or _sample_file(m)) and not os.path.exists(m):
            raise UsageError(f"{m} does not exist")
    _check(args)
    if samples:
        return _run_samples(args)
    return _run_models(args)


def _measure(spec: Any, args: argparse.Namespace) -> Any:
    from ..measure import measure

    return measure(spec, device=args.device, batch=args.batch, resolution=args.resolution, rounds=args.rounds,
                   steps=args.steps, threads=args.threads, cache=not args.no_cache)


def _run_models(args: argparse.Namespace) -> int:
    from .. import CONVENTION, count
    from ._table import format_table, human

    specs = _specs(args.models)
    rows = []
    for ref, spec in specs:
        m = _measure(spec, args)
        c = count(spec, args.resolution)
        row = [ref, human(c.flops), human(c.params), human(c.acts), f"{m.train_images_per_s:,.1f}",
               f"{m.infer_latency_ms:,.1f}", f"{m.infer_images_per_s:,.1f}", human(m.peak_memory_bytes)]
        if args.compare:
            t = _timm_figures(ref, spec, args)
            # ours from the same alternating rounds as timm's, so the columns compare like with like
            row[4], row[5] = f"{t['ours_train']:,.1f}", f"{t['ours_latency']:,.1f}"
            row += [f"{t['train']:,.1f}", f"{t['train_ratio']:.2f}", f"{t['latency']:,.1f}",
                    f"{t['latency_ratio']:.2f}"]
        rows.append(row)
    header = ["model", "FLOPs", "params", "acts", "train img/s", "latency ms", "infer img/s", "peak mem"]
    if args.compare:
        header += ["timm train img/s", "train speed ours/timm", "timm latency ms", "latency speed ours/timm"]
    print(format_table(header, rows, right=[False] + [True] * (len(header) - 1)))
    m0 = _measure(specs[0][1], args)
    print(f"\n{m0.device}, batch {args.batch}, {m0.dtype}, {m0.layout}; median of {args.rounds} rounds; {CONVENTION}")
    if args.compare:
        print("train/latency speed ours/timm: median of per-round ratios, the two models timed in alternating rounds "
              "(above 1: ours is faster; ours runs as the trainer runs it, fast grouped convolutions included)")
    return 0


def _timm_figures(ref: str, spec: Any, args: argparse.Namespace) -> dict[str, float]:
    """timm's own model of a named model timed beside ours in alternating rounds (so a drift of
    the machine's speed hits both alike): timm's train img/s and latency, and the medians of the
    per-round speed ratios ours/timm (above 1: ours is faster)."""
    from .. import build, zoo
    from ..errors import require

    if ref not in zoo:
        raise UsageError(f"--compare needs named models (timm has {ref!r} under no name)")
    timm = require("timm", extra="timm", what="bench --compare")
    import contextlib
    import time

    import torch

    from ..fastconv import accelerated
    from ..measure import _median_ci

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    r = args.resolution or spec.resolution
    spec = spec.replace(resolution=r)
    torch.manual_seed(0)
    theirs = timm.create_model(zoo.entry(ref).timm, num_classes=spec.num_classes)
    ours = build(spec)
    x = torch.randn(args.batch, spec.in_chans, r, r, device=dev).to(memory_format=torch.channels_last)
    x1 = x[:1].contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, spec.num_classes, (args.batch,), device=dev)
    crit = torch.nn.CrossEntropyLoss()
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else contextlib.nullcontext

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    def timed(fn: Any) -> float:
        sync()
        t = time.perf_counter()
        for _ in range(args.steps):
            fn()
        sync()
        return (time.perf_counter() - t) / args.steps

    def steps(model: Any) -> tuple[Any, Any]:
        model.to(dev, memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

        def train() -> None:
            model.train()
            with amp():
                loss = crit(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def infer() -> None:
            model.eval()
            with torch.inference_mode(), amp():
                model(x1)

        return train, infer

    with accelerated(ours, dev):  # ours as the trainer runs it
        (o_train, o_infer), (t_train, t_infer) = steps(ours), steps(theirs)
        for _ in range(3):
            for f in (o_train, t_train, o_infer, t_infer):
                f()
        tr, lat, tr_ratio, lat_ratio, o_tr, o_lat = [], [], [], [], [], []
        for _ in range(args.rounds):
            a, b = timed(o_train), timed(t_train)
            c, d = timed(o_infer), timed(t_infer)
            tr.append(args.batch / b)
            lat.append(1000 * d)
            o_tr.append(args.batch / a)
            o_lat.append(1000 * c)
            tr_ratio.append(b / a)
            lat_ratio.append(d / c)
    return {"train": _median_ci(tr)[0], "latency": _median_ci(lat)[0], "train_ratio": _median_ci(tr_ratio)[0],
            "latency_ratio": _median_ci(lat_ratio)[0], "ours_train": _median_ci(o_tr)[0],
            "ours_latency": _median_ci(o_lat)[0]}


def _run_samples(args: argparse.Namespace) -> int:
    import csv

    from designspace import NetSpec
    from designspace.progress import bar

    path = args.models[0]
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    else:
        records = []
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise UsageError(f"{path}: line {i} is not JSON ({e.msg})") from None
    for i, r in enumerate(records, 1):
        if not isinstance(r, dict) or "spec" not in r:
            raise UsageError(f"{path}: record {i} has no 'spec'")
        r["_spec"] = NetSpec.from_json(r["spec"])
    out = []
    with bar(len(records), "measuring", unit="model", quiet=bool(args.quiet)) as pbar:
        for r in records:
            m = _measure(r.pop("_spec"), args)
            out.append({**r, **m.record()})
            pbar.update(1)
    if args.output is None:
        from ._table import format_table

        print(format_table(["id", "train img/s", "latency ms", "infer img/s"],
                           [[r.get("id", ""), f"{r['train_images_per_s']:,.1f}", f"{r['infer_latency_ms']:,.1f}",
                             f"{r['infer_images_per_s']:,.1f}"] for r in out], right=(False, True, True, True)))
        return 0

    def write(f: TextIO) -> None:
        for r in out:
            f.write(json.dumps(r) + "\n")

    where = write_output(args.output, write)
    log.info("measured %d records -> %s", len(out), where)
    return 0
