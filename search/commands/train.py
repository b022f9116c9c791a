"""``designspace train``: train one model, or a whole population from a sample file.

    designspace train regnetx_002 --data fashion_mnist --epochs 10 --out result.json
    designspace train samples.jsonl --data fashion_mnist --epochs 10 --workers 2 --out results.jsonl

SPEC_OR_NAME is a named model (``designspace list``), a spec JSON file, or a sample file
(``designspace sample`` JSONL or CSV).  The number of classes, the resolution and the input
channels come from the dataset.  One model: a progress bar per epoch on stderr, the validation
error on the last line of stdout, ``--out`` written atomically.  A population: one line per
model on stdout as it finishes, every result appended to ``--out`` (JSON lines) at once, and the
same command run again resumes, skipping the models already in the file.  Every flag and the
output path are checked before any data is loaded.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from designspace.errors import UsageError
from designspace.files import check_output, write_output
from designspace.flags import (MAX_BATCH, MAX_EPOCHS, MAX_IMAGES, MAX_RESOLUTION, MAX_SEED, MAX_THREADS, MAX_WORKERS,
                               bounded_int)

log = logging.getLogger(__name__)

DATASETS = ("fashion_mnist", "mnist", "kmnist", "cifar10", "cifar100", "imagefolder", "digits", "synthetic")
SAMPLE_SUFFIXES = (".jsonl", ".csv", ".ndjson")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="SPEC_OR_NAME", help="a named model, a spec JSON file, or a sample file (JSONL/CSV)")
    p.add_argument("--data", default="cifar10", help=f"dataset: {', '.join(DATASETS)} (default cifar10)")
    p.add_argument("--data-root", default=None, help="directory holding (or receiving) the dataset "
                   "(default $DESIGNSPACE_DATA, then the system copy, then ~/.cache/designspace/data)")
    p.add_argument("--no-download", action="store_true", help="never download; fail if the data is not there (default: download when missing)")
    p.add_argument("--resolution", type=int, default=None,
                   help="image size (default: the dataset's; the spec's for imagefolder; Fashion-MNIST 28, "
                        "or 32 zero-padded)")
    p.add_argument("--train-size", type=int, default=None,
                   help="train on this many images (stratified, seeded subset; MNIST-family data sets; default: all "
                        "but the validation split)")
    p.add_argument("--val-size", type=int, default=None,
                   help="held-out validation images (stratified; MNIST family, default 10000)")
    p.add_argument("--split", default="val", help="val: evaluate on the held-out validation split (default); "
                   "test: train on the whole training set, evaluate on the official test set (MNIST family)")
    g = p.add_argument_group("schedule")
    g.add_argument("--epochs", type=int, default=10, help=f"training epochs, at most {MAX_EPOCHS:,} (default 10)")
    g.add_argument("--batch-size", type=int, default=256, help="training batch (default 256)")
    g.add_argument("--lr", type=float, default=0.1, help="peak learning rate (default 0.1)")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum in [0, 1) (default 0.9)")
    g.add_argument("--no-nesterov", action="store_true", help="plain momentum instead of Nesterov's (default: Nesterov)")
    g.add_argument("--weight-decay", type=float, default=5e-4,
                   help="weight decay of conv and linear weights; norm parameters and biases get none (default 5e-4)")
    g.add_argument("--label-smoothing", type=float, default=0.0, help="label smoothing in [0, 1) (default 0: off)")
    g.add_argument("--warmup-epochs", type=float, default=0.0,
                   help="epochs of linear learning-rate warmup before the cosine decay, may be fractional (default 0)")
    g.add_argument("--ema", type=float, default=0.0, help="weight EMA decay, e.g. 0.999 (default off)")
    g.add_argument("--seed", type=int, default=0, help="seed of the initialisation, data order and augmentation; "
                   "with the same thread count, the same seed gives the same digits (default 0)")
    g.add_argument("--eval-every", type=int, default=1, help="evaluate every N epochs and after the last (default 1)")
    g.add_argument("--amp", default="bf16", help="CUDA autocast: bf16, fp16 or off (default bf16; CPU is always fp32)")
    g.add_argument("--no-channels-last", action="store_true",
                   help="keep the NCHW layout (default: channels_last, faster on CPU and CUDA)")
    g.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA; default off)")
    g.add_argument("--cuda-graphs", default="auto", help="CUDA: capture the training step as a graph: auto, on, off (default auto: kept when faster)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")
    p.add_argument("--workers", type=int, default=None,
                   help="population: training processes (default 1); one model: DataLoader workers when data is "
                        "streamed (default 4)")
    p.add_argument("--devices", default=None, help="population: comma-separated devices, worker i on devices[i %% n] (default: --device for every worker)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per process (default: cores / this user's "
                   "training processes on the machine, or OMP_NUM_THREADS)")
    p.add_argument("--out", "-o", default=None, help="one model: result JSON (atomic; - for stdout); a population: "
                   "results JSON lines, appended as models finish (required; default for one model: no file)")


def _is_sample_file(arg: str) -> bool:
    return Path(arg).suffix.lower() in SAMPLE_SUFFIXES


def _spec(arg: str) -> Any:
    import designspace

    path = Path(arg)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UsageError(f"spec file {arg} does not exist")
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read {arg}: {e}") from None
        return designspace.NetSpec.from_json(text)
    return designspace.zoo[arg]  # SpecError with close matches when unknown


def _schedule(args: argparse.Namespace) -> Any:
    from designspace.search import train

    try:
        return train.Schedule(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
            nesterov=not args.no_nesterov and args.momentum > 0, weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing, warmup_epochs=args.warmup_epochs, ema=args.ema, seed=args.seed,
            amp=args.amp, channels_last=not args.no_channels_last, compile=args.compile, cuda_graphs=args.cuda_graphs,
            eval_every=args.eval_every,
        )
    except ValueError as e:  # "schedule.epochs=0 must be ..." -> "--epochs 0 must be ..."
        raise UsageError(_flag_message(str(e))) from None


def _check(args: argparse.Namespace, population: bool) -> None:
    """Every flag and the output, before any work."""
    if args.data not in DATASETS:
        import difflib

        close = difflib.get_close_matches(args.data, DATASETS, n=1)
        raise UsageError(f"--data {args.data!r} is not one of {', '.join(DATASETS)}"
                         + (f"; did you mean {close[0]}?" if close else ""))
    for flag, v, lo, hi in (("--resolution", args.resolution, 1, MAX_RESOLUTION),
                            ("--train-size", args.train_size, 10, MAX_IMAGES), ("--val-size", args.val_size, 10, MAX_IMAGES),
                            ("--workers", args.workers, 1 if population else 0, MAX_WORKERS),
                            ("--threads", args.threads, 1, MAX_THREADS), ("--epochs", args.epochs, None, MAX_EPOCHS),
                            ("--batch-size", args.batch_size, None, MAX_BATCH), ("--seed", args.seed, None, MAX_SEED),
                            ("--eval-every", args.eval_every, None, MAX_EPOCHS)):
        if v is not None and (lo is not None or v > hi):  # without lo here: the schedule's check names the flag
            bounded_int(flag, v, lo or 0, hi)
    if args.split not in ("val", "test"):
        raise UsageError(f"--split {args.split!r} is not one of val, test")
    mnist = args.data in ("fashion_mnist", "mnist", "kmnist")
    if not mnist and (args.train_size is not None or args.val_size is not None or args.split != "val"):
        raise UsageError(f"--train-size, --val-size and --split apply to the MNIST-family data sets, not {args.data}")
    if population:
        if args.out is None:
            raise UsageError("training a sample file needs --out RESULTS.jsonl (results are appended as each model "
                             "finishes; the same command run again resumes)")
        check_output(args.out, "--out", allow_stdout=False)
    else:
        check_output(args.out, "--out")
        if args.devices is not None:
            raise UsageError("--devices applies to a population (a sample file); use --device for one model")
    import torch

    for dev in ([args.device] if args.device else []):
        try:
            d = torch.device(dev)
        except RuntimeError:
            raise UsageError(f"--device {dev!r} is not a device (cpu, cuda, cuda:N)") from None
        if d.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"--device {dev}: CUDA is not available on this machine")


#: native image size of the data sets whose size is fixed (a network needing more gets 32, padded)
NATIVE = {"fashion_mnist": 28, "mnist": 28, "kmnist": 28}


def _resolution(args: argparse.Namespace, specs: list[Any]) -> int | None:
    """``--resolution``, else the one the networks need: an MNIST-family image is 28x28, padded
    with zeros to 32 when a network's total stride is more than 28 (e.g. every stride-32 RegNet)."""
    if args.resolution is not None:
        return args.resolution
    native = NATIVE.get(args.data)
    if native is None:
        return specs[0].resolution if args.data == "imagefolder" else None
    need = max(s.stride for s in specs)
    if need <= native:
        return None
    if need <= 32:
        log.info("designspace train: the network's total stride is %d: %s images padded from %d to 32 px",
                 need, args.data, native)
        return 32
    raise UsageError(f"the network's total stride {need} exceeds {args.data}'s {native} px; pass --resolution N "
                     f"(N >= {need}) to resize the images")


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.train_size is not None:
        opts["train_size"] = args.train_size
    if args.val_size is not None:
        opts["val_size"] = args.val_size
    if args.split != "val":
        opts["split"] = args.split
    return opts


def run(args: argparse.Namespace) -> int:
    population = _is_sample_file(args.model)
    _check(args, population)
    schedule = _schedule(args)
    if population:
        return _run_population(args, schedule)
    return _run_one(args, schedule)


def _run_one(args: argparse.Namespace, schedule: Any) -> int:
    from designspace.search import data, train

    spec = _spec(args.model)
    try:
        ds = data.load(args.data, args.data_root, resolution=_resolution(args, [spec]), download=not args.no_download,
                       **_data_options(args))
    except data.UnknownDataset as e:
        raise UsageError(str(e)) from None
    except data.DatasetError as e:
        log.error("designspace train: error: %s", e)
        return 1
    import torch

    import designspace

    _share_threads(args, schedule)
    spec = spec.replace(num_classes=ds.num_classes, resolution=ds.resolution, in_chans=ds.channels)
    torch.manual_seed(schedule.seed)
    model = designspace.build(spec)
    pbar, step, epoch_line = _progress(schedule, bool(args.quiet))
    try:
        result = train.fit(model, ds, schedule, callback=epoch_line, device=args.device, progress=step,
                           workers=4 if args.workers is None else args.workers)
    except train.TrainingError as e:
        pbar.close()
        log.error("designspace train: error: %s", e)
        return 1
    pbar.close()
    _report_one(args, spec, ds, schedule, result)
    return 0


def _share_threads(args: argparse.Namespace, schedule: Any) -> None:
    """Register this process as a trainer and take its share of the cores; say how many on a CPU."""
    import torch

    from designspace.search.cores import register, share_threads, thread_choice

    register()
    threads, why = thread_choice(args.threads)
    share_threads(args.threads)
    if (args.device or "cpu").startswith("cpu") or not torch.cuda.is_available():
        log.info("designspace train: %d CPU thread%s (%s), seed %d", threads, "s" if threads != 1 else "", why,
                 schedule.seed)


def _progress(schedule: Any, quiet: bool) -> tuple[Any, Any, Any]:
    """A step bar and the trainer's two callbacks: ``(bar, step(epoch, i, steps), epoch_line(summary))``."""
    from designspace.progress import bar

    pbar = bar(None, "training", unit="step", quiet=quiet)

    def step(epoch: int, i: int, steps: int) -> None:
        if pbar.total != steps:
            pbar.reset(total=steps)
            pbar.set_description(f"epoch {epoch}/{schedule.epochs}")
        pbar.update(1)

    def epoch_line(s: Any) -> None:
        top5 = f"  top-5 error {100 * s.val_top5_err:.2f}%" if s.val_top5_err is not None else ""
        pbar.clear()
        log.info("epoch %d/%d  loss %.4f  error %.2f%%%s  %s img/s  %.1f s", s.epoch, schedule.epochs, s.train_loss,
                 100 * s.val_top1_err, top5, f"{s.images_per_s:,.0f}", s.seconds)
        pbar.reset()

    return pbar, step, epoch_line


def _report_one(args: argparse.Namespace, spec: Any, ds: Any, schedule: Any, result: Any) -> None:
    """The result line on stdout, and the ``--out`` file."""
    import designspace

    name = args.model if args.model in designspace.zoo else spec.id
    f = result.final
    top5 = f", top-5 error {100 * f.val_top5_err:.2f}%" if f.val_top5_err is not None else ""
    mean_ips = sum(s.images_per_s for s in result.history) / len(result.history)
    on = "test" if ds.split == "test" else "validation"
    threads = result.extra.get("threads")
    print(f"{name} on {ds.name}: top-1 error {100 * f.val_top1_err:.2f}%{top5} ({on}) after {_epochs(f.epoch)} "
          f"in {result.seconds:.1f} s, {mean_ips:,.0f} images/s "
          f"({run_label(result.device, threads, schedule.seed)}, {result.precision})")
    if args.out:
        out = {"model": args.model, "spec": spec.to_dict(), "spec_id": spec.id, "device": result.device,
               "threads": threads, "seed": schedule.seed, **result.to_dict()}
        write_output(args.out, lambda fh: fh.write(json.dumps(out, indent=2) + "\n"))


def _run_population(args: argparse.Namespace, schedule: Any) -> int:
    from designspace.progress import bar
    from designspace.search import data
    from designspace.search.cores import parse_devices
    from designspace.search.population import DataRef, load_specs, read_results, train_population

    specs = load_specs(args.model)
    try:
        devices = parse_devices(args.devices)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.device and not devices:
        devices = [args.device]
    resolution = _resolution(args, specs)
    try:  # load once here: a missing data set fails now, not in every worker
        ds = data.load(args.data, args.data_root, resolution=resolution, download=not args.no_download,
                       **_data_options(args))
    except data.UnknownDataset as e:
        raise UsageError(str(e)) from None
    except data.DatasetError as e:
        log.error("designspace train: error: %s", e)
        return 1
    ref = DataRef(args.data, args.data_root, resolution, _data_options(args),
                  shape=(ds.num_classes, ds.resolution, ds.channels))
    _warn_if_adapted(specs, ds)
    if (args.workers or 1) > 1:
        ds = None  # each worker loads its own copy
    already = len(read_results(args.out))
    t0 = time.perf_counter()
    pbar = bar(len(specs), "models", unit="model", quiet=bool(args.quiet), initial=0)

    def done(r: Any) -> None:
        pbar.update(1)
        err = f"error {100 * r.error:.2f}%" if r.error is not None else f"failed: {r.reason}"
        pbar.clear()
        print(f"model {r.index} {r.id}: {err}, {r.seconds:.1f} s ({r.images_per_s:,.0f} img/s, "
              f"{r.flops / 1e6:.2f} MFLOPs, {run_label(r.device, r.threads, r.seed)})", flush=True)
        pbar.refresh()

    from designspace.search.population import PopulationError

    try:
        results = train_population(specs, ds if ds is not None else ref, schedule, workers=args.workers or 1,
                                   devices=devices, threads=args.threads, results=args.out, on_result=done)
    except PopulationError as e:
        pbar.close()
        log.error("designspace train: error: %s; the finished models are in %s", e, args.out)
        return 1
    finally:
        pbar.close()
    wall = time.perf_counter() - t0
    trained = len(read_results(args.out)) - already
    ok = [r for r in results if r.status == "done"]
    per_hour = trained / wall * 3600 if wall > 0 and trained else 0.0
    print(f"{len(results)} models ({trained} trained now, {len(results) - trained} from earlier runs), "
          f"{len(ok)} finished: {per_hour:,.0f} models/hour over {wall:.1f} s; results in {args.out}")
    return 0 if len(ok) == len(results) else 1


def _warn_if_adapted(specs: list[Any], ds: Any) -> None:
    """Networks sampled for other classes or channels than the data set's train as adapted
    networks, whose FLOPs differ from the sample's: a filter such as ``--flops :10M`` chose them
    by a different network's count.  Say so once, with the flags that make them agree."""
    other = [s for s in specs if (s.num_classes, s.in_chans) != (ds.num_classes, ds.channels)]
    if other:
        s = other[0]
        log.warning("designspace train: %d of %d networks were sampled for %d classes and %d channels, %s has %d and "
                    "%d: they train adapted, with other FLOPs than the sample's (sample with --num-classes %d "
                    "--in-chans %d to filter the networks that train)", len(other), len(specs), s.num_classes,
                    s.in_chans, ds.name, ds.num_classes, ds.channels, ds.num_classes, ds.channels)


def run_label(device: str, threads: int | None, seed: int) -> str:
    """How a result was computed, for every line that prints one: ``cpu, 2 threads, seed 0``
    (a CPU result's digits depend on the thread count; a GPU's has no thread count)."""
    parts = [device or "device unknown"]
    if threads:
        parts.append(f"{threads} thread{'s' if threads != 1 else ''}")
    parts.append(f"seed {seed}")
    return ", ".join(parts)


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _flag_message(msg: str) -> str:
    if msg.startswith("schedule."):
        field, _, rest = msg[len("schedule."):].partition("=")
        value, _, why = rest.partition(" ")
        return f"--{field.replace('_', '-')} {value} {why}"
    return msg
