"""The short-schedule trainer: a candidate network trained fast on GPU, correctly on CPU.

The recipe is the one the design-space papers use to compare many models cheaply
(Radosavovic et al., "On Network Design Spaces for Visual Recognition", ICCV 2019, and
"Designing Network Design Spaces", CVPR 2020, sec. 3: SGD with momentum, cosine schedule, few
epochs): SGD with (Nesterov) momentum, a linear warmup then a cosine decay of the learning rate
per step (Loshchilov & Hutter, "SGDR", 2017; Goyal et al., "Accurate, Large Minibatch SGD",
2017), weight decay on conv and linear weights only (no decay on norm parameters and biases),
label smoothing (Szegedy et al. 2016) and an optional exponential moving average of the weights.

On CUDA the forward runs under bf16 (or fp16 with loss scaling) autocast in channels_last
layout; small networks (bound by kernel launches) run their whole training step as one captured
CUDA graph (``cuda_graphs="auto"``: captured, timed against eager, kept if faster; the capture
time is part of the run's fixed cost), or through ``torch.compile`` when asked.  On CPU
everything is fp32 in channels_last layout, the convolutions of small feature maps run as the
matrix products they are (:mod:`designspace.search.fastconv`), and a seed fixes the whole
history.  Data sits on the device as uint8 and is augmented there
(:mod:`designspace.search.augment`); a :class:`Workspace` keeps it there between the models a
worker trains, so a population pays for loading and uploading once.

Here the schedule, the run and its epochs; :mod:`.steps` holds the optimizer step (eager or a
CUDA graph), :mod:`.workspace` the loaders and the device-resident data.
"""
from __future__ import annotations

import dataclasses
import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .augment import DeviceLoader, StreamLoader
from .data import Dataset
from .steps import EMA, EagerStep, autocast, graph_step, lr_at, param_groups
from .workspace import Workspace, derived_seed, make_loaders, resolve_device

__all__ = [
    "Schedule", "EpochStats", "TrainResult", "TrainingError", "TrainingDiverged", "OutOfMemory",
    "fit", "evaluate", "lr_at", "param_groups", "make_loaders", "Workspace",
]

AMP_CHOICES = ("bf16", "fp16", "off")
GRAPH_CHOICES = ("auto", "on", "off")


class TrainingError(RuntimeError):
    """A training run could not finish."""


class TrainingDiverged(TrainingError):
    """The training loss became NaN or infinite during ``epoch`` (1-based)."""

    def __init__(self, epoch: int, loss: float):
        self.epoch, self.loss = epoch, loss
        super().__init__(f"training diverged in epoch {epoch}: loss is {loss}; lower the learning rate "
                         "or add warmup epochs")


class OutOfMemory(TrainingError):
    """The device ran out of memory; the run was stopped and its memory released."""


@dataclass(frozen=True)
class Schedule:
    """Everything that defines a training run besides the model and the data (stored with results)."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.1  #: peak learning rate, reached at the end of warmup
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4  #: on conv/linear weights only
    label_smoothing: float = 0.0
    warmup_epochs: float = 0.0
    ema: float = 0.0  #: decay of the weight EMA evaluated instead of the weights; 0 = off
    seed: int = 0
    amp: str = "bf16"  #: CUDA autocast dtype: bf16, fp16 or off (CPU is always fp32)
    channels_last: bool = True  #: NHWC layout (CUDA and CPU: faster convolutions on both)
    #: torch.compile the model for training with CUDA graphs (mode "reduce-overhead"), CUDA only.
    #: Small CIFAR-size nets are bound by kernel-launch overhead; graphs remove it (about 3x),
    #: but inductor compiles every new architecture (tens of seconds): see ``cuda_graphs``.
    compile: bool = False
    eval_batch_size: int = 1024
    #: evaluate every this many epochs (and after the last); skipped epochs report NaN errors
    eval_every: int = 1
    #: CUDA only: capture the whole training step as a CUDA graph without inductor: ``auto``
    #: (capture, keep it when its steps are faster than eager ones), ``on``, ``off``
    cuda_graphs: str = "auto"
    #: CPU only: run the convolutions of small maps as matrix products when measured faster
    fast_conv: bool = True

    def __post_init__(self) -> None:
        def need(name: str, ok: bool, why: str) -> None:
            if not ok:
                raise ValueError(f"schedule.{name}={getattr(self, name)!r} {why}")

        for name in ("epochs", "batch_size", "eval_batch_size", "seed", "eval_every"):
            v = getattr(self, name)
            need(name, isinstance(v, int) and not isinstance(v, bool) and v >= (0 if name == "seed" else 1),
                 "must be a positive integer" if name != "seed" else "must be an integer >= 0")
        for name, lo, hi in (("lr", 0.0, math.inf), ("momentum", 0.0, 1.0), ("weight_decay", 0.0, math.inf),
                             ("label_smoothing", 0.0, 1.0), ("warmup_epochs", 0.0, math.inf), ("ema", 0.0, 1.0)):
            v = getattr(self, name)
            need(name, isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v
                 and (v < hi or hi == math.inf), f"must be a number in [{lo}, {hi})")
        need("lr", self.lr > 0, "must be > 0")
        need("warmup_epochs", self.warmup_epochs <= self.epochs, f"must be <= epochs ({self.epochs})")
        need("amp", self.amp in AMP_CHOICES, f"is not one of {', '.join(AMP_CHOICES)}")
        for name in ("nesterov", "channels_last", "compile", "fast_conv"):
            need(name, isinstance(getattr(self, name), bool), "must be true or false")
        need("cuda_graphs", self.cuda_graphs in GRAPH_CHOICES, f"is not one of {', '.join(GRAPH_CHOICES)}")
        need("nesterov", not (self.nesterov and self.momentum == 0), "needs momentum > 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Schedule":
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise ValueError(f"schedule.{bad[0]} is not a field of Schedule (fields: {', '.join(sorted(names))})")
        return cls(**d)


@dataclass(frozen=True)
class EpochStats:
    epoch: int  #: 1-based
    train_loss: float  #: mean training loss over the epoch's batches
    val_top1_err: float  #: fraction in [0, 1]
    val_top5_err: float | None  #: None when the dataset has fewer than 5 classes
    images_per_s: float  #: training throughput of the epoch (training steps only)
    seconds: float  #: wall time of the epoch, evaluation included
    lr: float  #: learning rate at the end of the epoch


@dataclass
class TrainResult:
    schedule: Schedule
    history: list[EpochStats]
    dataset: str
    device: str
    precision: str  #: fp32, bf16 or fp16
    seconds: float
    num_params: int
    peak_memory_bytes: int | None = None  #: CUDA only
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> EpochStats:
        return self.history[-1]

    @property
    def val_top1_err(self) -> float:
        return self.final.val_top1_err

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["schedule"] = self.schedule.to_dict()
        return d


# ------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: nn.Module, loader: DeviceLoader | StreamLoader, num_classes: int,
             amp_dtype: torch.dtype | None = None) -> tuple[float, float | None]:
    """Top-1 and (for >= 5 classes) top-5 error of ``model`` over ``loader``, as fractions."""
    model.eval()
    dev = loader.device
    c1 = torch.zeros((), dtype=torch.long, device=dev)
    c5 = torch.zeros((), dtype=torch.long, device=dev)
    n = 0
    k = 5 if num_classes >= 5 else 1
    for x, y in loader:
        with autocast(dev, amp_dtype):
            out = model(x)
        top = out.float().topk(k, dim=1).indices
        c1 += (top[:, 0] == y).sum()
        c5 += (top == y[:, None]).any(1).sum()
        n += len(y)
    if n == 0:
        raise TrainingError("the validation split is empty")
    return 1.0 - c1.item() / n, (1.0 - c5.item() / n) if k == 5 else None


# ---------------------------------------------------------------------------- training
def _amp_dtype(schedule: Schedule, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or schedule.amp == "off":
        return None
    if schedule.amp == "bf16" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _is_oom(e: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    if oom_type and isinstance(e, oom_type):
        return True
    msg = str(e)
    return isinstance(e, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg)


def fit(
    model: nn.Module,
    ds: Dataset,
    schedule: Schedule,
    callback: Callable[[EpochStats], None] | None = None,
    device: torch.device | str | None = None,
    *,
    progress: Callable[[int, int, int], None] | None = None,
    workers: int = 4,
    workspace: Workspace | None = None,
) -> TrainResult:
    """Train ``model`` (moved to ``device`` in place) on ``ds`` with ``schedule``.

    ``callback(stats)`` runs after every epoch; an exception it raises (e.g. ``optuna.TrialPruned``)
    stops training and propagates unchanged.  ``progress(epoch, step, steps)`` runs after every
    step.  ``workspace`` (a :class:`Workspace` on the same device) keeps the data on the device
    between calls.  The model's initialisation is the caller's: seed before building it for a
    fully reproducible run.  Raises :class:`TrainingDiverged` on a NaN/inf loss and
    :class:`OutOfMemory` (after releasing the run's memory) when the device runs out of memory.

    ``result.extra`` holds the run's cost breakdown in seconds: ``setup_s`` (loaders, optimizer),
    ``capture_s`` (CUDA-graph capture and its eager comparison), ``train_s`` (training steps), ``eval_s`` (validation), and ``step_mode``.
    """
    dev = workspace.device if workspace is not None and device is None else resolve_device(device)
    if workspace is not None and workspace.device != dev:
        raise ValueError(f"the workspace is on {workspace.device}, the run on {dev}")
    spec = getattr(model, "spec", None)
    if spec is not None and getattr(spec, "num_classes", ds.num_classes) != ds.num_classes:
        raise ValueError(f"the model has num_classes={spec.num_classes} but {ds.name} has {ds.num_classes} classes; "
                         f"build it with num_classes={ds.num_classes}")
    if spec is not None and ds.in_memory and getattr(spec, "in_chans", ds.channels) != ds.channels:
        raise ValueError(f"the model has in_chans={spec.in_chans} but {ds.name} has {ds.channels}-channel images; "
                         f"build it with in_chans={ds.channels}")
    failure = ""
    try:
        from designspace.fastconv import accelerated

        with accelerated(model, dev, enabled=schedule.fast_conv):
            return _fit(model, ds, schedule, callback, dev, progress, workers, workspace)
    except Exception as e:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
        if not _is_oom(e):
            raise
        failure = str(e).splitlines()[0] if str(e) else type(e).__name__
    # Outside the except block the traceback (and the tensors its frames hold) is gone.
    gc.collect()
    peak = ""
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        peak = f", peak {torch.cuda.max_memory_allocated(dev) / 2**30:.1f} GiB allocated"
    raise OutOfMemory(f"out of memory on {dev} with batch size {schedule.batch_size}{peak}: {failure}; "
                      "lower the batch size or pick a smaller model")


@dataclass
class _Run:
    """What one training run carries from step to step: the model, its loaders and step, and where it is."""

    model: nn.Module
    ds: Dataset
    schedule: Schedule
    dev: torch.device
    amp_dtype: torch.dtype | None
    train_loader: Any
    val_loader: Any
    step_fn: EagerStep
    ema: EMA | None
    graphs: bool  #: try capturing the step as a CUDA graph after its first batches
    total: int  #: optimizer steps in the whole run
    warmup: int
    step: int = 0
    lr: float = 0.0
    capture_s: float = 0.0
    pending: list[tuple[torch.Tensor, torch.Tensor, float]] = field(default_factory=list)  # first batches, for the capture

    @property
    def steps(self) -> int:  #: optimizer steps per epoch
        return len(self.train_loader)


#: steps between checks of the running loss for NaN/inf (a check synchronises the device)
CHECK_EVERY = 50


def _fit(model: nn.Module, ds: Dataset, schedule: Schedule, callback: Callable[[EpochStats], None] | None,
         dev: torch.device, progress: Callable[[int, int, int], None] | None, workers: int,
         workspace: Workspace | None = None) -> TrainResult:
    t_start = time.perf_counter()
    run = _start(model, ds, schedule, dev, workers, workspace)
    setup_s = time.perf_counter() - t_start
    train_s = eval_s = 0.0
    history: list[EpochStats] = []
    for epoch in range(1, schedule.epochs + 1):
        t0 = time.perf_counter()
        mean_loss = _train_epoch(run, epoch, progress)
        train_epoch = time.perf_counter() - t0
        t_eval = time.perf_counter()
        if epoch % schedule.eval_every == 0 or epoch == schedule.epochs:
            top1, top5 = evaluate(run.ema.module if run.ema is not None else model, run.val_loader, ds.num_classes,
                                  run.amp_dtype)
        else:
            top1, top5 = math.nan, (math.nan if ds.num_classes >= 5 else None)
        eval_s += time.perf_counter() - t_eval
        train_s += train_epoch
        stats = EpochStats(epoch, mean_loss, top1, top5, run.train_loader.num_samples / train_epoch,
                           time.perf_counter() - t0, run.lr)
        history.append(stats)
        if callback is not None:
            callback(stats)
    cuda = dev.type == "cuda"
    extra = {"setup_s": setup_s, "capture_s": run.capture_s, "train_s": train_s, "eval_s": eval_s,
             "step_mode": run.step_fn.mode, "threads": torch.get_num_threads() if not cuda else None}
    return TrainResult(
        schedule, history, ds.name, str(dev), {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[run.amp_dtype],
        time.perf_counter() - t_start, sum(p.numel() for p in model.parameters()),
        torch.cuda.max_memory_allocated(dev) if cuda else None, extra,
    )


def _start(model: nn.Module, ds: Dataset, schedule: Schedule, dev: torch.device, workers: int,
           workspace: Workspace | None) -> _Run:
    """The model on the device, its loaders, optimizer, loss, moving average and step."""
    torch.manual_seed(derived_seed(schedule.seed, "train"))  # dropout, drop path
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(dev)
    amp_dtype = _amp_dtype(schedule, dev)
    model.to(dev)
    if schedule.channels_last:
        model.to(memory_format=torch.channels_last)
    resident = workspace.resident(ds) if workspace is not None else None
    train_loader, val_loader = make_loaders(ds, schedule, dev, workers=workers, resident=resident)
    steps = len(train_loader)
    if steps == 0:
        raise TrainingError(f"{ds.name} has no training batches")
    graphs = cuda and schedule.cuda_graphs != "off" and not schedule.compile and amp_dtype is not torch.float16
    lr0: Any = torch.tensor(schedule.lr, device=dev) if graphs else schedule.lr
    opt = torch.optim.SGD(param_groups(model, schedule.weight_decay), lr=lr0, momentum=schedule.momentum,
                          nesterov=schedule.nesterov, **({"fused": True} if cuda else {}))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=schedule.label_smoothing)
    ema = EMA(model, schedule.ema) if schedule.ema > 0 else None
    step_model = torch.compile(model, mode="reduce-overhead", dynamic=False) if (cuda and schedule.compile) else model
    return _Run(model, ds, schedule, dev, amp_dtype, train_loader, val_loader,
                EagerStep(step_model, opt, criterion, scaler, dev, amp_dtype), ema, graphs,
                total=steps * schedule.epochs, warmup=int(round(schedule.warmup_epochs * steps)), lr=schedule.lr)


def _train_epoch(run: _Run, epoch: int, progress: Callable[[int, int, int], None] | None) -> float:
    """One epoch of optimizer steps: its mean loss (:class:`TrainingDiverged` when not finite)."""
    run.model.train()
    loss_sum = torch.zeros((), device=run.dev)
    for i, (x, y) in enumerate(run.train_loader):
        run.lr = lr_at(run.step, run.total, run.warmup, run.schedule.lr)
        if run.graphs and run.step_fn.mode == "eager" and run.step < 5 and run.total >= 8:
            run.pending.append((x, y, run.lr))
            if len(run.pending) == 5:
                _capture(run, loss_sum)
            run.step += 1
            continue
        loss, n_out = run.step_fn(x, y, run.lr)
        if run.step == 0 and n_out and n_out != run.ds.num_classes:
            raise ValueError(f"the model outputs {n_out} logits but {run.ds.name} has {run.ds.num_classes} classes")
        if run.ema is not None:
            run.ema.update()
        loss_sum += loss
        run.step += 1
        if (i + 1) % CHECK_EVERY == 0 and not torch.isfinite(loss_sum).item():
            raise TrainingDiverged(epoch, float(loss_sum))
        if progress is not None:
            progress(epoch, i + 1, run.steps)
    for x, y, lr_p in run.pending:  # too few steps to try a graph: run them eagerly
        loss_sum += run.step_fn(x, y, lr_p)[0]
    run.pending = []
    mean_loss = float(loss_sum) / run.steps  # synchronises
    if not math.isfinite(mean_loss):
        raise TrainingDiverged(epoch, mean_loss)
    return mean_loss


def _capture(run: _Run, loss_sum: torch.Tensor) -> None:
    """Run the pending first batches while capturing the step as a CUDA graph (kept if faster);
    their losses are added to ``loss_sum`` in place."""
    run.step_fn, losses, extra = graph_step(run.step_fn, run.pending, force=run.schedule.cuda_graphs == "on")
    run.capture_s += extra
    for loss in losses:
        loss_sum += loss
        if run.ema is not None:
            run.ema.update()
    run.pending = []
