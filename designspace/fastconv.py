"""Faster convolutions on CPU for the small feature maps of short-schedule networks.

A RegNet or AnyNet at 32 px runs its last stages on 4x4, 2x2 and 1x1 maps.  There oneDNN's
convolutions (forward and, worse, backward) are several times slower than the matrix product
they amount to: in ``regnetx_002`` at 32 px the 1x1-map layers took 60% of a training step.
Two exact rewrites cover them:

* a 1x1 convolution (stride 1) is a matrix product over the ``N*H*W`` pixels (per group);
* a convolution whose output is a single pixel and whose kernel window covers the whole
  (padded) input is a matrix product of the flattened input with the covered slice of the
  kernel (e.g. a 3x3 conv on a 1x1 map uses only the kernel's centre; a strided 3x3 on 2x2
  uses its lower-right 2x2).

A third rewrite is a workaround, not a speed-up: a strided 1x1 convolution (the projection
shortcut of a downsampling block) is the 1x1 convolution of the subsampled map
(``x[:, :, ::s, ::s]``), exactly.  oneDNN's own strided 1x1 crashes the process in backward for
some shapes under torch 2.14.1 on CPU with channels_last (8 -> 136 channels on a 56x56 map,
batch 1-8: a segfault or "double free or corruption"; a RegNetY of 960 MF at 224 px has it), so
the trainer, ``designspace.measure`` and ``bench`` never call it.

Gradients flow through the same tensors (the unused kernel taps get the zero gradient they get
from padding), so training is the same computation in another order of summation (float32
round-off, about 1e-7 relative).  When the rewrite is used is a fixed rule read off measurements
on this project's CPU machine (oneDNN, channels_last, batch 128 and 1024, 1 thread, forward +
backward; ``benchmarks/README.md``): a dense 1x1 conv on maps of at most 2x2 pixels (1.6-2.8x
faster, 1x1 convs on 4x4 maps and more are as fast or faster in oneDNN), a grouped 1x1 conv on
1x1 maps (1.4-2.5x), and every single-output-pixel window (a grouped 3x3 on a 1x1 map: 3-4x).
Measuring per layer at run time cost more than it saved for populations of different networks.
:func:`accelerated` applies this to a model's ``Conv2d`` modules for the duration of a block and
restores them afterwards; modules, parameters and state_dict keys are untouched.  CPU only: on
CUDA nothing changes.
"""
from __future__ import annotations

import contextlib
import types
from typing import Iterator

import torch
from torch import nn

__all__ = ["accelerated", "use_matmul", "eligible"]


def _geometry(conv: nn.Conv2d, x: torch.Tensor) -> tuple[str, tuple[int, int]] | None:
    """``("pointwise"|"window", output size)`` when a rewrite applies to ``conv`` on ``x``."""
    if not isinstance(conv.padding, tuple) or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
        return None
    if x.dim() != 4:
        return None
    _, _, h, w = x.shape
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    ph, pw = conv.padding
    if kh == 1 and kw == 1 and (sh, sw) == (1, 1) and (ph, pw) == (0, 0):
        return "pointwise", (h, w)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if ho == 1 and wo == 1 and h <= kh - ph and w <= kw - pw:
        return "window", (1, 1)
    return None


def eligible(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    return _geometry(conv, x) is not None


def _matmul_conv(conv: nn.Conv2d, x: torch.Tensor, kind: str) -> torch.Tensor:
    n, c, h, w = x.shape
    g = conv.groups
    if kind == "pointwise":
        wt, taps = conv.weight, 1
        xs = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
        ho, wo = h, w
    else:
        ph, pw = conv.padding
        wt, taps = conv.weight[:, :, ph:ph + h, pw:pw + w], h * w
        xs = x.reshape(n, c * h * w)
        ho = wo = 1
    co = wt.shape[0]
    k = (c // g) * taps
    if g == 1:
        y = xs @ wt.reshape(co, k).t()
    else:
        y = torch.bmm(xs.reshape(-1, g, k).transpose(0, 1), wt.reshape(g, co // g, k).transpose(1, 2))
        y = y.transpose(0, 1).reshape(-1, co)
    if conv.bias is not None:
        y = y + conv.bias
    return y.view(n, ho, wo, co).permute(0, 3, 1, 2)


def use_matmul(conv: nn.Conv2d, x: torch.Tensor, kind: str) -> bool:
    """The rule (see the module docstring): when the matrix product beats oneDNN."""
    if kind == "window":
        return True
    pixels = x.shape[-1] * x.shape[-2]
    return pixels <= 4 if conv.groups == 1 else pixels == 1


def _strided_pointwise(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    return (conv.kernel_size == (1, 1) and conv.stride != (1, 1) and conv.padding == (0, 0)
            and conv.dilation == (1, 1) and x.dim() == 4)


def _forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    if _strided_pointwise(self, x):  # subsample, then the stride-1 1x1 (see the module docstring)
        x = x[:, :, ::self.stride[0], ::self.stride[1]]
        if use_matmul(self, x, "pointwise"):
            return _matmul_conv(self, x, "pointwise")
        return torch.nn.functional.conv2d(x, self.weight, self.bias, 1, 0, 1, self.groups)
    geo = _geometry(self, x)
    if geo is not None and use_matmul(self, x, geo[0]):
        return _matmul_conv(self, x, geo[0])
    return self._conv_forward(x, self.weight, self.bias)


@contextlib.contextmanager
def accelerated(model: nn.Module, device: torch.device | str = "cpu", enabled: bool = True) -> Iterator[nn.Module]:
    """Within the block, ``model``'s Conv2d layers use the faster implementation per shape
    (CPU only; elsewhere, or with ``enabled=False``, nothing changes)."""
    if not enabled or torch.device(device).type != "cpu":
        yield model
        return
    patched = []
    for m in model.modules():
        if type(m) is nn.Conv2d and "forward" not in m.__dict__:
            m.forward = types.MethodType(_forward, m)  # type: ignore[method-assign]
            patched.append(m)
    try:
        yield model
    finally:
        for m in patched:
            del m.forward
