"""Training a population: many networks on one machine, everything that does not depend on the
model shared, every per-model cost counted.

:func:`train_population` trains a list of specs (a sample file's, a study's, or a Python list)
with one schedule on one data set:

* each worker process loads the data set once and keeps it on its device as uint8
  (:class:`~designspace.search.train.Workspace`), augments on the device, and trains model after
  model without re-importing or re-uploading anything;
* ``workers=K`` runs K such processes at once (on CPU each takes ``cores / K`` threads unless the
  user set a thread count; on GPUs ``devices`` pins worker ``i`` to ``devices[i % len]``, and
  several workers may share one GPU); ``workers=1`` trains in the calling process;
* every result is appended to ``results`` (JSON lines, fsynced as each model finishes, each
  line whole or absent after any failure, a full disk included), so an interrupted run loses at
  most the models in training; running it again
  skips the models already in the file (no network is trained twice by accident);
* each result carries the model's cost breakdown: ``build_s`` (constructing and initialising
  the network), ``setup_s``, ``capture_s`` (CUDA-graph capture or CPU convolution planning),
  ``train_s`` (training steps), ``eval_s`` and ``seconds`` (the whole wall time of the model in
  its worker), which is what a models-per-hour figure must include.
"""
from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing as mp
import os
import queue
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = ["ModelResult", "DataRef", "train_population", "read_results", "load_specs", "PopulationError",
           "adapt"]

log = logging.getLogger(__name__)


class PopulationError(RuntimeError):
    """Workers could not train the population (they died repeatedly, or could not start)."""


def adapt(spec: Any, num_classes: int, resolution: int, in_chans: int) -> Any:
    """The network as it trains on a data set: its classes, input size and channels."""
    return spec.replace(num_classes=num_classes, resolution=resolution, in_chans=in_chans)


@dataclass(frozen=True)
class DataRef:
    """A data set by name and options, loaded by each worker itself (``search.data.load``)."""

    name: str
    root: str | None = None
    resolution: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: (classes, resolution, channels) when known, to check the specs before training
    shape: tuple[int, int, int] | None = None

    def load(self) -> Any:
        from .data import load

        return load(self.name, self.root, resolution=self.resolution, **dict(self.options))


@dataclass
class ModelResult:
    """One trained network: its errors, its costs, where and how it ran."""

    index: int
    id: str  #: the trained network's spec id (adapted to the data set's classes, size, channels)
    source_id: str  #: the id of the spec as given (what resuming matches on)
    seed: int
    status: str  #: ``done`` or ``failed`` (diverged, out of memory)
    error: float | None
    errors: list[float]
    train_losses: list[float]
    seconds: float  #: wall time of the whole model in its worker (build + setup + training + eval)
    build_s: float
    setup_s: float
    capture_s: float
    train_s: float
    eval_s: float
    images_per_s: float  #: training throughput (training steps only)
    device: str
    threads: int | None
    step_mode: str
    worker: int
    flops: int
    params: int
    acts: int
    reason: str = ""
    spec: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def load_specs(path: str | os.PathLike) -> list[Any]:
    """The specs of a sample file (``designspace sample`` JSONL or CSV: its ``spec`` column), in
    order; :class:`~designspace.errors.UsageError` naming the line for anything else."""
    import csv

    from designspace import NetSpec
    from designspace.errors import SpecError, UsageError

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"sample file {path} does not exist")
    out = []
    try:
        if p.suffix.lower() == ".csv":
            with open(p, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            if rows and "spec" not in rows[0]:
                raise UsageError(f"{path}: no 'spec' column (columns: {', '.join(rows[0])})")
            texts = [(i + 2, r["spec"]) for i, r in enumerate(rows)]
        else:
            texts = []
            with open(p, encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise UsageError(f"{path}: line {i} is not JSON ({e.msg})") from None
                    if not isinstance(rec, dict) or "spec" not in rec:
                        raise UsageError(f"{path}: line {i} has no 'spec' field")
                    texts.append((i, rec["spec"]))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file") from None
    for line, text in texts:
        try:
            out.append(NetSpec.from_json(text) if isinstance(text, str) else NetSpec.from_dict(text))
        except SpecError as e:
            raise UsageError(f"{path}: line {line}: {e}") from None
    if not out:
        raise UsageError(f"{path}: no specs")
    return out


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The complete result lines of a results file (a line cut by a kill is dropped)."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    with open(p, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
    return out


class _Results:
    """Append-only JSONL of results (:class:`designspace.files.LineAppender`): each line whole
    or absent after any failure, a torn last line (a kill mid-write) cut off before appending."""

    def __init__(self, path: str | os.PathLike | None):
        from designspace.files import LineAppender

        self.path = Path(path) if path is not None else None
        self.f = LineAppender(self.path) if self.path is not None else None

    def write(self, r: ModelResult) -> None:
        if self.f is not None:
            self.f.append(r.to_json())

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def _as_spec(s: Any) -> Any:
    from designspace import NetSpec, zoo
    from designspace.errors import SpecError

    if isinstance(s, NetSpec):
        return s
    if isinstance(s, str) and s in zoo:
        return zoo[s]
    if isinstance(s, str):
        return NetSpec.from_json(s)
    if isinstance(s, Mapping):
        return NetSpec.from_json(s["spec"]) if "spec" in s else NetSpec.from_dict(s)
    raise SpecError("specs", s, "must hold NetSpecs, spec JSON, sample records or named models")


def train_one(index: int, spec: Any, ds: Any, schedule: Any, workspace: Any, worker: int = 0,
              threads: int | None = None) -> ModelResult:
    # (``spec`` is the network as given; ``source_id`` records its id)
    """Build and train one network in this process (the data set already loaded, the
    workspace kept by the caller); failures (diverged, out of memory) are results too."""
    import torch

    import designspace

    from . import train
    from .cores import share_threads

    t0 = time.perf_counter()
    n_threads = share_threads(threads) if workspace.device.type == "cpu" else None
    net = adapt(spec, ds.num_classes, ds.resolution, ds.channels)
    cx = designspace.count(net)
    torch.manual_seed(schedule.seed)
    model = designspace.build(net)
    build_s = time.perf_counter() - t0
    errors: list[float] = []
    losses: list[float] = []
    status, reason, extra, ips, device = "done", "", {}, 0.0, str(workspace.device)

    def cb(s: Any) -> None:
        errors.append(float(s.val_top1_err))
        losses.append(float(s.train_loss))

    try:
        res = train.fit(model, ds, schedule, callback=cb, workspace=workspace, workers=0)
        extra, device = res.extra, res.device
        ips = sum(s.images_per_s for s in res.history) / len(res.history)
    except train.TrainingError as e:  # diverged or out of memory: recorded, the population goes on
        status, reason = "failed", str(e)
    del model
    return ModelResult(
        index=index, id=net.id, source_id=spec.id, seed=schedule.seed, status=status, error=errors[-1] if errors and status == "done" else None,
        errors=errors, train_losses=losses, seconds=time.perf_counter() - t0, build_s=build_s,
        setup_s=float(extra.get("setup_s", 0.0)), capture_s=float(extra.get("capture_s", 0.0)),
        train_s=float(extra.get("train_s", 0.0)), eval_s=float(extra.get("eval_s", 0.0)), images_per_s=ips,
        device=device, threads=n_threads, step_mode=str(extra.get("step_mode", "")), worker=worker,
        flops=cx.flops, params=cx.params, acts=cx.acts, reason=reason, spec=net.to_json(),
    )


def _worker(wid: int, data: Any, schedule: Any, device: str | None, threads: int | None, tasks: Any,
            results: Any) -> None:
    """A worker process: load the data once, then train what the queue hands out."""
    import signal

    from designspace.logs import configure_from_env

    from .cores import register
    from .train import Workspace

    configure_from_env()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    register()
    try:
        ds = data.load() if isinstance(data, DataRef) else data
        ws = Workspace(device)
    except Exception as e:  # noqa: BLE001 - reported to the parent, which stops
        results.put(("error", wid, f"{type(e).__name__}: {e}"))
        return
    results.put(("ready", wid, None))
    while True:
        item = tasks.get()
        if item is None:
            return
        index, spec_json = item
        from designspace import NetSpec

        results.put(("start", wid, index))
        try:
            r = train_one(index, NetSpec.from_json(spec_json), ds, schedule, ws, wid, threads)
        except Exception as e:  # noqa: BLE001 - a model that cannot train is a failed result, not a dead worker
            results.put(("failed", wid, (index, f"{type(e).__name__}: {e}")))
            continue
        results.put(("done", wid, r))


def train_population(
    specs: Iterable[Any],
    data: Any,
    schedule: Any,
    *,
    workers: int = 1,
    devices: Sequence[str] | None = None,
    threads: int | None = None,
    results: str | os.PathLike | None = None,
    on_result: Callable[[ModelResult], None] | None = None,
) -> list[ModelResult]:
    """Train every spec of ``specs`` on ``data`` (a :class:`~designspace.search.data.Dataset` or a
    :class:`DataRef`) with ``schedule`` (a :class:`~designspace.search.train.Schedule`); see the
    module docstring.  Returns the results in input order (those already in ``results`` included,
    read back from the file).  Specs are adapted to the data set (classes, resolution, channels)."""
    from designspace.errors import UsageError

    from .cores import assign_devices

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers={workers!r} must be an integer >= 1")
    nets = [_as_spec(s) for s in specs]
    if not isinstance(data, DataRef):
        shape = (data.num_classes, data.resolution, data.channels)
    else:
        shape = getattr(data, "shape", None)
    if shape is not None:  # every network must run on the data: check them all before training any
        from designspace.errors import SpecError

        for i, net in enumerate(nets):
            try:
                adapt(net, *shape)
            except SpecError as e:
                raise SpecError(f"specs[{i}].{e.path}", e.value, f"{e.reason} (the data set's images are "
                                f"{shape[1]}x{shape[1]}x{shape[2]})") from None
    store = _Results(results)
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if results is not None:
        for r in read_results(results):
            done[(r.get("source_id"), r.get("seed"))] = r
    out: dict[int, ModelResult] = {}
    todo: list[tuple[int, Any]] = []
    seen: set[str] = set()
    for i, net in enumerate(nets):
        key = net.id
        if key in seen:
            log.info("designspace train: spec %d (%s) repeats an earlier one; trained once", i, key)
            continue
        seen.add(key)
        prev = done.get((key, schedule.seed))
        if prev is not None:  # trained by an earlier run of the same population
            out[i] = _from_record(prev, i)
            continue
        todo.append((i, net))
    if out:
        log.info("designspace train: %d of %d model(s) already in %s; training the other %d", len(out),
                 len(out) + len(todo), results, len(todo))
    device_of = assign_devices(workers, list(devices or []))
    try:
        if workers == 1:
            _run_inline(todo, data, schedule, device_of[0], threads, store, out, on_result)
        else:
            _run_processes(todo, data, schedule, device_of, threads, store, out, on_result)
    finally:
        store.close()
    return [out[i] for i in sorted(out)]


def _failure(index: int, spec: Any, schedule: Any, worker: int, reason: str) -> ModelResult:
    return ModelResult(index=index, id=spec.id, source_id=spec.id, seed=schedule.seed, status="failed", error=None,
                       errors=[], train_losses=[], seconds=0.0, build_s=0.0, setup_s=0.0, capture_s=0.0, train_s=0.0,
                       eval_s=0.0, images_per_s=0.0, device="", threads=None, step_mode="", worker=worker, flops=0,
                       params=0, acts=0, reason=reason, spec=spec.to_json())


def _from_record(r: Mapping[str, Any], index: int) -> ModelResult:
    fields = ModelResult.__dataclass_fields__
    kw = {k: r.get(k) for k in fields}
    kw["index"] = index
    return ModelResult(**kw)  # type: ignore[arg-type]


def _run_inline(todo: list[tuple[int, Any]], data: Any, schedule: Any, device: str | None, threads: int | None,
                store: _Results, out: dict[int, ModelResult],
                on_result: Callable[[ModelResult], None] | None) -> None:
    from .cores import register
    from .train import Workspace

    if not todo:
        return
    register()
    ds = data.load() if isinstance(data, DataRef) else data
    ws = Workspace(device)
    for i, net in todo:
        r = train_one(i, net, ds, schedule, ws, 0, threads)
        out[i] = r
        if on_result is not None:  # printed first: a result whose line cannot be written (full disk) is still seen
            on_result(r)
        store.write(r)


def _run_processes(todo: list[tuple[int, Any]], data: Any, schedule: Any, device_of: list[str | None],
                   threads: int | None, store: _Results, out: dict[int, ModelResult],
                   on_result: Callable[[ModelResult], None] | None) -> None:
    pending = todo
    if not pending:
        return
    ctx = mp.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    by_index = dict(pending)
    for i, net in pending:
        tasks.put((i, net.to_json()))
    procs: dict[int, Any] = {}

    def start(w: int) -> None:
        p = ctx.Process(target=_worker, args=(w, data, schedule, device_of[w], threads, tasks, results),
                        name=f"designspace-train-{w}", daemon=True)
        p.start()
        procs[w] = p

    for w in range(len(device_of)):
        start(w)
    for _ in procs:
        tasks.put(None)
    running: dict[int, int] = {}  # worker -> index in training
    restarts = 0
    remaining = set(by_index)
    try:
        while remaining:
            try:
                kind, w, payload = results.get(timeout=1.0)
            except queue.Empty:
                for wid, p in list(procs.items()):
                    if p.exitcode is not None and wid in running:
                        idx = running.pop(wid)
                        restarts += 1
                        log.warning("designspace train: worker %d died (exit code %s) while training model %d; "
                                    "%s", wid, p.exitcode, idx, "re-queued" if restarts <= 3 else "giving up")
                        if restarts > 3:
                            raise PopulationError(f"worker {wid} died (exit code {p.exitcode}) training model {idx}; "
                                               "run the same command again to resume")
                        tasks.put((idx, by_index[idx].to_json()))
                        start(wid)
                        tasks.put(None)
                if all(p.exitcode is not None for p in procs.values()) and remaining:
                    raise PopulationError("every worker exited with models left; run the same command again to resume")
                continue
            if kind == "error":
                raise PopulationError(f"worker {w} could not start: {payload}")
            if kind == "failed":
                running.pop(w, None)
                idx, reason = payload
                r = _failure(idx, by_index[idx], schedule, w, reason)
                out[idx] = r
                remaining.discard(idx)
                if on_result is not None:
                    on_result(r)
                store.write(r)
                continue
            if kind == "start":
                running[w] = payload
            elif kind == "done":
                running.pop(w, None)
                r = payload
                out[r.index] = r
                remaining.discard(r.index)
                if on_result is not None:  # printed first: seen even when its line cannot be written
                    on_result(r)
                store.write(r)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.terminate()
        for p in procs.values():
            p.join(timeout=10)
