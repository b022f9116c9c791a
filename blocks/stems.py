"""ResNet stems: the 7x7 stem of He et al. 2016 and the deep 3x3 stem of ResNet-C/D
("Bag of Tricks for Image Classification with CNNs", He et al. 2019) and ResNet-RS
("Revisiting ResNets", Bello et al. 2021), followed by a max-pool or (RS) a strided 3x3 conv.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvNormAct, ModuleFactory

__all__ = ["ResNetStem"]


class ResNetStem(nn.Module):
    """Stride-2 stem (x2 more with a pool) ending in ``width`` channels.

    Children:

    * ``deep`` (deep stem only): 3x3 stride-2 conv-norm-act to ``deep_width``, then 3x3
      conv-norm-act ``deep_width -> deep_width``.
    * ``conv``: the last conv-norm-act to ``width`` (7x7 stride 2 for the plain stem, 3x3 stride
      1 after ``deep``).
    * ``pool``: ``"none"`` identity, ``"max"`` 3x3 stride-2 max-pool (padding 1), ``"conv"`` 3x3
      stride-2 conv-norm-act (timm's ``replace_stem_pool``).

    ``deep_width == 0`` selects the plain 7x7 stem; ``tiered=True`` makes the first deep conv
    ``3 * (deep_width // 4)`` wide (timm's ``deep_tiered`` stem of resnet10t/14t/26t/50t).
    """

    def __init__(
        self,
        in_chs: int,
        width: int,
        *,
        deep_width: int = 0,
        pool: str = "max",
        tiered: bool = False,
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
    ):
        super().__init__()
        kw = dict(norm_layer=norm_layer, act_layer=act_layer)
        if deep_width:
            first = 3 * (deep_width // 4) if tiered else deep_width
            self.deep = nn.Sequential(
                ConvNormAct(in_chs, first, 3, 2, **kw),
                ConvNormAct(first, deep_width, 3, 1, **kw),
            )
            self.conv = ConvNormAct(deep_width, width, 3, 1, **kw)
        else:
            self.deep = None
            self.conv = ConvNormAct(in_chs, width, 7, 2, **kw)
        if pool == "none":
            self.pool: nn.Module = nn.Identity()
        elif pool == "max":
            self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        elif pool == "conv":
            self.pool = ConvNormAct(width, width, 3, 2, **kw)
        else:
            raise ValueError(f"pool={pool!r} is not one of none, max, conv")

    def forward_pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        """The convs without the pool (timm's ``act1`` feature level, stride 2)."""
        if self.deep is not None:
            x = self.deep(x)
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_pre_pool(x))
