"""``tresnet_bottleneck``: TResNet's bottleneck (Ridnik et al., WACV 2021): 1x1 conv-norm-act to
the bottleneck width, 3x3 conv-norm-act (strided, anti-aliased when ``anti_alias``),
squeeze-excitation on the *inner* width (``max(floor(width * se_ratio), 64)`` channels), 1x1
conv-norm, projection shortcut, residual sum, ReLU.  Numerically timm's
``timm.models.tresnet.Bottleneck``."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block
from .tresnet_basic import conv_aa


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    return {"mid": st.bottleneck_width, "se": rules.tresnet_se_width(st.width, st.se_ratio)}


def count(cx: Any, st: Any, stride: int) -> None:
    w = widths(st, cx.c)
    sc = rules.count_shortcut(cx, st.width, stride, st.shortcut)
    cx.conv_norm(w["mid"], 1)
    conv_aa(cx, w["mid"], 3, stride, st.anti_alias)
    if st.se_ratio > 0:
        cx.se(w["se"])
    cx.conv_norm(st.width, 1)
    cx.add(sc)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.tresnet import TResNetBottleneck

    w = widths(st, in_chs)
    return TResNetBottleneck(in_chs, st.width, stride=stride, mid_chs=w["mid"], se_chs=w["se"],
                             anti_alias=st.anti_alias, shortcut=st.shortcut, norm_layer=ctx.norm, act_layer=ctx.act,
                             drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "tresnet_bottleneck", reads=("bottleneck_ratio", "se_ratio", "shortcut", "anti_alias"), widths=widths,
    count=count, build=build, show=("bottleneck_ratio",),
    doc="TResNet bottleneck: 1x1, anti-aliased 3x3, SE on the inner width, 1x1; avg-pool shortcut",
))
