"""``ds``: the depthwise-separable block of EfficientNet's first stage (Tan & Le, ICML 2019) and
MobileNet: depthwise kxk conv-norm-act (strided), squeeze-excitation (reduction relative to the
input width), pointwise 1x1 conv-norm; skip when the shape is unchanged.  Numerically timm's
``DepthwiseSeparableConv``."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    return {"se": rules.ds_se_width(in_chs, st.se_ratio)}


def count(cx: Any, st: Any, stride: int) -> None:
    """Depthwise kxk (stride) + BN + act, SE, pointwise 1x1 + BN (no activation)."""
    c = cx.c
    rd = widths(st, c)["se"]
    cx.conv_norm(c, st.kernel_size, stride, groups=c)
    if st.se_ratio > 0:
        cx.se(rd)
    cx.conv_norm(st.width, 1)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.mbconv import DepthwiseSeparable

    return DepthwiseSeparable(in_chs, st.width, kernel_size=st.kernel_size, stride=stride,
                              se_chs=widths(st, in_chs)["se"], norm_layer=ctx.norm, act_layer=ctx.act,
                              drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "ds", reads=("kernel_size", "se_ratio"), widths=widths, count=count, build=build,
    show=("kernel_size", "expand_ratio"),
    doc="depthwise-separable: dw kxk (stride), SE, pw 1x1",
))
