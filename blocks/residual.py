"""Residual blocks of ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR
2016), ResNeXt (Xie et al., "Aggregated Residual Transformations", CVPR 2017), SE-ResNet (Hu et
al., "Squeeze-and-Excitation Networks", CVPR 2018), ResNet-D (He et al., "Bag of Tricks", CVPR
2019) and ResNet-RS (Bello et al., "Revisiting ResNets", NeurIPS 2021).

Numerically the blocks of ``timm.models.resnet`` (same op order).  The SE's reduced width is an
explicit argument ``se_chs`` (0 = no SE); its rounding rule lives once, in
``designspace.complexity.residual.se_width``, which the builder and the counter both use.  Children:
``conv1``, ``conv2`` (, ``conv3``) conv-norm-act (the last one without activation), ``se``
(squeeze-excitation on the block output, or ``None``), ``shortcut`` (``None`` = identity),
``drop_path`` and the final ``act`` after the residual sum.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvNormAct, DropPath, ModuleFactory, SqueezeExcite

__all__ = ["BasicBlock", "Bottleneck", "make_shortcut"]


def make_shortcut(
    in_chs: int, out_chs: int, stride: int, kind: str = "conv", norm_layer: ModuleFactory = nn.BatchNorm2d,
) -> nn.Module | None:
    """Projection shortcut of a block, or ``None`` (identity) when the shape is unchanged.

    ``"conv"``: strided 1x1 conv + norm (children ``0``, ``1``).  ``"avgpool"`` (ResNet-D):
    ``AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)`` (identity at stride 1),
    then 1x1 conv + norm (children ``0``, ``1``, ``2``).  The indices are timm's ``downsample``
    ones, so checkpoints map key for key.
    """
    if stride == 1 and in_chs == out_chs:
        return None
    conv = nn.Conv2d(in_chs, out_chs, 1, stride=stride if kind == "conv" else 1, bias=False)
    if kind == "conv":
        return nn.Sequential(conv, norm_layer(out_chs))
    if kind == "avgpool":
        pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
        return nn.Sequential(pool, conv, norm_layer(out_chs))
    raise ValueError(f"shortcut={kind!r} is not one of conv, avgpool")


class _Residual(nn.Module):
    """Shared tail: SE on the branch output, drop path, add the shortcut, activation."""

    def _tail(self, out_chs: int, in_chs: int, stride: int, se_chs: int, shortcut: str,
              norm_layer: ModuleFactory, act_layer: ModuleFactory, drop_path: float) -> None:
        if isinstance(se_chs, bool) or not isinstance(se_chs, int) or se_chs < 0:
            raise ValueError(f"se_chs={se_chs!r} must be a non-negative integer (0 = no SE)")
        # timm's create_attn('se', chs) builds its SE with its own default ReLU, whatever the block act.
        self.se = SqueezeExcite(out_chs, se_chs, act_layer=nn.ReLU) if se_chs else None
        self.shortcut = make_shortcut(in_chs, out_chs, stride, shortcut, norm_layer)
        self.drop_path = DropPath(drop_path)
        self.act = act_layer(inplace=True)

    def _branch(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._branch(x)
        if self.se is not None:
            y = self.se(y)
        y = self.drop_path(y)
        y += x if self.shortcut is None else self.shortcut(x)  # in place, as timm: no op saves y for backward
        return self.act(y)


class BasicBlock(_Residual):
    """Two 3x3 conv-norm (the first strided), optional SE (reduced width ``se_chs``), residual sum,
    activation."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        *,
        se_chs: int = 0,
        shortcut: str = "conv",
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.conv1 = ConvNormAct(in_chs, out_chs, 3, stride, norm_layer=norm_layer, act_layer=act_layer)
        self.conv2 = ConvNormAct(out_chs, out_chs, 3, 1, norm_layer=norm_layer, act_layer=None)
        self._tail(out_chs, in_chs, stride, se_chs, shortcut, norm_layer, act_layer, drop_path)

    def zero_init_last(self) -> None:
        """Zero the last norm's scale so the block starts as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.conv2.bn.weight)

    def _branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class Bottleneck(_Residual):
    """1x1 conv to ``mid_chs``, grouped 3x3 conv (strided), 1x1 conv to ``out_chs`` (no act),
    optional SE on ``out_chs`` (reduced width ``se_chs``), residual sum, activation."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        *,
        mid_chs: int,
        groups: int = 1,
        se_chs: int = 0,
        shortcut: str = "conv",
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
        drop_path: float = 0.0,
    ):
        super().__init__()
        kw = dict(norm_layer=norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid_chs, 1, act_layer=act_layer, **kw)
        self.conv2 = ConvNormAct(mid_chs, mid_chs, 3, stride, groups, act_layer=act_layer, **kw)
        self.conv3 = ConvNormAct(mid_chs, out_chs, 1, act_layer=None, **kw)
        self._tail(out_chs, in_chs, stride, se_chs, shortcut, norm_layer, act_layer, drop_path)

    def zero_init_last(self) -> None:
        """Zero the last norm's scale so the block starts as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.conv3.bn.weight)

    def _branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x)))
