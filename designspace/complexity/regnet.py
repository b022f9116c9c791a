"""Complexity of the RegNet X/Y block (the AnyNet "X block" of Radosavovic et al. 2020, with
optional squeeze-excitation for RegNetY); mirrors ``blocks/regnet.py`` layer for layer."""
from __future__ import annotations

from ..spec import StageSpec
from . import register_block
from .counter import Counter


def regnet_se_width(in_chs: int, se_ratio: float) -> int:
    """SE reduced width of a RegNetY block: ``round(se_ratio * block input width)`` (timm/pycls),
    at least 1 (the same formula as ``blocks.regnet.se_width``, kept here so counting needs no torch)."""
    return max(1, int(round(in_chs * se_ratio)))


@register_block("regnet")
def count_regnet(cx: Counter, st: StageSpec, stride: int) -> None:
    """1x1, grouped 3x3 (stride), SE on the bottleneck, 1x1 conv-norm; strided 1x1 conv-norm
    projection shortcut when the shape changes."""
    in_chs = cx.c
    sc = cx.fork()
    if stride != 1 or in_chs != st.width:
        sc.conv_norm(st.width, 1, stride)
    mid = st.bottleneck_width
    cx.conv_norm(mid, 1).conv_norm(mid, 3, stride, st.groups)
    if st.se_ratio > 0:
        cx.se(regnet_se_width(in_chs, st.se_ratio))
    cx.conv_norm(st.width, 1)
    cx.add(sc)
