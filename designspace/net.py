"""NetSpec -> torch.nn.Module (``designspace.build`` calls :func:`build` here).  The only
designspace module that imports torch at import time.

The built network has one layout for every family::

    Net
      stem            built by the stem's kind (:mod:`designspace.kinds.stems`)
      stages.{i}.{j}  block j of stage i, built by its kind (:mod:`designspace.kinds`)
      head            optional 1x1 conv, global average pool, dropout, ``fc``

Each kind's builder reads a :class:`StageSpec` and calls a block's constructor with explicit
arguments; blocks never see a spec.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks.heads import ClassifierHead
from .blocks.layers import get_act, get_norm
from .errors import SpecError
from .kinds import BlockContext, block_kind, stem_kind
from .spec import NetSpec

__all__ = ["build", "Net", "BlockContext"]


class Net(nn.Module):
    """A network built from a :class:`NetSpec` (kept as ``self.spec``)."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        act, norm = get_act(spec.activation), get_norm(spec.norm)
        self.stem = stem_kind(spec.stem.kind).build(spec.stem, spec.in_chans, act, norm)
        total = spec.depth
        chs, k = spec.stem.width, 0
        stages = []
        for i, st in enumerate(spec.stages):
            kind = block_kind(st.block)
            blocks = []
            for j in range(st.depth):
                ctx = BlockContext(
                    act=act, norm=norm, act_name=spec.activation,
                    drop_path=spec.drop_path_rate * k / max(total - 1, 1),
                    index_in_stage=j, stage_index=i, num_stages=len(spec.stages),
                )
                blocks.append(kind.build(st, chs, st.stride if j == 0 else 1, ctx))
                chs, k = st.width, k + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(
            chs, spec.num_classes, width=spec.head.width, dropout=spec.head.dropout, norm_layer=norm, act_layer=act,
        )

        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """He-normal convs (fan-out), unit norms, N(0, 0.01) classifier, and each residual
        block's last norm scale at zero (pycls and timm do the same; short schedules need it)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if hasattr(m, "zero_init_last"):
                m.zero_init_last()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def build(spec: NetSpec | str, **overrides: Any) -> Net:
    """Build a spec (or a zoo name) into a freshly initialised module.

    ``overrides`` replace top-level spec fields, e.g. ``build(spec, num_classes=10)``.  Anything
    but a :class:`NetSpec` or a named model raises :class:`SpecError`.
    """
    if isinstance(spec, str):
        from .zoo import zoo

        spec = zoo[spec]
    if not isinstance(spec, NetSpec):
        raise SpecError("spec", spec, "is neither a NetSpec nor the name of a named model")
    if overrides:
        spec = spec.replace(**overrides)
    return Net(spec)
