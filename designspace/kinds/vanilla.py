"""``vanilla``: the plain, non-residual block of the NDS paper's Vanilla design space
(Radosavovic et al., "On Network Design Spaces for Visual Recognition", ICCV 2019; pycls'
``VanillaBlock``): [3x3 conv, BN, ReLU] x 2, the first conv strided.  No shortcut, so nothing
makes a deep vanilla network easy to train: the design space shows what residuals buy.

This module is the whole kind: its fields (none beyond depth, width and stride), its count and
its builder, registered below.  Children of a built block: ``a`` and ``b`` (conv-norm-act each,
``conv``/``bn``/``act``)."""
from __future__ import annotations

from typing import Any

from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    return {}


def count(cx: Any, st: Any, stride: int) -> None:
    cx.conv_norm(st.width, 3, stride).conv_norm(st.width, 3)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from collections import OrderedDict

    from torch import nn

    from ..blocks.layers import ConvNormAct

    kw = dict(norm_layer=ctx.norm, act_layer=ctx.act)
    return nn.Sequential(OrderedDict(a=ConvNormAct(in_chs, st.width, 3, stride, **kw),
                                     b=ConvNormAct(st.width, st.width, 3, 1, **kw)))


KIND = register_block(BlockKind(
    "vanilla", reads=(), widths=widths, count=count, build=build,
    doc="plain block (NDS Vanilla): [3x3 conv, BN, ReLU] x 2, no shortcut",
))
