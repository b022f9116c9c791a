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
    ds: Dataset, schedule: Schedule, device: torch.device, *, device_fraction: float = 0.5, workers: int = 4,
    resident: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> tuple[DeviceLoader | StreamLoader, DeviceLoader | StreamLoader]:
    """Train and validation loaders: device-resident when the uint8 data fits in
    ``device_fraction`` of the free device memory, streamed through a DataLoader otherwise.
    ``resident`` passes tensors already on the device (a :class:`Workspace`'s), so nothing is
    copied again; the loaders' permutation and augmentation are seeded by ``schedule.seed``."""
    fits = ds.in_memory
    if fits and device.type == "cuda" and resident is None:
        free, _ = torch.cuda.mem_get_info(device)
        fits = ds.nbytes <= device_fraction * free
    cl = schedule.channels_last
    common = dict(mean=ds.mean, std=ds.std, device=device, seed=derived_seed(schedule.seed, "data"), channels_last=cl)
    loaders = []
    parts = ((ds.train_images, ds.train_labels, True), (ds.val_images, ds.val_labels, False))
    if resident is not None:
        parts = ((resident[0], resident[1], True), (resident[2], resident[3], False))
    for x, y, train in parts:
        bs = schedule.batch_size if train else schedule.eval_batch_size
        kw = dict(common, augment=ds.augment if train else None, shuffle=train, drop_last=train and len(y) >= bs)
        if fits:
            loaders.append(DeviceLoader(x, y, bs, **kw))  # type: ignore[arg-type]
        else:
            data = x if isinstance(x, FileImages) else _TensorImages(x, y)
            loaders.append(StreamLoader(data, bs, workers=workers, **kw))
    return loaders[0], loaders[1]


class Workspace:
    """What a worker keeps between the models it trains on one device: each data set's images
    and labels on the device (uploaded once, as uint8), and the device settings.

    ``fit(model, ds, schedule, workspace=ws)`` builds cheap loaders over the resident tensors
    for every model (seeded per model, so results equal a fresh run's); ``uploads`` counts the
    uploads actually made (one per data set)."""

    def __init__(self, device: torch.device | str | None = None):
        self.device = resolve_device(device)
        self._resident: dict[int, tuple[Dataset, tuple[torch.Tensor, ...]]] = {}
        self.uploads = 0
        self.upload_seconds = 0.0

    def resident(self, ds: Dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """The data set's tensors on the device (None when it is streamed from files or does
        not fit in half the free device memory)."""
        if not ds.in_memory:
            return None
        hit = self._resident.get(id(ds))
        if hit is None or hit[0] is not ds:
            if self.device.type == "cuda":
                free, _ = torch.cuda.mem_get_info(self.device)
                if ds.nbytes > 0.5 * free:
                    return None
            t0 = time.perf_counter()
            tensors = tuple(t.to(self.device, non_blocking=False) for t in
                            (ds.train_images, ds.train_labels.long(), ds.val_images, ds.val_labels.long()))
            self.upload_seconds += time.perf_counter() - t0
            self.uploads += 1
            hit = self._resident[id(ds)] = (ds, tensors)
        return hit[1]  # type: ignore[return-value]


def derived_seed(seed: int, stream: str) -> int:
    """A seed for one random stream of a run (``data``: batch order and augmentation; ``train``:
    dropout) that is independent of ``seed`` itself.

    Callers seed the model's initialisation with ``torch.manual_seed(seed)``; seeding the data
    generator with the same number made the batch order and crops a function of the same random
    bits as the initial weights.  On 2-epoch Fashion-MNIST schedules that correlation cost RegNetX
    models about 7 points of error against a plain DataLoader loop (24 models, benchmarks/README),
    and it vanished with the streams decorrelated."""
    import hashlib

    h = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def resolve_device(device: torch.device | str | None) -> torch.device:
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


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


class _EagerStep:
    """One optimizer step, eagerly: set the lr, forward, loss, backward, step."""

    mode = "eager"

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer, criterion: nn.Module, scaler: Any,
                 dev: torch.device, amp_dtype: torch.dtype | None):
        self.model, self.opt, self.criterion, self.scaler = model, opt, criterion, scaler
        self.dev, self.amp_dtype = dev, amp_dtype
        self.lr_tensor = isinstance(opt.param_groups[0]["lr"], torch.Tensor)

    def set_lr(self, lr: float) -> None:
        for g in self.opt.param_groups:
            if self.lr_tensor:
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[torch.Tensor, int]:
        self.set_lr(lr)
        with _autocast(self.dev, self.amp_dtype):
            out = self.model(x)
            loss = self.criterion(out.float(), y)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss.detach(), out.shape[-1]


class _GraphStep(_EagerStep):
    """The whole step captured once as a CUDA graph (static input, label and lr tensors) and
    replayed: no kernel-launch overhead per layer.  Built by :func:`_graph_step`."""

    mode = "cuda_graph"

    def __init__(self, eager: _EagerStep, x: torch.Tensor, y: torch.Tensor):
        super().__init__(eager.model, eager.opt, eager.criterion, eager.scaler, eager.dev, eager.amp_dtype)
        self.x, self.y = x.clone(), y.clone()
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)  # backward inside the graph then writes, not accumulates
        with torch.cuda.graph(self.graph):
            with _autocast(self.dev, self.amp_dtype):
                out = self.model(self.x)
                self.loss = self.criterion(out.float(), self.y)
            self.loss.backward()
            self.opt.step()

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[torch.Tensor, int]:
        self.set_lr(lr)
        self.x.copy_(x, non_blocking=True)
        self.y.copy_(y, non_blocking=True)
        self.graph.replay()
        return self.loss.detach().clone(), 0


def _graph_step(eager: _EagerStep, batches: list[tuple[torch.Tensor, torch.Tensor, float]],
                schedule: Schedule) -> tuple[_EagerStep, list[torch.Tensor], float]:
    """Run the first steps eagerly on a side stream (warm-up), capture the step, time both on
    the same kind of batch, and return the faster (``on``: the graph whatever the timing).
    Every batch given is a real training step.  Returns (step, losses of the batches, seconds
    spent beyond the steps themselves)."""
    losses: list[torch.Tensor] = []
    t0 = time.perf_counter()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for x, y, lr in batches[:3]:
            losses.append(eager(x, y, lr)[0])
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    t_eager0 = time.perf_counter()
    x, y, lr = batches[3]
    losses.append(eager(x, y, lr)[0])
    torch.cuda.synchronize()
    eager_s = time.perf_counter() - t_eager0
    try:
        graphed = _GraphStep(eager, x, y)
    except Exception:  # noqa: BLE001 - an op that cannot be captured: stay eager
        torch.cuda.synchronize()
        return eager, losses, time.perf_counter() - t0 - eager_s
    x, y, lr = batches[4]
    t_graph0 = time.perf_counter()
    losses.append(graphed(x, y, lr)[0])
    torch.cuda.synchronize()
    graph_s = time.perf_counter() - t_graph0
    extra = time.perf_counter() - t0 - eager_s - graph_s
    keep = schedule.cuda_graphs == "on" or graph_s < eager_s
    return (graphed if keep else eager), losses, extra


def _fit(model: nn.Module, ds: Dataset, schedule: Schedule, callback: Callable[[EpochStats], None] | None,
         dev: torch.device, progress: Callable[[int, int, int], None] | None, workers: int,
         workspace: Workspace | None = None) -> TrainResult:
    t_start = time.perf_counter()
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
    total, warmup = steps * schedule.epochs, int(round(schedule.warmup_epochs * steps))
    graphs = cuda and schedule.cuda_graphs != "off" and not schedule.compile and amp_dtype is not torch.float16
    lr0: Any = torch.tensor(schedule.lr, device=dev) if graphs else schedule.lr
    opt = torch.optim.SGD(param_groups(model, schedule.weight_decay), lr=lr0, momentum=schedule.momentum,
                          nesterov=schedule.nesterov, **({"fused": True} if cuda else {}))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype is torch.float16)
    criterion = nn.CrossEntropyLoss(label_smoothing=schedule.label_smoothing)
    ema = _EMA(model, schedule.ema) if schedule.ema > 0 else None
    step_model = torch.compile(model, mode="reduce-overhead", dynamic=False) if (cuda and schedule.compile) else model
    step_fn: _EagerStep = _EagerStep(step_model, opt, criterion, scaler, dev, amp_dtype)
    setup_s = time.perf_counter() - t_start
    capture_s = train_s = eval_s = 0.0
    pending: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # first batches, for the graph capture
    check_every = 50
    history: list[EpochStats] = []
    lr, step = schedule.lr, 0
    for epoch in range(1, schedule.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=dev)
        for i, (x, y) in enumerate(train_loader):
            lr = lr_at(step, total, warmup, schedule.lr)
            if graphs and step_fn.mode == "eager" and step < 5 and total >= 8:
                pending.append((x, y, lr))
                if len(pending) == 5:
                    step_fn, losses, extra = _graph_step(step_fn, pending, schedule)
                    capture_s += extra
                    for loss in losses:
                        loss_sum += loss
                        if ema is not None:
                            ema.update()
                    pending = []
                step += 1
                continue
            loss, n_out = step_fn(x, y, lr)
            if step == 0 and n_out and n_out != ds.num_classes:
                raise ValueError(f"the model outputs {n_out} logits but {ds.name} has {ds.num_classes} classes")
            if ema is not None:
                ema.update()
            loss_sum += loss
            step += 1
            if (i + 1) % check_every == 0 and not torch.isfinite(loss_sum).item():
                raise TrainingDiverged(epoch, float(loss_sum))
            if progress is not None:
                progress(epoch, i + 1, steps)
        for x, y, lr_p in pending:  # too few steps to try a graph: run them eagerly
            loss_sum += step_fn(x, y, lr_p)[0]
        pending = []
        mean_loss = float(loss_sum) / steps  # synchronises
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(epoch, mean_loss)
        train_epoch = time.perf_counter() - t0
        t_eval = time.perf_counter()
        if epoch % schedule.eval_every == 0 or epoch == schedule.epochs:
            top1, top5 = evaluate(ema.module if ema is not None else model, val_loader, ds.num_classes, amp_dtype)
        else:
            top1, top5 = math.nan, (math.nan if ds.num_classes >= 5 else None)
        eval_s += time.perf_counter() - t_eval
        train_s += train_epoch
        stats = EpochStats(epoch, mean_loss, top1, top5, train_loader.num_samples / train_epoch,
                           time.perf_counter() - t0, lr)
        history.append(stats)
        if callback is not None:
            callback(stats)
    extra = {"setup_s": setup_s, "capture_s": capture_s, "train_s": train_s,
             "eval_s": eval_s, "step_mode": step_fn.mode, "threads": torch.get_num_threads() if not cuda else None}
    return TrainResult(
        schedule, history, ds.name, str(dev), {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype],
        time.perf_counter() - t_start, sum(p.numel() for p in model.parameters()),
        torch.cuda.max_memory_allocated(dev) if cuda else None, extra,
    )
