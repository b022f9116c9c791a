"""``tresnet_basic``: TResNet's basic block (Ridnik et al., "TResNet: High Performance
GPU-Dedicated Architecture", WACV 2021): 3x3 conv-norm-act (strided; anti-aliased with a
BlurPool after the activation when ``anti_alias``), 3x3 conv-norm, squeeze-excitation on the
output (``max(floor(width * se_ratio), 64)``), projection shortcut (``avgpool`` + 1x1, or a
strided 1x1), residual sum, ReLU.  Numerically timm's ``timm.models.tresnet.BasicBlock``.

Counted as fvcore sees the built module: the BlurPool of an anti-aliased stride-2 conv is a
real depthwise 3x3 ``F.conv2d`` with a constant filter (a buffer): it counts ``C * 9 * H' * W'``
flops and ``C * H' * W'`` acts, no parameters."""
from __future__ import annotations

from typing import Any

from .. import rules
from . import BlockContext, BlockKind, register_block


def widths(st: Any, in_chs: Any) -> dict[str, Any]:
    return {"se": rules.tresnet_se_width(st.width, st.se_ratio)}


def conv_aa(cx: Any, out: Any, k: int, stride: int, anti_alias: bool) -> None:
    """A conv-norm, anti-aliased (stride 1, then a blur: depthwise 3x3 stride 2) when asked."""
    if anti_alias and stride > 1:
        cx.conv_norm(out, k, 1)
        cx.conv(out, 3, stride, groups=out, padding=1, has_params=False)
    else:
        cx.conv_norm(out, k, stride)


def count(cx: Any, st: Any, stride: int) -> None:
    w = widths(st, cx.c)
    sc = rules.count_shortcut(cx, st.width, stride, st.shortcut)
    conv_aa(cx, st.width, 3, stride, st.anti_alias)
    cx.conv_norm(st.width, 3)
    if st.se_ratio > 0:
        cx.se(w["se"])
    cx.add(sc)


def build(st: Any, in_chs: int, stride: int, ctx: BlockContext) -> Any:
    from ..blocks.tresnet import TResNetBasic

    return TResNetBasic(in_chs, st.width, stride=stride, se_chs=widths(st, in_chs)["se"], anti_alias=st.anti_alias,
                        shortcut=st.shortcut, norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path)


KIND = register_block(BlockKind(
    "tresnet_basic", reads=("se_ratio", "shortcut", "anti_alias"), widths=widths, count=count, build=build,
    doc="TResNet basic block: anti-aliased 3x3, 3x3, SE on the output; avg-pool shortcut",
))
