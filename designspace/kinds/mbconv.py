"""``mbconv``: the inverted residual of MobileNetV2 (Sandler et al., CVPR 2018) and EfficientNet
(Tan & Le, ICML 2019): pointwise expansion to ``make_divisible(in * expand_ratio)``, depthwise
kxk conv-norm-act (strided), squeeze-excitation (ratio relative to the block *input* width),
pointwise projection conv-norm; skip when the shape is unchanged.  Numerically timm's
``InvertedResidual``."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    mid, se = rules.mbconv_widths(in_chs, st.expand_ratio, st.se_ratio)
    return {"mid": mid, "se": se}


def count(cx: Any, st: Any, stride: int) -> None:
    """Pointwise expand + BN + act, depthwise kxk (stride) + BN + act, SE, pointwise project + BN."""
    w = widths(st, cx.c)
    mid = w["mid"]
    cx.conv_norm(mid, 1)
    cx.conv_norm(mid, st.kernel_size, stride, groups=mid)
    if st.se_ratio > 0:
        cx.se(w["se"])
    cx.conv_norm(st.width, 1)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.mbconv import MBConv

    w = widths(st, in_chs)
    return MBConv(in_chs, st.width, mid_chs=w["mid"], kernel_size=st.kernel_size, stride=stride, se_chs=w["se"],
                  norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "mbconv", reads=("kernel_size", "expand_ratio", "se_ratio"), widths=widths, count=count, build=build,
    show=("kernel_size", "expand_ratio"),
    doc="inverted residual: pw expand, dw kxk (stride), SE, pw project",
))
