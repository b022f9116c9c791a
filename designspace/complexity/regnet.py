"""Complexity of the RegNet X/Y block (the AnyNet "X block" of Radosavovic et al. 2020, with
optional squeeze-excitation for RegNetY); mirrors ``blocks/regnet.py`` layer for layer."""
from __future__ import annotations

from ..spec import StageSpec
from . import register_block
from .counter import Counter


def regnet_se_width(in_chs: int, se_ratio: float, mid_chs: int) -> int:
    """SE reduced width of a RegNetY block: ``round(se_ratio * block input width)`` (timm/pycls);
    0 when ``se_ratio`` is 0 (no SE).

    When that rounds to 0 (a tiny ratio on a narrow block), timm's ``SEModule`` falls back to its
    default, 1/16 of the SE's own width ``mid_chs`` rounded to a multiple of 8; we do the same so
    the network stays timm's.  The one copy of the rule: ``designspace.build`` passes it to
    ``blocks.regnet.RegNetBlock`` as ``se_chs``, and the counter below uses it."""
    if se_ratio <= 0:
        return 0
    rd = int(round(in_chs * se_ratio))
    return rd if rd else max(8, int(mid_chs / 16 + 4) // 8 * 8)


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
        cx.se(regnet_se_width(in_chs, st.se_ratio, mid))
    cx.conv_norm(st.width, 1)
    cx.add(sc)
