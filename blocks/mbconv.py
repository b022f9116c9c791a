"""Mobile blocks of EfficientNet (Tan & Le, ICML 2019) and MobileNetV2 (Sandler et al., CVPR 2018).

* :class:`DepthwiseSeparable` — timm's ``DepthwiseSeparableConv`` (EfficientNet stage 1):
  depthwise kxk + BN + act, SE, pointwise 1x1 + BN (linear).
* :class:`MBConv` — timm's ``InvertedResidual``: pointwise expand + BN + act, depthwise kxk
  (stride) + BN + act, SE, pointwise 1x1 project + BN (linear).

Both add the input back (through drop path) only when ``stride == 1`` and ``in_chs == out_chs``.
Widths are explicit arguments (``mid_chs``, ``se_chs``); the rounding rules that produce them
from a spec live in :mod:`designspace.complexity.mbconv`.  Child names are timm's, so a timm
state_dict maps onto ours by renaming only the prefixes (``blocks`` -> ``stages``) and the SE
convs (``conv_reduce``/``conv_expand`` -> ``fc1``/``fc2``).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import DropPath, ModuleFactory, SqueezeExcite

__all__ = ["DepthwiseSeparable", "MBConv"]


def _se(chs: int, se_chs: int, act_layer: ModuleFactory) -> nn.Module:
    # timm's EfficientNet SE: mean -> 1x1 conv (bias) -> block act -> 1x1 conv (bias) -> sigmoid
    # gate; designspace.blocks.layers.SqueezeExcite computes exactly that.
    return SqueezeExcite(chs, se_chs, act_layer=act_layer) if se_chs else nn.Identity()


def _check(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")


class DepthwiseSeparable(nn.Module):
    """Depthwise-separable block: dw kxk (stride) -> BN -> act -> SE -> pw 1x1 -> BN (+ skip).

    ``se_chs`` is the SE's reduced width (0 = no SE).  Children: ``conv_dw``, ``bn1``, ``act1``,
    ``se``, ``conv_pw``, ``bn2``, ``drop_path``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        se_chs: int = 0,
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
        drop_path: float = 0.0,
    ):
        super().__init__()
        _check("in_chs", in_chs, 1)
        _check("out_chs", out_chs, 1)
        _check("se_chs", se_chs, 0)
        self.has_skip = stride == 1 and in_chs == out_chs
        self.conv_dw = nn.Conv2d(in_chs, in_chs, kernel_size, stride, (kernel_size - 1) // 2, groups=in_chs, bias=False)
        self.bn1 = norm_layer(in_chs)
        self.act1 = act_layer(inplace=True)
        self.se = _se(in_chs, se_chs, act_layer)
        self.conv_pw = nn.Conv2d(in_chs, out_chs, 1, bias=False)
        self.bn2 = norm_layer(out_chs)
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.act1(self.bn1(self.conv_dw(x))))
        out = self.bn2(self.conv_pw(out))
        return self.drop_path(out) + x if self.has_skip else out


class MBConv(nn.Module):
    """Inverted residual: pw 1x1 -> BN -> act -> dw kxk (stride) -> BN -> act -> SE -> pw 1x1 -> BN
    (+ skip).

    ``mid_chs`` is the expanded width, ``se_chs`` the SE's reduced width (0 = no SE).  Children:
    ``conv_pw``, ``bn1``, ``act1``, ``conv_dw``, ``bn2``, ``act2``, ``se``, ``conv_pwl``, ``bn3``,
    ``drop_path``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        mid_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        se_chs: int = 0,
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
        drop_path: float = 0.0,
    ):
        super().__init__()
        _check("in_chs", in_chs, 1)
        _check("out_chs", out_chs, 1)
        _check("mid_chs", mid_chs, 1)
        _check("se_chs", se_chs, 0)
        self.has_skip = stride == 1 and in_chs == out_chs
        self.conv_pw = nn.Conv2d(in_chs, mid_chs, 1, bias=False)
        self.bn1 = norm_layer(mid_chs)
        self.act1 = act_layer(inplace=True)
        self.conv_dw = nn.Conv2d(mid_chs, mid_chs, kernel_size, stride, (kernel_size - 1) // 2, groups=mid_chs, bias=False)
        self.bn2 = norm_layer(mid_chs)
        self.act2 = act_layer(inplace=True)
        self.se = _se(mid_chs, se_chs, act_layer)
        self.conv_pwl = nn.Conv2d(mid_chs, out_chs, 1, bias=False)
        self.bn3 = norm_layer(out_chs)
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv_pw(x)))
        out = self.se(self.act2(self.bn2(self.conv_dw(out))))
        out = self.bn3(self.conv_pwl(out))
        return self.drop_path(out) + x if self.has_skip else out
