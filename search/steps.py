"""The trainer's optimizer step: its learning rate (:func:`lr_at`) and parameter groups, the
step eager or captured once as a CUDA graph and replayed (:func:`graph_step` times both on the
same kind of batch and keeps the faster), the exponential moving average of the weights updated
after each step, and autocast for steps and evaluation."""
from __future__ import annotations

import contextlib
import copy
import math
import time
from typing import Any

import torch
from torch import nn

__all__ = ["autocast", "EagerStep", "GraphStep", "graph_step", "EMA", "lr_at", "param_groups"]


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


def autocast(dev: torch.device, amp_dtype: torch.dtype | None) -> Any:
    return torch.autocast(dev.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()


class EMA:
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


class EagerStep:
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
        with autocast(self.dev, self.amp_dtype):
            out = self.model(x)
            loss = self.criterion(out.float(), y)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return loss.detach(), out.shape[-1]


class GraphStep(EagerStep):
    """The whole step captured once as a CUDA graph (static input, label and lr tensors) and
    replayed: no kernel-launch overhead per layer.  Built by :func:`graph_step`."""

    mode = "cuda_graph"

    def __init__(self, eager: EagerStep, x: torch.Tensor, y: torch.Tensor):
        super().__init__(eager.model, eager.opt, eager.criterion, eager.scaler, eager.dev, eager.amp_dtype)
        self.x, self.y = x.clone(), y.clone()
        self.graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)  # backward inside the graph then writes, not accumulates
        with torch.cuda.graph(self.graph):
            with autocast(self.dev, self.amp_dtype):
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


def graph_step(eager: EagerStep, batches: list[tuple[torch.Tensor, torch.Tensor, float]],
               force: bool = False) -> tuple[EagerStep, list[torch.Tensor], float]:
    """Run the first steps eagerly on a side stream (warm-up), capture the step, time both on
    the same kind of batch, and return the faster (``force``: the graph whatever the timing).
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
        graphed = GraphStep(eager, x, y)
    except Exception:  # noqa: BLE001 - an op that cannot be captured: stay eager
        torch.cuda.synchronize()
        return eager, losses, time.perf_counter() - t0 - eager_s
    x, y, lr = batches[4]
    t_graph0 = time.perf_counter()
    losses.append(graphed(x, y, lr)[0])
    torch.cuda.synchronize()
    graph_s = time.perf_counter() - t_graph0
    extra = time.perf_counter() - t0 - eager_s - graph_s
    keep = force or graph_s < eager_s
    return (graphed if keep else eager), losses, extra
