"""``designspace train SPEC_OR_NAME --data cifar10 --epochs 10``: train one model, print its error.

SPEC_OR_NAME is a named model (``designspace list``) or a spec JSON file; the number of classes
and the resolution come from the dataset.  A progress bar per epoch goes to stderr; the last
line of stdout gives the validation error, the time and the throughput.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from designspace.cli import UsageError

DATASETS = ("cifar10", "cifar100", "imagefolder", "digits", "synthetic")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="SPEC_OR_NAME", help="a named model or a path to a spec JSON file")
    p.add_argument("--data", default="cifar10", help=f"dataset: {', '.join(DATASETS)} (default cifar10)")
    p.add_argument("--data-root", default=None, help="directory holding (or receiving) the dataset "
                   "(default $DESIGNSPACE_DATA or ~/.cache/designspace/data)")
    p.add_argument("--no-download", action="store_true", help="never download; fail if the data is not there")
    p.add_argument("--resolution", type=int, default=None,
                   help="image size (default: the dataset's; the spec's for imagefolder)")
    g = p.add_argument_group("schedule")
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--batch-size", type=int, default=256)
    g.add_argument("--lr", type=float, default=0.1, help="peak learning rate (default 0.1)")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--no-nesterov", action="store_true", help="plain momentum instead of Nesterov's")
    g.add_argument("--weight-decay", type=float, default=5e-4)
    g.add_argument("--label-smoothing", type=float, default=0.0)
    g.add_argument("--warmup-epochs", type=float, default=0.0)
    g.add_argument("--ema", type=float, default=0.0, help="weight EMA decay, e.g. 0.999 (default off)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--amp", default="bf16", help="CUDA autocast: bf16, fp16 or off (CPU is always fp32)")
    g.add_argument("--no-channels-last", action="store_true")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")
    p.add_argument("--workers", type=int, default=4, help="DataLoader workers when data is streamed")
    p.add_argument("--out", default=None, help="write the result (spec, schedule, history) as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _spec(arg: str) -> Any:
    import designspace

    path = Path(arg)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UsageError(f"spec file {arg} does not exist")
        return designspace.NetSpec.from_json(path.read_text())
    return designspace.zoo[arg]  # SpecError with close matches when unknown


class _Bar:
    """A one-line progress bar on ``stream``, redrawn at most ten times a second."""

    def __init__(self, epochs: int, stream: TextIO = sys.stderr, quiet: bool = False):
        self.epochs, self.stream, self.quiet = epochs, stream, quiet
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0

    def step(self, epoch: int, step: int, steps: int) -> None:
        if self.quiet or not self.tty:
            return
        now = time.perf_counter()
        if step != steps and now - self.last < 0.1:
            return
        self.last = now
        n = 30 * step // steps
        self.stream.write(f"\repoch {epoch}/{self.epochs} [{'#' * n}{'.' * (30 - n)}] {step}/{steps}")
        self.stream.flush()

    def epoch(self, s: Any) -> None:
        if self.quiet:
            return
        top5 = f"  top-5 {100 * s.val_top5_err:.2f}%" if s.val_top5_err is not None else ""
        line = (f"epoch {s.epoch}/{self.epochs}  loss {s.train_loss:.4f}  top-1 {100 * s.val_top1_err:.2f}%{top5}"
                f"  {s.images_per_s:,.0f} img/s  {s.seconds:.1f} s")
        self.stream.write(("\r\033[K" if self.tty else "") + line + "\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from search import data, train

    if args.data not in DATASETS:
        raise UsageError(f"--data {args.data!r} is not one of {', '.join(DATASETS)}")
    if args.resolution is not None and args.resolution < 1:
        raise UsageError(f"--resolution {args.resolution} must be a positive integer")
    if args.workers < 0:
        raise UsageError(f"--workers {args.workers} must be >= 0")
    try:
        schedule = train.Schedule(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
            nesterov=not args.no_nesterov and args.momentum > 0, weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing, warmup_epochs=args.warmup_epochs, ema=args.ema, seed=args.seed,
            amp=args.amp, channels_last=not args.no_channels_last, compile=args.compile,
        )
    except ValueError as e:  # "schedule.epochs=0 must be ..." -> "--epochs 0 must be ..."
        raise UsageError(_flag_message(str(e))) from None
    spec = _spec(args.model)
    import torch

    device = args.device
    if device is not None:
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise UsageError(f"--device {device!r} is not a device (cpu, cuda, cuda:N)") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"--device {device}: CUDA is not available on this machine")
    resolution = args.resolution or (spec.resolution if args.data == "imagefolder" else None)
    try:
        ds = data.load(args.data, args.data_root, resolution=resolution, download=not args.no_download)
    except data.DatasetError as e:
        print(f"designspace train: error: {e}", file=sys.stderr)
        return 1
    import designspace

    spec = spec.replace(num_classes=ds.num_classes, resolution=ds.resolution)
    torch.manual_seed(schedule.seed)
    model = designspace.build(spec)
    bar = _Bar(schedule.epochs, quiet=args.quiet)
    name = args.model if args.model in designspace.zoo else spec.id
    try:
        result = train.fit(model, ds, schedule, callback=bar.epoch, device=device, progress=bar.step,
                           workers=args.workers)
    except train.TrainingError as e:
        print(f"designspace train: error: {e}", file=sys.stderr)
        return 1
    f = result.final
    top5 = f", top-5 error {100 * f.val_top5_err:.2f}%" if f.val_top5_err is not None else ""
    mean_ips = sum(s.images_per_s for s in result.history) / len(result.history)
    print(f"{name} on {ds.name}: top-1 error {100 * f.val_top1_err:.2f}%{top5} after {f.epoch} epochs "
          f"in {result.seconds:.1f} s, {mean_ips:,.0f} images/s ({result.device}, {result.precision})")
    if args.out:
        out = {"model": args.model, "spec": spec.to_dict(), "spec_id": spec.id, **result.to_dict()}
        Path(args.out).write_text(json.dumps(out, indent=2))
    return 0


def _flag_message(msg: str) -> str:
    if msg.startswith("schedule."):
        field, _, rest = msg[len("schedule."):].partition("=")
        value, _, why = rest.partition(" ")
        return f"--{field.replace('_', '-')} {value} {why}"
    return msg
