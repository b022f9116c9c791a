"""Measured speed: a second complexity axis beside :func:`designspace.count`.

FLOPs do not predict speed (TResNet's whole argument; the RegNet paper finds activations track
GPU time better).  :func:`measure` times a network on this device, under the trainer's own
settings (channels_last; bf16 autocast on CUDA; on CPU the trainer's small-map convolutions and
the thread count in use):

* ``train_images_per_s``: training steps (forward, loss, backward, SGD step) at batch ``batch``;
* ``infer_latency_ms``: one image, inference mode;
* ``infer_images_per_s``: inference at batch ``batch``;
* ``peak_memory_bytes``: the training step's peak (CUDA: the allocator's peak; CPU: the peak of
  the step's allocations, from the profiler's memory events).

Each figure is the median of ``rounds`` timed rounds after ``warmup`` untimed steps, with a
bootstrap 95% interval of that median; CUDA timings synchronise before and after every round.
Results are cached in a SQLite file (``$DESIGNSPACE_CACHE`` or
``~/.cache/designspace/measure.sqlite``), keyed by spec id, device name, batch, resolution,
dtype, layout, thread count and torch version, so a population is measured once per device;
several processes may write it at once (WAL, a long busy timeout).  A cache hit builds nothing.
"""
from __future__ import annotations

import json
import os
import sqlite3
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpecError, UsageError
from .spec import NetSpec

__all__ = ["Measurement", "measure", "cache_path", "MEASURE_COLUMNS"]

#: how a network is run when measured; part of the cache key, so a change (here: strided 1x1
#: convolutions as subsample + 1x1, :mod:`designspace.fastconv`) measures again
METHOD = 2

#: the record columns a measurement adds (sample files, study exports, analysis tables)
MEASURE_COLUMNS = ("train_images_per_s", "infer_latency_ms", "infer_images_per_s", "peak_memory_bytes",
                   "measure_device")


@dataclass(frozen=True)
class Measurement:
    spec_id: str
    device: str            #: e.g. "cpu (AMD EPYC, 2 threads)" or "cuda (NVIDIA H200)"
    batch: int
    resolution: int
    dtype: str             #: fp32 or bf16
    layout: str            #: channels_last or nchw
    threads: int | None
    torch: str
    train_images_per_s: float
    train_ci: tuple[float, float]
    infer_latency_ms: float
    latency_ci: tuple[float, float]
    infer_images_per_s: float
    infer_ci: tuple[float, float]
    peak_memory_bytes: int
    rounds: int
    cached: bool = field(default=False, compare=False)

    def record(self) -> dict[str, Any]:
        """The columns added to a sample record or trial (:data:`MEASURE_COLUMNS`)."""
        return {"train_images_per_s": self.train_images_per_s, "infer_latency_ms": self.infer_latency_ms,
                "infer_images_per_s": self.infer_images_per_s, "peak_memory_bytes": self.peak_memory_bytes,
                "measure_device": self.device}


def cache_path() -> Path:
    env = os.environ.get("DESIGNSPACE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "designspace" / "measure.sqlite"


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=60)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS measurements (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
    return con


def _device_name(dev: Any, threads: int | None) -> str:
    import torch

    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    cpu = "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu ({cpu}, {threads} thread{'s' if threads != 1 else ''})"


def _median_ci(xs: list[float], seed: int = 0) -> tuple[float, tuple[float, float]]:
    import numpy as np

    a = np.asarray(xs, dtype=float)
    med = float(np.median(a))
    if len(a) < 3:
        return med, (float(a.min()), float(a.max()))
    rng = np.random.default_rng(seed)
    boots = np.median(a[rng.integers(0, len(a), (1000, len(a)))], axis=1)
    return med, (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))


def measure(spec: NetSpec | str, device: str = "cpu", batch: int = 8, resolution: int | None = None, *,
            rounds: int = 10, warmup: int = 3, steps: int = 2, channels_last: bool = True, cache: bool = True,
            threads: int | None = None, in_chans: int | None = None, num_classes: int | None = None) -> Measurement:
    """Measure a spec (or a named model) on ``device``; see the module docstring.  Arguments are
    checked first (``batch=0``, an unknown device, a resolution the network cannot run at: a
    one-line :class:`~designspace.UsageError` / :class:`~designspace.SpecError`)."""
    from .complexity import check_resolution
    from .zoo import zoo

    if isinstance(spec, str):
        spec = zoo[spec]
    if not isinstance(spec, NetSpec):
        raise SpecError("spec", spec, "is neither a NetSpec nor the name of a named model")
    for name, v, lo in (("batch", batch, 1), ("rounds", rounds, 1), ("warmup", warmup, 0), ("steps", steps, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise UsageError(f"{name}={v!r} must be an integer >= {lo}")
    if resolution is not None:
        check_resolution(spec, resolution)
        spec = spec.replace(resolution=resolution)
    if in_chans is not None or num_classes is not None:
        spec = spec.replace(in_chans=in_chans or spec.in_chans, num_classes=num_classes or spec.num_classes)
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"device={device!r} is not a device (cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device={device!r}: CUDA is not available on this machine")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"device={device!r}: only cpu and cuda are measured")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    if dev.type == "cpu" and threads is not None:
        torch.set_num_threads(threads)
    n_threads = torch.get_num_threads() if dev.type == "cpu" else None
    dtype = "bf16" if dev.type == "cuda" else "fp32"
    layout = "channels_last" if channels_last else "nchw"
    dname = _device_name(dev, n_threads)
    key = json.dumps([spec.id, dname, batch, spec.resolution, dtype, layout, n_threads, torch.__version__, rounds,
                      steps, METHOD], separators=(",", ":"))
    path = cache_path()
    if cache:
        try:
            with _connect(path) as con:
                row = con.execute("SELECT value FROM measurements WHERE key = ?", (key,)).fetchone()
            if row is not None:
                d = json.loads(row[0])
                for k in ("train_ci", "latency_ci", "infer_ci"):
                    d[k] = tuple(d[k])
                return Measurement(**{**d, "cached": True})
        except sqlite3.Error:
            pass  # an unreadable cache measures afresh
    m = _measure(spec, dev, batch, rounds, warmup, steps, channels_last, dname, n_threads, dtype, layout)
    if cache:
        d = asdict(m)
        d.pop("cached")
        for attempt in range(5):
            try:
                with _connect(path) as con:
                    con.execute("INSERT OR REPLACE INTO measurements VALUES (?, ?, ?)", (key, json.dumps(d), time.time()))
                break
            except sqlite3.OperationalError as e:
                if "full" in str(e):  # SQLITE_FULL, "database or disk is full": no retry will help
                    from .files import DiskFull

                    raise DiskFull(path) from None
                time.sleep(0.2 * (attempt + 1))
    return m


def _measure(spec: NetSpec, dev: Any, batch: int, rounds: int, warmup: int, steps: int, channels_last: bool,
             dname: str, threads: int | None, dtype: str, layout: str) -> Measurement:
    import contextlib

    import torch

    from . import build
    from .fastconv import accelerated

    cuda = dev.type == "cuda"
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(0)
    model = build(spec).to(dev, memory_format=fmt)
    r = spec.resolution
    x = torch.randn(batch, spec.in_chans, r, r, device=dev).to(memory_format=fmt)
    x1 = x[:1].contiguous(memory_format=fmt)
    y = torch.randint(0, spec.num_classes, (batch,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, **({"fused": True} if cuda else {}))
    crit = torch.nn.CrossEntropyLoss()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(dev)

    def train_step() -> None:
        with amp:
            loss = crit(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def timed(fn: Any, n: int) -> float:
        sync()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        return (time.perf_counter() - t) / n

    with accelerated(model, dev):
        model.train()
        for _ in range(warmup):
            train_step()
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
            train_step()
            sync()
            peak = int(torch.cuda.max_memory_allocated(dev))
        else:
            peak = _cpu_peak(train_step)
        train = [batch / timed(train_step, steps) for _ in range(rounds)]
        model.eval()
        with torch.inference_mode():
            def one() -> None:
                with amp:
                    model(x1)

            def many() -> None:
                with amp:
                    model(x)

            for _ in range(warmup):
                one()
                many()
            lat = [1000 * timed(one, steps) for _ in range(rounds)]
            inf = [batch / timed(many, steps) for _ in range(rounds)]
    tr, tr_ci = _median_ci(train)
    la, la_ci = _median_ci(lat)
    ip, ip_ci = _median_ci(inf)
    return Measurement(spec.id, dname, batch, spec.resolution, dtype, layout, threads, torch.__version__, tr, tr_ci,
                       la, la_ci, ip, ip_ci, peak, rounds)


def _cpu_peak(step: Any) -> int:
    """Peak of the bytes a training step holds at once: its allocations minus frees, in order
    (the profiler's per-op memory events).  The profiler's C++ start/stop notices go to file
    descriptor 2, which is silenced for the step."""
    import torch

    err = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        with torch.autograd.profiler.profile(profile_memory=True, use_kineto=False) as prof:
            step()
    finally:
        os.dup2(err, 2)
        os.close(err)
        os.close(null)
    events = sorted((e for e in prof.function_events if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    held = peak = 0
    for e in events:
        held += e.self_cpu_memory_usage
        peak = max(peak, held)
    return int(peak)


def median(xs: list[float]) -> float:  # pragma: no cover - kept for callers that want no numpy
    return statistics.median(xs)
