"""``bottleneck``: the ResNet bottleneck block of ResNet, ResNeXt, SE-ResNet, ResNet-D and
ResNet-RS: 1x1 conv-norm-act to the bottleneck width ``width / bottleneck_ratio``, grouped 3x3
conv-norm-act (strided), 1x1 conv-norm to ``width``, optional squeeze-excitation on the output
(reduction relative to the output width), projection shortcut (``conv`` or ``avgpool``),
residual sum, activation.  Numerically timm's ``timm.models.resnet.Bottleneck``."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    return {"mid": st.bottleneck_width, "groups": st.groups, "se": rules.residual_se_width(st.width, st.se_ratio)}


def count(cx: Any, st: Any, stride: int) -> None:
    w = widths(st, cx.c)
    sc = rules.count_shortcut(cx, st.width, stride, st.shortcut)
    cx.conv_norm(w["mid"], 1).conv_norm(w["mid"], 3, stride, w["groups"]).conv_norm(st.width, 1)
    if st.se_ratio > 0:
        cx.se(w["se"])
    cx.add(sc)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.residual import Bottleneck

    w = widths(st, in_chs)
    return Bottleneck(in_chs, st.width, stride=stride, mid_chs=w["mid"], groups=w["groups"], se_chs=w["se"],
                      shortcut=st.shortcut, norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "bottleneck", reads=("bottleneck_ratio", "group_width", "se_ratio", "shortcut"), widths=widths, count=count,
    build=build, show=("bottleneck_ratio",),
    doc="ResNet/ResNeXt bottleneck: 1x1, grouped 3x3 (stride), 1x1; SE on the output; projection shortcut",
))
