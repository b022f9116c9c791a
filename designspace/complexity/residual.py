"""Complexity of the residual blocks (and their stems); mirrors blocks/residual.py and
blocks/stems.py layer for layer (He et al. 2016; ResNeXt, SE-ResNet, ResNet-D, ResNet-RS)."""
from __future__ import annotations

from ..spec import StageSpec, StemSpec
from . import register_block, register_stem
from .counter import Counter


def se_width(chs: int, ratio: float, divisor: int = 8) -> int:
    """SE reduced width of a residual block of output width ``chs``; 0 when ``ratio`` is 0 (no SE).

    timm's ``SEModule(chs, rd_ratio=ratio)``: ``make_divisible(chs * ratio, 8, round_limit=0)``
    (nearest multiple of 8, at least 8).  The one copy of the rule: ``designspace.build`` passes
    it to ``blocks.residual`` as ``se_chs``, and the counter below uses it."""
    if ratio <= 0:
        return 0
    return max(divisor, int(chs * ratio + divisor / 2) // divisor * divisor)


def _shortcut(cx: Counter, st: StageSpec, stride: int) -> Counter:
    """Count the projection shortcut (if any) on a fork of ``cx``'s input map."""
    sc = cx.fork()
    if stride == 1 and cx.c == st.width:
        return sc
    if st.shortcut == "avgpool":
        if stride > 1:
            sc.pool(2, stride, ceil_mode=True)
        sc.conv_norm(st.width, 1)
    else:
        sc.conv_norm(st.width, 1, stride)
    return sc


def _tail(cx: Counter, st: StageSpec, sc: Counter) -> None:
    if st.se_ratio > 0:
        cx.se(se_width(st.width, st.se_ratio))
    cx.add(sc)


@register_block("basic")
def count_basic(cx: Counter, st: StageSpec, stride: int) -> None:
    """Two 3x3 conv-norm, SE on the output, projection shortcut."""
    sc = _shortcut(cx, st, stride)
    cx.conv_norm(st.width, 3, stride).conv_norm(st.width, 3)
    _tail(cx, st, sc)


@register_block("bottleneck")
def count_bottleneck(cx: Counter, st: StageSpec, stride: int) -> None:
    """1x1, grouped 3x3 (stride), 1x1 conv-norm, SE on the output, projection shortcut."""
    sc = _shortcut(cx, st, stride)
    mid = st.bottleneck_width
    cx.conv_norm(mid, 1).conv_norm(mid, 3, stride, st.groups).conv_norm(st.width, 1)
    _tail(cx, st, sc)


@register_stem("resnet", "deep")
def count_resnet_stem(cx: Counter, stem: StemSpec) -> None:
    """7x7 stride-2 conv (or three 3x3 convs, the first strided), then the stem pool."""
    if stem.kind == "deep":
        cx.conv_norm(stem.deep_width, 3, 2).conv_norm(stem.deep_width, 3).conv_norm(stem.width, 3)
    else:
        cx.conv_norm(stem.width, 7, 2)
    if stem.pool == "max":
        cx.pool(3, 2, padding=1)
    elif stem.pool == "conv":
        cx.conv_norm(stem.width, 3, 2)
