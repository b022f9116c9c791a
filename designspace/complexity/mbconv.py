"""Complexity of the ``ds`` and ``mbconv`` blocks; mirrors ``blocks/mbconv.py``.

The inner widths of both blocks follow timm's EfficientNet builder exactly
(``timm/models/_efficientnet_builder.py``, ``_efficientnet_blocks.py``); the functions here are
the single source of those rounding rules: :mod:`designspace.net` passes their results to the
blocks as explicit widths, and the counters below use the same numbers.
"""
from __future__ import annotations

from ..spec import StageSpec
from . import register_block
from .counter import Counter

__all__ = ["make_divisible", "ds_se_width", "mbconv_widths"]


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Nearest multiple of ``divisor`` to ``v``, at least ``min_value`` (default ``divisor``) and
    never below ``round_limit * v`` (timm's ``make_divisible``, from the TF MobileNet/EfficientNet
    reference code)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def _se_round(chs: int, rd_ratio: float) -> int:
    # timm's EfficientNet SqueezeExcite: rd = round(chs * rd_ratio) (Python's round); we keep at
    # least one channel so that a tiny ratio gives a (degenerate) SE rather than a 0-channel conv.
    return max(1, round(chs * rd_ratio))


def ds_se_width(in_chs: int, se_ratio: float) -> int:
    """Reduced width of the SE of a depthwise-separable block (0 = no SE): ``round(in * se)``."""
    return _se_round(in_chs, se_ratio) if se_ratio > 0 else 0


def mbconv_widths(in_chs: int, expand_ratio: float, se_ratio: float) -> tuple[int, int]:
    """``(mid, se)`` widths of an inverted residual with input width ``in_chs``.

    ``mid = make_divisible(in * e)``; the SE ratio is relative to the block *input* width, as in
    the EfficientNet paper and timm (``se_from_exp=False``): the SE on the ``mid``-wide map gets
    ``round(mid * (se / e))`` channels, computed in timm's order of floating-point operations.
    ``se`` is 0 when ``se_ratio`` is 0 (no SE).
    """
    mid = make_divisible(in_chs * expand_ratio)
    return mid, (_se_round(mid, se_ratio / expand_ratio) if se_ratio > 0 else 0)


@register_block("ds")
def count_ds(cx: Counter, st: StageSpec, stride: int) -> None:
    """Depthwise kxk (stride) + BN + act, SE, pointwise 1x1 + BN (no activation)."""
    c = cx.c
    rd = ds_se_width(c, st.se_ratio)
    cx.conv_norm(c, st.kernel_size, stride, groups=c)
    if rd:
        cx.se(rd)
    cx.conv_norm(st.width, 1)


@register_block("mbconv")
def count_mbconv(cx: Counter, st: StageSpec, stride: int) -> None:
    """Pointwise expand + BN + act, depthwise kxk (stride) + BN + act, SE, pointwise project + BN."""
    mid, rd = mbconv_widths(cx.c, st.expand_ratio, st.se_ratio)
    cx.conv_norm(mid, 1)
    cx.conv_norm(mid, st.kernel_size, stride, groups=mid)
    if rd:
        cx.se(rd)
    cx.conv_norm(st.width, 1)
