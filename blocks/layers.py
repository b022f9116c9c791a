"""Small layers shared by every family: conv-norm-act, squeeze-excitation, drop path, activations."""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import nn

ModuleFactory = Callable[..., nn.Module]

_ACTS: dict[str, ModuleFactory] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "hard_swish": nn.Hardswish,
    # TResNet's leaky ReLU (timm: negative_slope=1e-3, inside its inplace-ABN layers)
    "leaky_relu": partial(nn.LeakyReLU, negative_slope=1e-3),
}


def get_act(name: str) -> ModuleFactory:
    """Activation factory by name; called as ``get_act(name)(inplace=True)``."""
    try:
        return _ACTS[name]
    except KeyError:
        raise ValueError(f"activation={name!r} is not one of {', '.join(_ACTS)}") from None


def get_norm(name: str) -> ModuleFactory:
    if name == "batchnorm":
        return nn.BatchNorm2d
    raise ValueError(f"norm={name!r} is not supported")


class ConvNormAct(nn.Sequential):
    """Conv2d (no bias) -> norm -> activation (``act_layer=None`` for none).

    Child names: ``conv``, ``bn``, ``act``.  Padding is symmetric ``dilation * (k - 1) // 2``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        *,
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory | None = nn.ReLU,
        padding: int | None = None,
    ):
        super().__init__()
        pad = (kernel_size - 1) // 2 if padding is None else padding
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, pad, groups=groups, bias=False)
        self.bn = norm_layer(out_chs)
        self.act = act_layer(inplace=True) if act_layer is not None else nn.Identity()


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): global average pool, 1x1 conv to ``rd_chs``
    (with bias), activation, 1x1 conv back (with bias), sigmoid gate.  Children: ``fc1``, ``fc2``.
    """

    def __init__(self, chs: int, rd_chs: int, act_layer: ModuleFactory = nn.ReLU):
        super().__init__()
        self.fc1 = nn.Conv2d(chs, rd_chs, 1, bias=True)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd_chs, chs, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.fc2(self.act(self.fc1(s)))
        return x * s.sigmoid()


class DropPath(nn.Module):
    """Stochastic depth per sample (Huang et al. 2016); identity in eval mode or at rate 0."""

    def __init__(self, rate: float = 0.0):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rate == 0.0 or not self.training:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
