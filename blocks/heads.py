"""Classifier heads."""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvNormAct, ModuleFactory


class ClassifierHead(nn.Module):
    """Optional 1x1 conv-norm-act (``width > 0``, EfficientNet's conv_head), global average pool,
    dropout, linear classifier.  Children: ``conv`` (if any), ``drop``, ``fc``."""

    def __init__(
        self,
        in_chs: int,
        num_classes: int,
        *,
        width: int = 0,
        dropout: float = 0.0,
        norm_layer: ModuleFactory = nn.BatchNorm2d,
        act_layer: ModuleFactory = nn.ReLU,
    ):
        super().__init__()
        self.conv = ConvNormAct(in_chs, width, 1, norm_layer=norm_layer, act_layer=act_layer) if width else None
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(width or in_chs, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        x = self.drop(x.mean((2, 3)))
        return x if pre_logits else self.fc(x)
