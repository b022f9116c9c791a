"""The one home of every width rule the families, the block kinds, the spaces' vectorised
tables and :mod:`designspace.analysis.fit` share.

Each rule is written once and works on Python numbers and on numpy arrays alike (a network, or
a table of a hundred thousand sampled networks), so the scalar and the vectorised answers cannot
drift apart; ``tests/designspace/test_rules.py`` holds them equal on 100,000 random draws, and
against timm's own functions.

* :func:`make_divisible` -- timm's / TF's channel rounding (EfficientNet, SE widths).
* :func:`residual_se_width`, :func:`regnet_se_width`, :func:`ds_se_width`,
  :func:`mbconv_widths`, :func:`tresnet_se_width` -- the squeeze-excitation (and expansion)
  widths of each block kind, as timm builds them.
* :func:`needs_projection` and :func:`count_shortcut` -- when a block needs a projection
  shortcut, and what a ``conv`` or ``avgpool`` (ResNet-D) projection costs.
* :func:`regnet_block_widths` / :func:`regnet_block_widths_table` -- the quantized linear width
  rule of RegNet (Radosavovic et al. 2020, eqs. 2-4) in timm's float32 arithmetic.
* :func:`regnet_stage_compat` -- timm's ``adjust_widths_groups_comp`` and its block's
  bottleneck/groups arithmetic for any bottleneck multiplier.

numpy is imported only when an array is passed (the scalar paths stay pure Python, so
``import designspace`` and :func:`designspace.count` never import it).
"""
from __future__ import annotations

import math
import struct
from typing import Any, Union

__all__ = [
    "make_divisible", "residual_se_width", "regnet_se_width", "ds_se_width", "mbconv_widths",
    "tresnet_se_width", "TRESNET_SE_MIN", "needs_projection", "count_shortcut", "regnet_block_widths",
    "regnet_block_widths_table", "regnet_stage_compat", "MAX_WIDTH", "f32",
]

Num = Union[int, float, Any]  # a Python number or a numpy array of them

#: widths must stay exact float32 integers, as in timm's float32 RegNet rule
MAX_WIDTH = 1 << 24
#: lower bound of TResNet's SE reduction width (timm ``max(..., 64)``)
TRESNET_SE_MIN = 64


# ------------------------------------------------------------------ scalar/array helpers
def _is_array(*xs: Any) -> bool:
    return any(hasattr(x, "dtype") and hasattr(x, "shape") for x in xs)


def _floor(x: Num) -> Num:
    """Integer floor (an int, or an int64 array)."""
    if _is_array(x):
        import numpy as np

        return np.floor(x).astype(np.int64)
    return math.floor(x)


def _round(x: Num) -> Num:
    """Round half to even, to an integer (Python's ``round``; numpy's ``rint``)."""
    if _is_array(x):
        import numpy as np

        return np.rint(x).astype(np.int64)
    return int(round(x))


def _maximum(a: Num, b: Num) -> Num:
    if _is_array(a, b):
        import numpy as np

        return np.maximum(a, b)
    return max(a, b)


def _minimum(a: Num, b: Num) -> Num:
    if _is_array(a, b):
        import numpy as np

        return np.minimum(a, b)
    return min(a, b)


def _where(cond: Any, a: Num, b: Num) -> Num:
    if _is_array(cond, a, b):
        import numpy as np

        return np.where(cond, a, b)
    return a if cond else b


_F32 = struct.Struct("<f")


def f32(x: float) -> float:
    """Round a double to the nearest float32 (ties to even), returned as a Python float."""
    return _F32.unpack(_F32.pack(x))[0]


# ------------------------------------------------------------------------- channel rounding
def make_divisible(v: Num, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> Num:
    """Nearest multiple of ``divisor`` to ``v``, at least ``min_value`` (default ``divisor``) and
    never below ``round_limit * v`` (timm's ``make_divisible``, from the TF MobileNet/EfficientNet
    reference code)."""
    min_value = min_value or divisor
    new_v = _maximum(min_value, _floor(v + divisor / 2) // divisor * divisor)
    return _where(new_v < round_limit * v, new_v + divisor, new_v)


# --------------------------------------------------------------------------- SE widths
def residual_se_width(chs: Num, ratio: float, divisor: int = 8) -> Num:
    """SE reduced width of a ResNet/ResNeXt/ResNet-RS block of output width ``chs``; 0 when
    ``ratio`` is 0 (no SE).  timm's ``SEModule(chs, rd_ratio=ratio)``:
    ``make_divisible(chs * ratio, 8, round_limit=0)`` (nearest multiple of 8, at least 8)."""
    if ratio <= 0:
        return 0 * chs
    return _maximum(divisor, _floor(chs * ratio + divisor / 2) // divisor * divisor)


def regnet_se_width(in_chs: Num, se_ratio: float, mid_chs: Num) -> Num:
    """SE reduced width of a RegNetY block: ``round(se_ratio * block input width)`` (timm/pycls);
    0 when ``se_ratio`` is 0 (no SE).

    When that rounds to 0 (a tiny ratio on a narrow block), timm's ``SEModule`` falls back to its
    default, 1/16 of the SE's own width ``mid_chs`` rounded to a multiple of 8; so do we."""
    if se_ratio <= 0:
        return 0 * in_chs
    rd = _round(in_chs * se_ratio)
    return _where(rd > 0, rd, _maximum(8, _floor(mid_chs / 16 + 4) // 8 * 8))


def _se_round(chs: Num, rd_ratio: float) -> Num:
    # timm's EfficientNet SqueezeExcite: rd = round(chs * rd_ratio) (Python's round); we keep at
    # least one channel so that a tiny ratio gives a (degenerate) SE rather than a 0-channel conv.
    return _maximum(1, _round(chs * rd_ratio))


def ds_se_width(in_chs: Num, se_ratio: float) -> Num:
    """Reduced width of the SE of a depthwise-separable block (0 = no SE): ``round(in * se)``."""
    return _se_round(in_chs, se_ratio) if se_ratio > 0 else 0 * in_chs


def mbconv_widths(in_chs: Num, expand_ratio: float, se_ratio: float) -> tuple[Num, Num]:
    """``(mid, se)`` widths of an inverted residual with input width ``in_chs``.

    ``mid = make_divisible(in * e)``; the SE ratio is relative to the block *input* width, as in
    the EfficientNet paper and timm (``se_from_exp=False``): the SE on the ``mid``-wide map gets
    ``round(mid * (se / e))`` channels, computed in timm's order of floating-point operations.
    ``se`` is 0 when ``se_ratio`` is 0 (no SE).
    """
    mid = make_divisible(in_chs * expand_ratio)
    return mid, (_se_round(mid, se_ratio / expand_ratio) if se_ratio > 0 else 0 * mid)


def tresnet_se_width(width: Num, se_ratio: float) -> Num:
    """SE reduction width of a TResNet block of output ``width``; 0 means no SE.

    timm: ``max(planes * expansion // 4, 64)`` (basic) and ``// 8`` (bottleneck), i.e.
    ``max(floor(width * se_ratio), 64)``.  The ``1e-9`` absorbs binary rounding
    (``0.29 * 100 == 28.999...``); it is exact for the published ratios 1/4 and 1/8."""
    if se_ratio <= 0:
        return 0 * width
    return _maximum(_floor(width * se_ratio + 1e-9), TRESNET_SE_MIN)


# --------------------------------------------------------------------------- shortcuts
def needs_projection(in_chs: Num, out_chs: Num, stride: int) -> Any:
    """A residual block projects its shortcut when it changes the shape (a bool, or an array)."""
    if _is_array(in_chs, out_chs):
        return (in_chs != out_chs) | (stride != 1)
    return stride != 1 or in_chs != out_chs


def count_shortcut(cx: Any, out_chs: Num, stride: int, kind: str = "conv") -> Any:
    """Count a block's shortcut on a fork of counter ``cx`` (the block's input map) and return
    the fork; the caller adds it (``cx.add(fork)``) after counting the residual branch.

    ``conv``: strided 1x1 conv + norm.  ``avgpool`` (ResNet-D, TResNet): at stride 2 a 2x2
    average pool (ceil mode), then 1x1 conv + norm.  Nothing when the shape is unchanged (for a
    table of networks, the rows that need no projection add zero)."""
    sc = cx.fork()
    need = needs_projection(cx.c, out_chs, stride)
    if need is False:
        return sc
    if kind == "avgpool":
        if stride > 1:
            sc.pool(2, stride, ceil_mode=True)
        sc.conv_norm(out_chs, 1)
    else:
        sc.conv_norm(out_chs, 1, stride)
    if need is not True:  # a table: keep the projection's cost only where it is needed
        sc.scale(need)
    return sc


# ------------------------------------------------------------------------------ RegNet
def regnet_block_widths(w0: int, wa: float, wm: float, depth: int, q: int = 8) -> tuple[list[float], list[int]]:
    """Per-block widths of the quantized linear rule of Radosavovic et al. 2020, as timm's
    ``generate_regnet`` computes them in float32 torch tensors, reproduced bit for bit in pure
    Python (each ``+ - * /`` rounded to float32):

    * continuous width ``u_j = w0 + wa * j``                                  (eq. 2)
    * exponent ``s_j = round(log(u_j / w0) / log(wm))``                        (eq. 3)
    * quantized width ``w_j = round(w0 * wm ** s_j / q) * q``                  (eq. 4)

    Returns ``(u, w)``.  The one thing that cannot be copied is the last bit of torch's float32
    ``log`` (Intel MKL's ``vsLn``, not correctly rounded, CPU-dependent); we use the correctly
    rounded value, so the two can disagree only where ``log(u_j/w0)/log(wm)`` lies within a
    float32 rounding error of ``k + 1/2``.  The caller validates the arguments."""
    w0f, qf, wa32 = float(w0), float(q), f32(wa)
    log_wm = f32(math.log(wm))  # timm: tensor / math.log(wm), the double scalar cast to float32
    wm32 = f32(wm)              # torch.pow(wm, tensor): the scalar base cast to float32
    try:
        u = [f32(f32(j * wa32) + w0f) for j in range(depth)]
        widths = []
        for x in u:
            s = round(f32(f32(math.log(f32(x / w0f))) / log_wm))  # round half to even, as torch
            p = f32(wm32 ** s)
            widths.append(int(round(f32(f32(w0f * p) / qf))) * q)
    except (OverflowError, ValueError):
        widths = [MAX_WIDTH] * depth
    return u, widths


def regnet_block_widths_table(w0: Any, wa: Any, wm: Any, depth: Any, q: int = 8) -> tuple[Any, Any]:
    """:func:`regnet_block_widths` for ``n`` parameter rows at once: ``(widths, valid)``, arrays of
    shape ``(n, max depth)`` (``valid[i, j]``: block ``j`` exists in row ``i``).  The same float32
    operations in the same order (float32 products and sums are exact to compute in double and
    round once, so numpy's float32 arithmetic equals the scalar emulation)."""
    import numpy as np

    w0, depth = np.asarray(w0), np.asarray(depth)
    n = len(w0)
    dmax = int(depth.max()) if n else 1
    j = np.arange(dmax, dtype=np.float32)[None, :]
    w0f = w0.astype(np.float32)[:, None]
    u = (j * np.asarray(wa, dtype=np.float64).astype(np.float32)[:, None]) + w0f
    ratio = (u / w0f).astype(np.float64)
    log_wm = np.log(np.asarray(wm, dtype=np.float64)).astype(np.float32)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.rint(np.log(ratio).astype(np.float32) / log_wm)
        wm32 = np.asarray(wm, dtype=np.float64).astype(np.float32).astype(np.float64)[:, None]
        p = np.power(wm32, s.astype(np.float64)).astype(np.float32)
        wq = np.rint((w0f * p) / np.float32(q))
    wq = np.where(np.isfinite(wq) & (wq * q < MAX_WIDTH), wq, MAX_WIDTH // q)
    widths = wq.astype(np.int64) * q
    valid = np.arange(dmax)[None, :] < depth[:, None]
    return widths, valid


def regnet_stage_compat(width: Num, bottle_ratio: float, group_width: Num) -> tuple[Num, Num, Num, Any]:
    """One RegNet stage's widths as timm builds them, for any bottleneck multiplier.

    ``bottle_ratio`` is timm's multiplier (bottleneck width / block width, the paper's ``1/b``).
    timm's ``adjust_widths_groups_comp`` (pycls' ``adjust_block_compatibility``):
    ``w_b = int(w * r)``, the group width capped at ``w_b``, ``w_b`` rounded to a multiple of it,
    ``w = int(w_b / r)``; then its block: bottleneck ``int(round(w * r))`` and
    ``groups = bottleneck // group width``.

    Returns ``(width, bottleneck, groups, ok)``; ``ok`` is false where timm's own network is
    invalid (``groups == 0``, or groups that do not divide the bottleneck width: PyTorch's conv
    raises), which the family reports as a :class:`~designspace.SpecError`.
    """
    wb = _maximum(_floor(width * bottle_ratio), 1)
    g = _minimum(group_width, wb)
    wb = _round(wb / g) * g                    # timm quantize_float: int(round(f / q) * q)
    width = _floor(wb / bottle_ratio)          # timm: int(w_bot / b)
    mid = _round(width * bottle_ratio)         # timm Bottleneck: int(round(out_chs * bottle_ratio))
    groups = mid // g
    safe = _maximum(groups, 1)
    ok = (groups >= 1) & (mid % safe == 0) & (mid >= 1) if _is_array(groups) else (groups >= 1 and mid % safe == 0 and mid >= 1)
    return width, mid, groups, ok
