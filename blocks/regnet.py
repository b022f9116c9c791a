"""The RegNet X/Y block: the AnyNet "X block" of Radosavovic et al., "Designing Network Design
Spaces" (CVPR 2020, Fig. 4), with squeeze-excitation after the 3x3 conv for RegNetY.

Numerically timm's ``timm.models.regnet.Bottleneck`` (same op order).  The SE's reduced width is
the explicit argument ``se_chs`` (0 = no SE); its rule (``round(se_ratio * in_chs)``) lives once, in
``designspace.complexity.regnet.regnet_se_width``, used by both the builder and the counter.  Children:
``conv1`` (1x1 conv-norm-act to ``mid_chs``), ``conv2`` (grouped 3x3 conv-norm-act, strided),
``se`` (squeeze-excitation on the bottleneck, or ``None``), ``conv3`` (1x1 conv-norm, no act),
``shortcut`` (strided 1x1 conv-norm, or ``None`` = identity), ``drop_path``, ``act``.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvNormAct, DropPath, ModuleFactory, SqueezeExcite

__all__ = ["RegNetBlock"]


class RegNetBlock(nn.Module):
    """1x1 conv to ``mid_chs``, grouped 3x3 conv (``groups``, ``stride``), optional SE on
    ``mid_chs`` with reduced width ``se_chs``, 1x1 conv to ``out_chs`` without activation, drop path,
    residual sum with a projection shortcut when the shape changes, activation."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        *,
        mid_chs: int,
        groups: int = 1,
        se_chs: int = 0,
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
        drop_path: float = 0.0,
    ):
        super().__init__()
        kw = dict(norm_layer=norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid_chs, 1, act_layer=act_layer, **kw)
        self.conv2 = ConvNormAct(mid_chs, mid_chs, 3, stride, groups, act_layer=act_layer, **kw)
        if isinstance(se_chs, bool) or not isinstance(se_chs, int) or se_chs < 0:
            raise ValueError(f"se_chs={se_chs!r} must be a non-negative integer (0 = no SE)")
        # timm: SEModule(bottleneck_chs, rd_channels=round(in_chs * se_ratio), act_layer=block act)
        self.se = SqueezeExcite(mid_chs, se_chs, act_layer=act_layer) if se_chs else None
        self.conv3 = ConvNormAct(mid_chs, out_chs, 1, act_layer=None, **kw)
        self.shortcut = (
            ConvNormAct(in_chs, out_chs, 1, stride, act_layer=None, **kw) if stride != 1 or in_chs != out_chs else None
        )
        self.drop_path = DropPath(drop_path)
        self.act = act_layer(inplace=True)

    def zero_init_last(self) -> None:
        """Zero the last norm's scale so the block starts as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.conv3.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        if self.se is not None:
            y = self.se(y)
        y = self.drop_path(self.conv3(y))
        y += x if self.shortcut is None else self.shortcut(x)  # in place: no op saves y for backward
        return self.act(y)
