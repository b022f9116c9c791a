"""The short-schedule trainer: a candidate network trained fast on GPU, correctly on CPU.

The recipe is the one the design-space papers use to compare many models cheaply
(Radosavovic et al., "On Network Design Spaces for Visual Recognition", ICCV 2019, and
"Designing Network Design Spaces", CVPR 2020, sec. 3: SGD with momentum, cosine schedule, few
epochs): SGD with (Nesterov) momentum, a linear warmup then a cosine decay of the learning rate
per step (Loshchilov & Hutter, "SGDR", 2017; Goyal et al., "Accurate, Large Minibatch SGD",
2017), weight decay on conv and linear weights only (no decay on norm parameters and biases),
label smoothing (Szegedy et al. 2016) and an optional exponential moving average of the weights.

On CUDA the forward runs under bf16 (or fp16 with loss scaling) autocast in channels_last
layout, optionally through ``torch.compile``; on CPU everything is fp32 and a seed fixes the
whole history.  Data sits on the device as uint8 and is augmented there (:mod:`search.augment`).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .augment import DeviceLoader, StreamLoader
from .data import Dataset, FileImages

__all__ = [
    "Schedule", "EpochStats", "TrainResult", "TrainingError", "TrainingDiverged", "OutOfMemory",
    "fit", "evaluate", "lr_at", "param_groups", "make_loaders",
]

AMP_CHOICES = ("bf16", "fp16", "off")


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
    channels_last: bool = True  #: CUDA only
    #: torch.compile the model for training with CUDA graphs (mode "reduce-overhead"), CUDA only.
    #: Small CIFAR-size nets are bound by kernel-launch overhead; graphs remove it (about 3x).
    compile: bool = False
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        def need(name: str, ok: bool, why: str) -> None:
            if not ok:
                raise ValueError(f"schedule.{name}={getattr(self, name)!r} {why}")

        for name in ("epochs", "batch_size", "eval_batch_size", "seed"):
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
        for name in ("nesterov", "channels_last", "compile"):
            need(name, isinstance(getattr(self, name), bool), "must be true or false")
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


# ------------------------------------------------------------------------- pure parts
def lr_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Learning rate before optimizer step ``step`` (0-based): linear warmup from ``peak /
    warmup_steps`` to ``peak`` over ``warmup_steps`` steps, then a half-cosine to 0 at ``total_steps``."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(step - warmup_steps, span) / span))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimizer groups: weights of convs/linears (ndim > 1) decay, norm parameters and biases don't."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _TensorImages(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def make_loaders(
    ds: Dataset, schedule: Schedule, device: torch.device, *, device_fraction: float = 0.5, workers: int = 4
) -> tuple[DeviceLoader | StreamLoader, DeviceLoader | StreamLoader]:
    """Train and validation loaders: device-resident when the uint8 data fits in
    ``device_fraction`` of the free device memory, streamed through a DataLoader otherwise."""
    fits = ds.in_memory
    if fits and device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        fits = ds.nbytes <= device_fraction * free
    cl = schedule.channels_last and device.type == "cuda"
    common = dict(mean=ds.mean, std=ds.std, device=device, seed=schedule.seed, channels_last=cl)
    loaders = []
    for x, y, train in ((ds.train_images, ds.train_labels, True), (ds.val_images, ds.val_labels, False)):
        bs = schedule.batch_size if train else schedule.eval_batch_size
        kw = dict(common, augment=ds.augment if train else None, shuffle=train, drop_last=train and len(y) >= bs)
        if fits:
            loaders.append(DeviceLoader(x, y, bs, **kw))  # type: ignore[arg-type]
        else:
            data = x if isinstance(x, FileImages) else _TensorImages(x, y)
            loaders.append(StreamLoader(data, bs, workers=workers, **kw))
    return loaders[0], loaders[1]


# ----------------------------------------------------------------------------- EMA
class _EMA:
    """Exponential moving average of the weights (and float buffers), with timm's warmup of the decay."""

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.updates = decay, 0
        src, dst = model.state_dict(), self.module.state_dict()
        self.pairs_f = [(dst[k], v) for k, v in src.items() if v.is_floating_point()]
        self.pairs_i = [(dst[k], v) for k, v in src.items() if not v.is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        if self.pairs_f:
            dst, src = zip(*self.pairs_f)
            torch._foreach_lerp_(list(dst), list(src), 1.0 - d)
        for a, b in self.pairs_i:
            a.copy_(b)


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
        with _autocast(dev, amp_dtype):
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


def _autocast(dev: torch.device, amp_dtype: torch.dtype | None) -> Any:
    return torch.autocast(dev.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()


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
) -> TrainResult:
    """Train ``model`` (moved to ``device`` in place) on ``ds`` with ``schedule``.

    ``callback(stats)`` runs after every epoch; an exception it raises (e.g. ``optuna.TrialPruned``)
    stops training and propagates unchanged.  ``progress(epoch, step, steps)`` runs after every
    step.  The model's initialisation is the caller's: seed before building it for a fully
    reproducible run.  Raises :class:`TrainingDiverged` on a NaN/inf loss and :class:`OutOfMemory`
    (after releasing the run's memory) when the device runs out of memory.
    """
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    spec = getattr(model, "spec", None)
    if spec is not None and getattr(spec, "num_classes", ds.num_classes) != ds.num_classes:
        raise ValueError(f"the model has num_classes={spec.num_classes} but {ds.name} has {ds.num_classes} classes; "
                         f"build it with num_classes={ds.num_classes}")
    failure = ""
    try:
        return _fit(model, ds, schedule, callback, dev, progress, workers)
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


def _fit(model: nn.Module, ds: Dataset, schedule: Schedule, callback: Callable[[EpochStats], None] | None,
         dev: torch.device, progress: Callable[[int, int, int], None] | None, workers: int) -> TrainResult:
    t_start = time.perf_counter()
    torch.manual_seed(schedule.seed)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(dev)
    amp_dtype = _amp_dtype(schedule, dev)
    model.to(dev)
    if cuda and schedule.channels_last:
        model.to(memory_format=torch.channels_last)
    train_loader, val_loader = make_loaders(ds, schedule, dev, workers=workers)
    steps = len(train_loader)
    if steps == 0:
        raise TrainingError(f"{ds.name} has no training batches")
    total, warmup = steps * schedule.epochs, int(round(schedule.warmup_epochs * steps))
    opt = torch.optim.SGD(param_groups(model, schedule.weight_decay), lr=schedule.lr, momentum=schedule.momentum,
                          nesterov=schedule.nesterov, **({"fused": True} if cuda else {}))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=schedule.label_smoothing)
    ema = _EMA(model, schedule.ema) if schedule.ema > 0 else None
    step_model = torch.compile(model, mode="reduce-overhead", dynamic=False) if (cuda and schedule.compile) else model
    check_every = 50
    history: list[EpochStats] = []
    lr, step = schedule.lr, 0
    for epoch in range(1, schedule.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=dev)
        for i, (x, y) in enumerate(train_loader):
            lr = lr_at(step, total, warmup, schedule.lr)
            for g in opt.param_groups:
                g["lr"] = lr
            with _autocast(dev, amp_dtype):
                out = step_model(x)
                if step == 0 and out.shape[-1] != ds.num_classes:
                    raise ValueError(f"the model outputs {out.shape[-1]} logits but {ds.name} has "
                                     f"{ds.num_classes} classes")
                loss = criterion(out.float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if ema is not None:
                ema.update()
            loss_sum += loss.detach()
            step += 1
            if (i + 1) % check_every == 0 and not torch.isfinite(loss_sum).item():
                raise TrainingDiverged(epoch, float(loss_sum))
            if progress is not None:
                progress(epoch, i + 1, steps)
        mean_loss = float(loss_sum) / steps  # synchronises
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(epoch, mean_loss)
        train_s = time.perf_counter() - t0
        top1, top5 = evaluate(ema.module if ema is not None else model, val_loader, ds.num_classes, amp_dtype)
        stats = EpochStats(epoch, mean_loss, top1, top5, train_loader.num_samples / train_s,
                           time.perf_counter() - t0, lr)
        history.append(stats)
        if callback is not None:
            callback(stats)
    return TrainResult(
        schedule, history, ds.name, str(dev), {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype],
        time.perf_counter() - t_start, sum(p.numel() for p in model.parameters()),
        torch.cuda.max_memory_allocated(dev) if cuda else None,
    )
