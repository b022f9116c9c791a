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

Here the plan (which networks, which already trained); :mod:`.results` holds the files and
records, :mod:`.workers` the training, in this process or in worker processes.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

from .results import (DataRef, ModelResult, PopulationError, ResultsFile, adapt, from_record, load_specs,
                      read_results)
from .workers import run_inline, run_processes, train_one

__all__ = ["ModelResult", "DataRef", "train_population", "read_results", "load_specs", "PopulationError",
           "adapt", "train_one"]

log = logging.getLogger(__name__)


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

    from ..cores import assign_devices

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"workers={workers!r} must be an integer >= 1")
    nets = [_as_spec(s) for s in specs]
    _check_shapes(nets, data)
    store = ResultsFile(results)
    out, todo = _plan(nets, results, schedule.seed)
    device_of = assign_devices(workers, list(devices or []))
    try:
        if workers == 1:
            run_inline(todo, data, schedule, device_of[0], threads, store, out, on_result)
        else:
            run_processes(todo, data, schedule, device_of, threads, store, out, on_result)
    finally:
        store.close()
    return [out[i] for i in sorted(out)]


def _check_shapes(nets: list[Any], data: Any) -> None:
    """Every network must run on the data: checked for all before any trains (a SpecError naming
    the spec's index)."""
    from designspace.errors import SpecError

    shape = (data.num_classes, data.resolution, data.channels) if not isinstance(data, DataRef) \
        else getattr(data, "shape", None)
    if shape is None:
        return
    for i, net in enumerate(nets):
        try:
            adapt(net, *shape)
        except SpecError as e:
            raise SpecError(f"specs[{i}].{e.path}", e.value, f"{e.reason} (the data set's images are "
                            f"{shape[1]}x{shape[1]}x{shape[2]})") from None


def _plan(nets: list[Any], results: "str | os.PathLike | None",
          seed: int) -> tuple[dict[int, ModelResult], list[tuple[int, Any]]]:
    """``(results already in the file, by index; (index, spec) still to train)``: each network
    once, and none that an earlier run of the same population trained with this seed."""
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
        prev = done.get((key, seed))
        if prev is not None:  # trained by an earlier run of the same population
            out[i] = from_record(prev, i)
            continue
        todo.append((i, net))
    if out:
        log.info("designspace train: %d of %d model(s) already in %s; training the other %d", len(out),
                 len(out) + len(todo), results, len(todo))
    return out, todo
