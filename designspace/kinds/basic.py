"""``basic``: the ResNet basic block (He et al., "Deep Residual Learning for Image Recognition",
CVPR 2016): two 3x3 conv-norms (the first strided), optional squeeze-excitation on the output
(SE-ResNet, Hu et al. 2018), projection shortcut (``conv``, or ResNet-D's ``avgpool``), residual
sum, activation.  Numerically timm's ``timm.models.resnet.BasicBlock``."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    return {"se": rules.residual_se_width(st.width, st.se_ratio)}


def count(cx: Any, st: Any, stride: int) -> None:
    w = widths(st, cx.c)
    sc = rules.count_shortcut(cx, st.width, stride, st.shortcut)
    cx.conv_norm(st.width, 3, stride).conv_norm(st.width, 3)
    if st.se_ratio > 0:
        cx.se(w["se"])
    cx.add(sc)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.residual import BasicBlock

    return BasicBlock(in_chs, st.width, stride=stride, se_chs=widths(st, in_chs)["se"], shortcut=st.shortcut,
                      norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "basic", reads=("se_ratio", "shortcut"), widths=widths, count=count, build=build,
    doc="ResNet basic block: two 3x3 conv-norms, SE on the output, projection shortcut",
))
