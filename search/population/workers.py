"""Training the networks of a population: one in this process (:func:`train_one`), a list in
this process (:func:`run_inline`) or in K worker processes that each load the data once and
train what a queue hands out, dead ones replaced (:func:`run_processes`)."""
from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import time
from typing import Any, Callable

from .results import DataRef, ModelResult, PopulationError, ResultsFile, adapt, failure

__all__ = ["train_one", "run_inline", "run_processes"]

log = logging.getLogger("designspace.search.population")


def train_one(index: int, spec: Any, ds: Any, schedule: Any, workspace: Any, worker: int = 0,
              threads: int | None = None) -> ModelResult:
    # (``spec`` is the network as given; ``source_id`` records its id)
    """Build and train one network in this process (the data set already loaded, the
    workspace kept by the caller); failures (diverged, out of memory) are results too."""
    import torch

    import designspace

    from .. import train
    from ..cores import share_threads

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

    from ..cores import register
    from ..train import Workspace

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


def run_inline(todo: list[tuple[int, Any]], data: Any, schedule: Any, device: str | None, threads: int | None,
                store: ResultsFile, out: dict[int, ModelResult],
                on_result: Callable[[ModelResult], None] | None) -> None:
    from ..cores import register
    from ..train import Workspace

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


def run_processes(todo: list[tuple[int, Any]], data: Any, schedule: Any, device_of: list[str | None],
                   threads: int | None, store: ResultsFile, out: dict[int, ModelResult],
                   on_result: Callable[[ModelResult], None] | None) -> None:
    if not todo:
        return
    pool = _Processes(todo, data, schedule, device_of, threads)
    remaining = set(pool.by_index)
    try:
        while remaining:
            try:
                kind, w, payload = pool.results.get(timeout=1.0)
            except queue.Empty:
                pool.replace_dead()
                if all(p.exitcode is not None for p in pool.procs.values()):
                    raise PopulationError("every worker exited with models left; run the same command again to resume")
                continue
            r = pool.take(kind, w, payload)
            if r is not None:
                out[r.index] = r
                remaining.discard(r.index)
                if on_result is not None:  # printed first: seen even when its line cannot be written
                    on_result(r)
                store.write(r)
    finally:
        pool.stop()


class _Processes:
    """The worker processes of a population: a task queue (each worker stops at its ``None``), a
    result queue, and replacements for workers that die while training (at most 3 in all)."""

    def __init__(self, todo: list[tuple[int, Any]], data: Any, schedule: Any, device_of: list[str | None],
                 threads: int | None) -> None:
        self.ctx = mp.get_context("spawn")
        self.tasks, self.results = self.ctx.Queue(), self.ctx.Queue()
        self.by_index = dict(todo)
        self.data, self.schedule, self.device_of, self.threads = data, schedule, device_of, threads
        self.procs: dict[int, Any] = {}
        self.running: dict[int, int] = {}  # worker -> index in training
        self.restarts = 0
        for i, net in todo:
            self.tasks.put((i, net.to_json()))
        for w in range(len(device_of)):
            self.start(w)
        for _ in self.procs:
            self.tasks.put(None)

    def start(self, w: int) -> None:
        p = self.ctx.Process(target=_worker, name=f"designspace-train-{w}", daemon=True,
                             args=(w, self.data, self.schedule, self.device_of[w], self.threads, self.tasks, self.results))
        p.start()
        self.procs[w] = p

    def replace_dead(self) -> None:
        """Re-queue the model of each worker that died training it, and start a replacement."""
        for wid, p in list(self.procs.items()):
            if p.exitcode is not None and wid in self.running:
                idx = self.running.pop(wid)
                self.restarts += 1
                log.warning("designspace train: worker %d died (exit code %s) while training model %d; %s", wid,
                            p.exitcode, idx, "re-queued" if self.restarts <= 3 else "giving up")
                if self.restarts > 3:
                    raise PopulationError(f"worker {wid} died (exit code {p.exitcode}) training model {idx}; "
                                          "run the same command again to resume")
                self.tasks.put((idx, self.by_index[idx].to_json()))
                self.start(wid)
                self.tasks.put(None)

    def take(self, kind: str, w: int, payload: Any) -> ModelResult | None:
        """The result a worker's message carries (``None``: a model started)."""
        if kind == "error":
            raise PopulationError(f"worker {w} could not start: {payload}")
        if kind == "start":
            self.running[w] = payload
        if kind in ("start", "ready"):
            return None
        self.running.pop(w, None)
        if kind == "failed":
            idx, reason = payload
            return failure(idx, self.by_index[idx], self.schedule, w, reason)
        return payload  # "done"

    def stop(self) -> None:
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()
        for p in self.procs.values():
            p.join(timeout=10)
