"""RegNet family: the quantized linear width rule of "Designing Network Design Spaces"
(Radosavovic et al., CVPR 2020, Sec. 3.3), as implemented by timm (``timm.models.regnet``:
``generate_regnet`` + ``adjust_widths_groups_comp``) and pycls (``pycls/models/regnet.py``).

For block ``j`` of a network of depth ``d``:

* continuous width ``u_j = w0 + wa * j``                                  (eq. 2)
* exponent ``s_j = round(log(u_j / w0) / log(wm))``                        (eq. 3)
* quantized width ``w_j = round(w0 * wm ** s_j / q) * q`` with ``q = 8``   (eq. 4)

Stages are the runs of equal ``w_j`` (stride 2 each), then every stage's group width is capped at
its bottleneck width and the bottleneck width rounded to a multiple of the group width.

The rules live in :mod:`designspace.rules` (one copy, shared with the spaces' vectorised tables
and :mod:`designspace.analysis.fit`): timm computes the first three steps in float32 torch
tensors, reproduced bit for bit in pure Python, so the widths equal timm's.  The one thing that
cannot be copied is the last bit of torch's float32 ``log`` (Intel MKL's ``vsLn``, which is not
correctly rounded and may differ between CPUs); we use the correctly rounded value.  The two can
disagree only where ``log(u_j/w0)/log(wm)`` lies within a float32 rounding error of ``k + 1/2``
(e.g. ``w0=8, wa=4, wm=2.25``: ``u_1/w0 = 1.5 = sqrt(2.25)``), where timm's own result depends on
the machine; there we round the correctly rounded quotient half to even, which is also the
exact mathematical answer at an exact tie.

Our ``bottleneck_ratio`` is the paper's *b*, a divisor (bottleneck width = width / b); timm's
``bottle_ratio`` is the multiplier 1/b.  Pure Python: no torch, no numpy.
"""
from __future__ import annotations

import math

from .. import rules
from ..spec import NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["regnet", "regnet_stages", "regnet_block_widths"]

_MAX_WIDTH = rules.MAX_WIDTH


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


def _multiplier(bottleneck_ratio: object, bottle_ratio: object) -> tuple[str, float]:
    """timm's bottleneck multiplier from either convention: ``bottle_ratio`` (timm, pycls'
    ``BOT_MUL``: bottleneck width / width) or our ``bottleneck_ratio`` *b* (its inverse)."""
    if bottle_ratio is not None:
        r = _number("bottle_ratio", bottle_ratio)
        if not 0 < r <= 64:
            raise SpecError("bottle_ratio", bottle_ratio, "must be in (0, 64]")
        if bottleneck_ratio not in (None, 1, 1.0):
            raise SpecError("bottleneck_ratio", bottleneck_ratio, "and bottle_ratio are the same setting (b and 1/b); give one")
        return "bottle_ratio", r
    b = _number("bottleneck_ratio", 1.0 if bottleneck_ratio is None else bottleneck_ratio)
    if not 1 / 64 <= b <= 64:
        raise SpecError("bottleneck_ratio", bottleneck_ratio, "must be in [1/64, 64] (and > 0)")
    return "bottleneck_ratio", 1.0 / b


# ------------------------------------------------------------------------------- the rule
def regnet_block_widths(w0: int, wa: float, wm: float, depth: int, q: int = 8) -> tuple[list[float], list[int]]:
    """Per-block widths of the linear rule: ``(u, w)`` with ``u[j] = w0 + wa*j`` (as the float32
    values timm computes) and ``w[j]`` the quantized width (eqs. 2-4 of Radosavovic et al. 2020;
    the rule itself is :func:`designspace.rules.regnet_block_widths`).

    Raises :class:`SpecError` naming the parameter for ``w0 <= 0``, ``w0 % q != 0``, ``wa < 0``,
    ``wm <= 1`` or ``depth < 1``.
    """
    w0, wa, wm, depth, q = _check_linear(w0, wa, wm, depth, q)
    u, widths = rules.regnet_block_widths(w0, wa, wm, depth, q)
    if widths[-1] >= _MAX_WIDTH:
        raise SpecError("wa", wa, f"gives widths beyond {_MAX_WIDTH} with w0={w0}, wm={wm}, depth={depth}")
    return u, widths


def _runs(ws: list[int]) -> tuple[list[int], list[int]]:
    """Runs of equal widths (ws is non-decreasing: timm's torch.unique with counts)."""
    widths: list[int] = []
    depths: list[int] = []
    for w in ws:
        if widths and widths[-1] == w:
            depths[-1] += 1
        else:
            widths.append(w)
            depths.append(1)
    return widths, depths


def _stage_table(w0: int, wa: float, wm: float, depth: int, group_width: int, bottleneck_ratio: object,
                 bottle_ratio: object, q: int) -> list[tuple[int, int, int, int]]:
    """Per stage ``(width, depth, bottleneck width, group width)`` as timm builds them."""
    group_width = _int("group_width", group_width)
    which, r = _multiplier(bottleneck_ratio, bottle_ratio)
    _, ws = regnet_block_widths(w0, wa, wm, depth, q)
    out = []
    for i, (w, d) in enumerate(zip(*_runs(ws))):
        width, mid, groups, ok = rules.regnet_stage_compat(w, r, group_width)
        if not ok:
            value = bottle_ratio if which == "bottle_ratio" else bottleneck_ratio
            raise SpecError(which, value, f"with group_width={group_width} makes stage {i + 1} (width {w}) a network "
                            f"timm's RegNet cannot build: bottleneck width {mid}, {groups} group(s) of "
                            f"{group_width} (groups must be >= 1 and divide the bottleneck width)")
        out.append((width, d, mid, mid // groups))
    return out


def regnet_stages(
    w0: int, wa: float, wm: float, depth: int, group_width: int = 8, bottleneck_ratio: float | None = 1.0, q: int = 8,
    *, bottle_ratio: float | None = None,
) -> tuple[list[int], list[int], list[int]]:
    """Per-stage ``(widths, depths, group_widths)`` of a RegNet: runs of equal quantized block
    widths, then timm's group-width compatibility adjustment
    (:func:`designspace.rules.regnet_stage_compat`, equal to timm's ``_get_stage_args``)."""
    t = _stage_table(w0, wa, wm, depth, group_width, bottleneck_ratio, bottle_ratio, q)
    return [w for w, _, _, _ in t], [d for _, d, _, _ in t], [g for _, _, _, g in t]


def regnet(
    w0: int,
    wa: float,
    wm: float,
    depth: int,
    group_width: int,
    bottleneck_ratio: float | None = 1.0,
    se_ratio: float = 0.0,
    stem_width: int = 32,
    resolution: int = 224,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
    *,
    bottle_ratio: float | None = None,
    in_chans: int = 3,
) -> NetSpec:
    """A RegNet (Radosavovic et al. 2020): simple 3x3 stem, one stride-2 stage of ``regnet``
    blocks per run of equal widths, linear classifier.  RegNetX has ``se_ratio=0``; RegNetY is
    RegNetX with squeeze-excitation ``se_ratio=0.25`` (of the block's input width).

    The bottleneck is given either as our ``bottleneck_ratio`` *b* (bottleneck width = width / b,
    the paper's convention) or as timm's multiplier ``bottle_ratio`` = 1 / b; either way the
    network is the one timm's ``RegNet(RegNetCfg(..., bottle_ratio=1/b))`` builds, for any
    multiplier (0.3, 0.75, ...).  Where timm's own arithmetic makes an invalid network (0 groups,
    or groups that do not divide the bottleneck), :class:`SpecError` says so.

    ``regnet(w0=88, wa=26.31, wm=2.25, depth=25, group_width=48) == zoo["regnetx_032"]``.
    """
    se = _number("se_ratio", se_ratio)
    if not 0.0 <= se < 1.0:
        raise SpecError("se_ratio", se_ratio, "must be in [0, 1)")
    stem_width = _int("stem_width", stem_width)
    table = _stage_table(w0, wa, wm, depth, group_width, bottleneck_ratio, bottle_ratio, 8)
    stages = tuple(
        StageSpec(block="regnet", depth=d, width=w, stride=2, bottleneck_ratio=w / mid, group_width=g, se_ratio=se)
        for w, d, mid, g in table
    )
    return NetSpec(
        stem=StemSpec(kind="simple", width=stem_width), stages=stages,
        resolution=resolution, num_classes=num_classes, in_chans=in_chans, drop_path_rate=drop_path_rate,
    )
