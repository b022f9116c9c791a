"""Classifier heads."""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvNormAct, ModuleFactory

#: timm's ``global_pool`` values (``timm.layers.SelectAdaptivePool2d``)
POOLS = ("avg", "max", "avgmax", "catavgmax", "")


def global_pool(x: torch.Tensor, pool: str) -> torch.Tensor:
    """timm's adaptive global pools on an ``N, C, H, W`` map: ``avg``, ``max``, ``avgmax``
    (their mean), ``catavgmax`` (``[avg, max]`` concatenated: ``2C`` features); ``''`` returns
    the map unchanged."""
    if pool == "avg":
        return x.mean((2, 3))
    if pool == "max":
        return x.amax((2, 3))
    if pool == "avgmax":
        return 0.5 * (x.mean((2, 3)) + x.amax((2, 3)))
    if pool == "catavgmax":
        return torch.cat([x.mean((2, 3)), x.amax((2, 3))], 1)
    return x


class ClassifierHead(nn.Module):
    """Optional 1x1 conv-norm-act (``width > 0``, EfficientNet's conv_head), global pool
    (:data:`POOLS`), dropout, linear classifier (``num_classes=0``: none).  Children: ``conv``
    (if any), ``drop``, ``fc``.

    As in timm, the conv belongs to the features: the network's ``forward_features`` ends with
    :meth:`forward_conv`, and :meth:`forward` (timm's ``forward_head``) pools and classifies its
    output."""

    def __init__(
        self,
        in_chs: int,
        num_classes: int,
        *,
        width: int = 0,
        dropout: float = 0.0,
        pool: str = "avg",
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
    ):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool={pool!r} is not one of {POOLS}")
        self.conv = ConvNormAct(in_chs, width, 1, norm_layer=norm_layer, act_layer=act_layer) if width else None
        self.pool_type = pool
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.num_features = (width or in_chs) * (2 if pool == "catavgmax" else 1)
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The 1x1 conv-norm-act, if any (timm's EfficientNet: ``conv_head``, ``bn2``)."""
        if self.conv is not None:
            x = self.conv(x)
        return x

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout and classifier on :meth:`forward_conv`'s output."""
        x = self.drop(global_pool(x, self.pool_type))
        return x if pre_logits else self.fc(x)
