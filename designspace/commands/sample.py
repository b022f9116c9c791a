"""`designspace sample`: draw models from a design space into a JSONL or CSV file.

    designspace sample --n 500                                   # regnetx, no complexity regime
    designspace sample --space anynetx_e --n 500 --flops 360M:400M --seed 1 -o anynet_e.jsonl
    designspace sample --space efficientnet --n 200 --params :10M --format csv -o effnet.csv
    designspace sample --space my_space.toml --n 100 -o -        # JSON lines to stdout

Each record: ``space``, ``id``, the space's parameters, ``resolution``, ``flops``, ``params``,
``acts`` and ``spec`` (the NetSpec's canonical JSON, ``NetSpec.from_json(record["spec"])``).
The file is written atomically (a temporary file in the same folder, then renamed), so an
interrupted or failed run leaves the old file untouched.  Progress and the summary go to stderr.
This command imports numpy but never torch, pandas, optuna or plotly (scipy only for
``--sampler sobol``).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import time
from typing import Any, TextIO

from ..errors import UsageError
from ..files import check_output, write_output

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv")
SAMPLERS = ("random", "sobol")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="regnetx", help="a built-in space (`designspace spaces`) or a .toml file (default regnetx)")
    p.add_argument("--n", default="100", help="number of models to keep (default 100)")
    p.add_argument("--seed", default="0", help="random seed; the same seed gives byte-identical output (default 0)")
    p.add_argument("--flops", help="keep models with flops in LO:HI, e.g. 360M:400M, :1G, 2G: (K, M, G suffixes)")
    p.add_argument("--params", help="keep models with a parameter count in LO:HI, e.g. :10M")
    p.add_argument("--acts", help="keep models with activations in LO:HI")
    p.add_argument("--resolution", help="N fixes the input resolution of every model (e.g. 32; for efficientnet_scaling, the base "
                   "resolution it scales); LO:HI keeps models whose sampled resolution lies in it")
    p.add_argument("--num-classes", help="classifier outputs (default 1000; e.g. 10 for CIFAR-10)")
    p.add_argument("--in-chans", help="input channels (default 3; 1 for grey images such as Fashion-MNIST)")
    p.add_argument("--geometry", default="imagenet", help="imagenet (the family's stem and strides; default) or cifar "
                   "(3x3 stride-1 stem, total stride 8: the last stage sees 4x4 at 32 px)")
    p.add_argument("--sampler", default="random", help="random (default) or sobol (scrambled, scipy.stats.qmc)")
    p.add_argument("--dedupe", action=argparse.BooleanOptionalAction, default=True,
                   help="drop repeated specs (same id); on by default")
    p.add_argument("--budget", help="give up after this many draws (default: 2M for numpy-evaluated spaces, 50K otherwise, or more for large --n)")
    p.add_argument("--measure", action="store_true", help="measure every sampled model's speed on --measure-device "
                   "(adds train_images_per_s, infer_latency_ms, infer_images_per_s, peak_memory_bytes; imports torch)")
    p.add_argument("--measure-device", default="cpu", help="device for --measure (default cpu)")
    p.add_argument("--measure-batch", default="8", help="batch for --measure (default 8)")
    p.add_argument("--format", help="jsonl or csv (default: from the output's extension, else jsonl)")
    p.add_argument("-o", "--output", help="output file, or - for stdout (default: SPACE_nN_seedS.FORMAT here)")


def _int(flag: str, text: Any, minimum: int) -> int:
    try:
        v = int(str(text).replace("_", ""))
    except ValueError:
        raise UsageError(f"{flag}={text!r} is not an integer") from None
    if v < minimum:
        raise UsageError(f"{flag}={v} must be >= {minimum}")
    return v


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Check every flag before any work (bad flags: one-line error, exit 2)."""
    from ..geometry import GEOMETRIES
    from ..spaces import SpaceError, get_space, merge_regimes, parse_range
    from ..spaces.sampling import Regime

    n = _int("--n", args.n, 1)
    seed = _int("--seed", args.seed, 0)
    budget = _int("--budget", args.budget, 1) if args.budget is not None else None
    num_classes = _int("--num-classes", args.num_classes, 1) if args.num_classes is not None else None
    in_chans = _int("--in-chans", args.in_chans, 1) if args.in_chans is not None else None
    if args.geometry not in GEOMETRIES:
        raise UsageError(f"--geometry={args.geometry!r} is not one of {', '.join(GEOMETRIES)}")
    if args.sampler not in SAMPLERS:
        raise UsageError(f"--sampler={args.sampler!r} is not one of {', '.join(SAMPLERS)}")
    fixed, res_range = None, None
    if args.resolution is not None:
        if ":" in args.resolution:
            res_range = args.resolution
        else:
            fixed = _int("--resolution", args.resolution, 1)
    try:
        ranges = {k: parse_range(getattr(args, k), f"--{k}") for k in ("flops", "params", "acts")}
        ranges["resolution"] = parse_range(res_range, "--resolution")
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        space = get_space(args.space, resolution=fixed, num_classes=num_classes, in_chans=in_chans)
        if args.geometry != "imagenet":
            space = space.with_options({"geometry": args.geometry})
    except SpaceError as e:
        raise UsageError(str(e)) from None
    regime = merge_regimes(getattr(space, "regime", None) or Regime(), Regime(**ranges))
    if res_range is not None:
        _check_resolution_range(space, ranges["resolution"], res_range)

    fmt = args.format
    out = args.output
    if fmt is None:
        fmt = "csv" if out and out.lower().endswith(".csv") else "jsonl"
    if fmt not in FORMATS:
        raise UsageError(f"--format={fmt!r} is not one of {', '.join(FORMATS)}")
    if out is None:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", space.name) or "samples"
        out = f"{stem}_n{n}_seed{seed}.{fmt}"
    check_output(out, "-o")
    measure_batch = _int("--measure-batch", args.measure_batch, 1)
    if args.measure:
        import torch

        try:
            dev = torch.device(args.measure_device)
        except (RuntimeError, TypeError):
            raise UsageError(f"--measure-device {args.measure_device!r} is not a device (cpu, cuda, cuda:N)") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"--measure-device {args.measure_device}: CUDA is not available on this machine")
    return dict(space=space, n=n, seed=seed, regime=regime, sampler=args.sampler, dedupe=args.dedupe,
                budget=budget, fmt=fmt, out=out, measure_batch=measure_batch)


def _check_resolution_range(space: Any, rng: tuple, text: str) -> None:
    """A resolution range filters spaces that sample the resolution; on one with a fixed
    resolution, say so now instead of failing after a million draws."""
    import numpy as np

    ev = space.evaluate(np.random.default_rng(0).random((256, space.dim)))
    seen = sorted({int(r) for r in ev.resolution[ev.ok].tolist()})
    if len(seen) == 1:
        lo, hi = rng
        r = seen[0]
        if (lo is not None and r < lo) or (hi is not None and r > hi):
            raise UsageError(f"--resolution {text}: every model of {space.name} has resolution {r} (the space does not "
                             f"sample it); give --resolution N to set it instead")


# ---------------------------------------------------------------------------- output
def write_records(f: TextIO, records: list[dict], columns: tuple[str, ...], fmt: str) -> None:
    if fmt == "jsonl":
        dumps = json.dumps
        for r in records:
            f.write(dumps(r))
            f.write("\n")
    else:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for r in records:
            w.writerow([r.get(c, "") for c in columns])


def _quantiles(values: list[int]) -> str:
    import numpy as np

    from ..spaces.sampling import format_count

    q = np.quantile(np.asarray(values, dtype=np.float64), [0, 0.25, 0.5, 0.75, 1])
    return "  ".join(f"{lab} {format_count(v)}" for lab, v in zip(("min", "25%", "median", "75%", "max"), q))


def _measure_records(records: list[dict], columns: tuple[str, ...], device: str, batch: int, quiet: bool) -> tuple[str, ...]:
    """Add measured speed to every record (cached per device, :mod:`designspace.measure`)."""
    from ..measure import MEASURE_COLUMNS, measure
    from ..progress import bar
    from ..spec import NetSpec

    with bar(len(records), "measuring", unit="model", quiet=quiet) as pbar:
        for r in records:
            r.update(measure(NetSpec.from_json(r["spec"]), device=device, batch=batch).record())
            pbar.update(1)
    return tuple(c for c in columns if c != "spec") + MEASURE_COLUMNS + ("spec",)


def map_lines(records: list[dict], limit: int = 3) -> list[str]:
    """Each stage's output map for the first network at each of the first ``limit`` resolutions
    (one line each), with a note when a last stage there runs on a map smaller than 4x4."""
    from ..complexity import stage_maps
    from ..spec import NetSpec

    lines, done, tiny = [], set(), False
    for r in records:
        if len(done) == limit:
            break
        if r["resolution"] in done:
            continue
        done.add(r["resolution"])
        maps = stage_maps(NetSpec.from_json(r["spec"]))
        lines.append(f"maps    at {r['resolution']} px: " + " ".join(f"{name} {h}x{w}" for name, h, w in maps))
        tiny |= maps[-1][1] < 4
    if tiny:
        lines.append("note: the last stage runs on a map smaller than 4x4; at small resolutions use --geometry cifar")
    return lines


def summary(res: Any, seconds: float, where: str, fmt: str) -> str:
    recs = res.records
    lines = [
        f"{res.space.name}: kept {res.accepted:,} of {res.drawn:,} drawn ({100 * res.rate:.3g}%) in {seconds:.2f} s"
        f" [outside the space {res.outside_space:,}, outside the regime {res.outside_regime:,},"
        f" duplicates {res.duplicates:,}]",
        f"regime: {res.regime}",
        f"flops   {_quantiles([r['flops'] for r in recs])}",
        f"params  {_quantiles([r['params'] for r in recs])}",
        *map_lines(recs),
        f"wrote {res.accepted:,} records ({fmt}) to {where}",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..progress import bar
    from ..spaces import RegimeUnreachable, SpaceError, sample_records

    o = _options(args)
    t0 = time.perf_counter()
    with bar(o["n"], f"sampling {o['space'].name}", unit="model", quiet=bool(args.quiet)) as pbar:
        def progress(drawn: int, accepted: int) -> None:
            pbar.update(accepted - pbar.n)
            pbar.set_postfix_str(f"{drawn:,} drawn", refresh=False)

        try:
            res = sample_records(o["space"], o["n"], seed=o["seed"], regime=o["regime"], sampler=o["sampler"],
                                 dedupe=o["dedupe"], max_draws=o["budget"], progress=progress)
        except RegimeUnreachable as e:
            log.error("designspace sample: %s; nothing written", e)
            return 1
        except SpaceError as e:
            raise UsageError(str(e)) from None
    seconds = time.perf_counter() - t0
    columns = res.columns
    if args.measure:
        columns = _measure_records(res.records, columns, args.measure_device, o["measure_batch"], bool(args.quiet))

    def write(f: TextIO) -> None:
        write_records(f, res.records, columns, o["fmt"])

    where = write_output(o["out"], write)
    log.info("%s", summary(res, seconds, where, o["fmt"]))
    return 0
