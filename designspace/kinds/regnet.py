"""``regnet``: the RegNet X/Y block, the AnyNet "X block" of Radosavovic et al., "Designing
Network Design Spaces" (CVPR 2020, Fig. 4): 1x1 conv-norm-act to the bottleneck width, grouped
3x3 conv-norm-act (strided), squeeze-excitation on the bottleneck for RegNetY (reduction
relative to the block's *input* width, pycls/timm), 1x1 conv-norm, strided 1x1 projection when
the shape changes, residual sum, activation.  Numerically timm's ``timm.models.regnet.Bottleneck``."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    mid = st.bottleneck_width
    return {"mid": mid, "groups": st.groups, "se": rules.regnet_se_width(in_chs, st.se_ratio, mid)}


def count(cx: Any, st: Any, stride: int) -> None:
    w = widths(st, cx.c)
    sc = rules.count_shortcut(cx, st.width, stride, "conv")
    cx.conv_norm(w["mid"], 1).conv_norm(w["mid"], 3, stride, w["groups"])
    if st.se_ratio > 0:
        cx.se(w["se"])
    cx.conv_norm(st.width, 1)
    cx.add(sc)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.regnet import RegNetBlock

    w = widths(st, in_chs)
    return RegNetBlock(in_chs, st.width, stride=stride, mid_chs=w["mid"], groups=w["groups"], se_chs=w["se"],
                       norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "regnet", reads=("bottleneck_ratio", "group_width", "se_ratio"), widths=widths, count=count, build=build,
    show=("bottleneck_ratio",),
    doc="RegNet X/Y block: 1x1, grouped 3x3 (stride), SE on the bottleneck, 1x1; projection shortcut",
))
