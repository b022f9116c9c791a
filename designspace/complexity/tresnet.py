"""Complexity of the TResNet blocks and the SpaceToDepth stem; mirrors ``blocks/tresnet.py``.

Ridnik et al., "TResNet: High Performance GPU-Dedicated Architecture", WACV 2021.  Counted as
fvcore sees the built module:

* SpaceToDepth is a view/permute: no flops, no acts.
* The BlurPool of an anti-aliased stride-2 conv is a real depthwise 3x3 ``F.conv2d`` with a
  constant filter (a buffer): it counts ``C * 9 * H' * W'`` flops and ``C * H' * W'`` acts, no
  parameters.  Its reflect padding of 1 gives the output size of a zero-padded 3x3 stride-2 conv.
* The avg-pool shortcut pools in ceil mode (so odd maps give ``ceil(H / 2)``, like the blur).
* SE width: ``max(floor(width * se_ratio), 64)`` (:func:`se_width`, the one copy of the rule,
  which ``designspace.build`` passes to the blocks as ``se_chs``).
"""
from __future__ import annotations

import math

from ..spec import StageSpec, StemSpec
from . import register_block, register_stem
from .counter import Counter

#: lower bound of TResNet's SE reduction width (timm ``max(..., 64)``)
SE_MIN_WIDTH = 64


def se_width(width: int, se_ratio: float) -> int:
    """SE reduction width of a TResNet block of output ``width``; 0 means no SE.

    The ``1e-9`` absorbs binary rounding (``0.29 * 100 == 28.999...``); it is exact for the
    published ratios (1/4 for the basic block, 1/8 for the bottleneck)."""
    if se_ratio <= 0:
        return 0
    return max(math.floor(width * se_ratio + 1e-9), SE_MIN_WIDTH)


@register_stem("s2d")
def _s2d_stem(cx: Counter, stem: StemSpec) -> None:
    cx.space_to_depth(4).conv_norm(stem.width, 3)


def _conv_aa(cx: Counter, out: int, k: int, stride: int, anti_alias: bool) -> None:
    if anti_alias and stride > 1:
        cx.conv_norm(out, k, 1)
        cx.conv(out, 3, stride, groups=out, padding=1, has_params=False)
    else:
        cx.conv_norm(out, k, stride)


def _shortcut(cx: Counter, st: StageSpec, stride: int) -> None:
    if stride == 1 and cx.c == st.width:
        return
    sc = cx.fork()
    if stride > 1 and st.shortcut == "avgpool":
        sc.pool(stride, stride, ceil_mode=True).conv_norm(st.width, 1)
    else:
        sc.conv_norm(st.width, 1, stride)
    cx.add(sc)


@register_block("tresnet_basic")
def _tresnet_basic(cx: Counter, st: StageSpec, stride: int) -> None:
    _shortcut(cx, st, stride)
    _conv_aa(cx, st.width, 3, stride, st.anti_alias)
    cx.conv_norm(st.width, 3)
    rd = se_width(st.width, st.se_ratio)
    if rd:
        cx.se(rd)


@register_block("tresnet_bottleneck")
def _tresnet_bottleneck(cx: Counter, st: StageSpec, stride: int) -> None:
    _shortcut(cx, st, stride)
    mid = st.bottleneck_width
    cx.conv_norm(mid, 1)
    _conv_aa(cx, mid, 3, stride, st.anti_alias)
    rd = se_width(st.width, st.se_ratio)
    if rd:
        cx.se(rd)
    cx.conv_norm(st.width, 1)
