"""A population's files and records: the specs in (:func:`load_specs`: a sample file), one
:class:`ModelResult` per trained network, the results file out (JSON lines, each line whole or
absent: :class:`ResultsFile`, :func:`read_results`), and the data set as a reference a worker
process loads itself (:class:`DataRef`)."""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["PopulationError", "adapt", "DataRef", "ModelResult", "load_specs", "read_results", "ResultsFile",
           "failure", "from_record"]


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
        from ..data import load

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


class ResultsFile:
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


def failure(index: int, spec: Any, schedule: Any, worker: int, reason: str) -> ModelResult:
    return ModelResult(index=index, id=spec.id, source_id=spec.id, seed=schedule.seed, status="failed", error=None,
                       errors=[], train_losses=[], seconds=0.0, build_s=0.0, setup_s=0.0, capture_s=0.0, train_s=0.0,
                       eval_s=0.0, images_per_s=0.0, device="", threads=None, step_mode="", worker=worker, flops=0,
                       params=0, acts=0, reason=reason, spec=spec.to_json())


def from_record(r: Mapping[str, Any], index: int) -> ModelResult:
    fields = ModelResult.__dataclass_fields__
    kw = {k: r.get(k) for k in fields}
    kw["index"] = index
    return ModelResult(**kw)  # type: ignore[arg-type]
