"""RegNet family: the quantized linear width rule of "Designing Network Design Spaces"
(Radosavovic et al., CVPR 2020, Sec. 3.3), as implemented by timm (``timm.models.regnet``:
``generate_regnet`` + ``adjust_widths_groups_comp``) and pycls (``pycls/models/regnet.py``).

For block ``j`` of a network of depth ``d``:

* continuous width ``u_j = w0 + wa * j``                                  (eq. 2)
* exponent ``s_j = round(log(u_j / w0) / log(wm))``                        (eq. 3)
* quantized width ``w_j = round(w0 * wm ** s_j / q) * q`` with ``q = 8``   (eq. 4)

Stages are the runs of equal ``w_j`` (stride 2 each), then every stage's group width is capped at
its bottleneck width and the bottleneck width rounded to a multiple of the group width.

timm computes the first three steps in float32 torch tensors; this module reproduces that float32
arithmetic bit for bit in pure Python (each ``+ - * /`` rounded to float32), so the widths equal
timm's.  The one thing that cannot be copied is the last bit of torch's float32 ``log`` (Intel
MKL's ``vsLn``, which is not correctly rounded and may differ between CPUs); we use the correctly
rounded value.  The two can disagree only where ``log(u_j/w0)/log(wm)`` lies within a float32
rounding error of ``k + 1/2`` (e.g. ``w0=8, wa=4, wm=2.25``: ``u_1/w0 = 1.5 = sqrt(2.25)``), where
timm's own result depends on the machine; there we round the correctly rounded quotient half to
even, which is also the exact mathematical answer at an exact tie.

Our ``bottleneck_ratio`` is the paper's *b*, a divisor (bottleneck width = width / b); timm's
``bottle_ratio`` is the multiplier 1/b.  Pure Python: no torch, no numpy.
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

from ..spec import NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["regnet", "regnet_stages", "regnet_block_widths"]

_F32 = struct.Struct("<f")
#: widths must stay exact float32 integers, as in timm
_MAX_WIDTH = 1 << 24


def _f32(x: float) -> float:
    """Round a double to the nearest float32 (ties to even), returned as a Python float."""
    return _F32.unpack(_F32.pack(x))[0]


# ------------------------------------------------------------------------------- validation
def _int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, value, "must be an integer")
    if value < minimum:
        raise SpecError(name, value, f"must be >= {minimum}")
    return value


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(name, value, "must be a finite number")
    return float(value)


def _check_linear(w0: object, wa: object, wm: object, depth: object, q: object) -> tuple[int, float, float, int, int]:
    """The domain of pycls/timm's ``generate_regnet``: ``wa >= 0, w0 > 0, wm > 1, w0 % q == 0``."""
    q = _int("q", q)
    w0 = _int("w0", w0)
    if w0 % q:
        raise SpecError("w0", w0, f"must be a multiple of q={q}")
    if w0 >= _MAX_WIDTH:
        raise SpecError("w0", w0, f"must be < {_MAX_WIDTH}")
    wa = _number("wa", wa)
    if wa < 0:
        raise SpecError("wa", wa, "must be >= 0")
    wm = _number("wm", wm)
    if wm <= 1:
        raise SpecError("wm", wm, "must be > 1")
    depth = _int("depth", depth)
    if depth > 4096:
        raise SpecError("depth", depth, "must be <= 4096")
    return w0, wa, wm, depth, q


def _bottleneck(value: object) -> Fraction:
    b = _number("bottleneck_ratio", value)
    if b <= 0:
        raise SpecError("bottleneck_ratio", value, "must be > 0")
    frac = Fraction(b).limit_denominator(64)
    if abs(float(frac) - b) > 1e-9 * b:
        raise SpecError("bottleneck_ratio", value, "must be a simple ratio p/q with q <= 64 (e.g. 1, 2, 4, 0.25)")
    return frac


# ------------------------------------------------------------------------------- the rule
def regnet_block_widths(w0: int, wa: float, wm: float, depth: int, q: int = 8) -> tuple[list[float], list[int]]:
    """Per-block widths of the linear rule: ``(u, w)`` with ``u[j] = w0 + wa*j`` (as the float32
    values timm computes) and ``w[j]`` the quantized width (eqs. 2-4 of Radosavovic et al. 2020).

    Raises :class:`SpecError` naming the parameter for ``w0 <= 0``, ``w0 % q != 0``, ``wa < 0``,
    ``wm <= 1`` or ``depth < 1``.
    """
    w0, wa, wm, depth, q = _check_linear(w0, wa, wm, depth, q)
    w0f, qf, wa32 = float(w0), float(q), _f32(wa)
    log_wm = _f32(math.log(wm))  # timm: tensor / math.log(wm), the double scalar cast to float32
    wm32 = _f32(wm)              # torch.pow(wm, tensor): the scalar base cast to float32
    try:
        u = [_f32(_f32(j * wa32) + w0f) for j in range(depth)]
        widths = []
        for x in u:
            s = round(_f32(_f32(math.log(_f32(x / w0f))) / log_wm))  # round half to even, as torch
            p = _f32(wm32 ** s)
            widths.append(int(round(_f32(_f32(w0f * p) / qf))) * q)
    except (OverflowError, ValueError):
        widths = [_MAX_WIDTH]
    if widths[-1] >= _MAX_WIDTH:
        raise SpecError("wa", wa, f"gives widths beyond {_MAX_WIDTH} with w0={w0}, wm={wm}, depth={depth}")
    return u, widths


def _adjust(width: int, b: Fraction, group_width: int) -> tuple[int, int]:
    """timm's ``adjust_widths_groups_comp`` (pycls' ``adjust_block_compatibility``) for one stage:
    cap the group width at the bottleneck width, round the bottleneck width to a multiple of it
    (and of b's denominator, so that ``width = bottleneck * b`` is an integer)."""
    # timm: int(w * bottle_ratio) with bottle_ratio = 1/b; exact integer floor here
    v = max(1, width * b.denominator // b.numerator)
    g = min(group_width, v)
    m = math.lcm(g, b.denominator)
    v = max(m, int(round(v / m) * m))
    return v * b.numerator // b.denominator, g


def regnet_stages(
    w0: int, wa: float, wm: float, depth: int, group_width: int = 8, bottleneck_ratio: float = 1.0, q: int = 8,
) -> tuple[list[int], list[int], list[int]]:
    """Per-stage ``(widths, depths, group_widths)`` of a RegNet: runs of equal quantized block
    widths, then the group-width compatibility adjustment (equal to timm's ``_get_stage_args``)."""
    group_width = _int("group_width", group_width)
    b = _bottleneck(bottleneck_ratio)
    _, ws = regnet_block_widths(w0, wa, wm, depth, q)
    widths: list[int] = []
    depths: list[int] = []
    for w in ws:  # ws is non-decreasing, so runs of equal widths = timm's torch.unique(counts)
        if widths and widths[-1] == w:
            depths[-1] += 1
        else:
            widths.append(w)
            depths.append(1)
    adjusted = [_adjust(w, b, group_width) for w in widths]
    return [w for w, _ in adjusted], depths, [g for _, g in adjusted]


def regnet(
    w0: int,
    wa: float,
    wm: float,
    depth: int,
    group_width: int,
    bottleneck_ratio: float = 1.0,
    se_ratio: float = 0.0,
    stem_width: int = 32,
    resolution: int = 224,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
) -> NetSpec:
    """A RegNet (Radosavovic et al. 2020): simple 3x3 stem, one stride-2 stage of ``regnet``
    blocks per run of equal widths, linear classifier.  RegNetX has ``se_ratio=0``; RegNetY is
    RegNetX with squeeze-excitation ``se_ratio=0.25`` (of the block's input width).

    ``regnet(w0=88, wa=26.31, wm=2.25, depth=25, group_width=48) == zoo["regnetx_032"]``.
    """
    se = _number("se_ratio", se_ratio)
    if not 0.0 <= se < 1.0:
        raise SpecError("se_ratio", se_ratio, "must be in [0, 1)")
    stem_width = _int("stem_width", stem_width)
    b = float(_number("bottleneck_ratio", bottleneck_ratio))
    widths, depths, gws = regnet_stages(w0, wa, wm, depth, group_width, bottleneck_ratio)
    stages = tuple(
        StageSpec(block="regnet", depth=d, width=w, stride=2, bottleneck_ratio=b, group_width=g, se_ratio=se)
        for w, d, g in zip(widths, depths, gws)
    )
    return NetSpec(
        stem=StemSpec(kind="simple", width=stem_width), stages=stages,
        resolution=resolution, num_classes=num_classes, drop_path_rate=drop_path_rate,
    )
