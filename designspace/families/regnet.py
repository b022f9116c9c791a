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
from typing import Callable, Iterator

from .. import rules
from ..spec import NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["regnet", "regnet_stages", "regnet_block_widths", "regnet_params", "linear_fits", "stage_preimages"]

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


def regnet_params(spec: NetSpec) -> dict:
    """Parameters ``(w0, wa, wm, depth, group_width, bottle_ratio, se_ratio, stem_width)`` that
    make :func:`regnet` (and timm's ``RegNet``) build ``spec``'s network: the inverse of the
    quantized linear rule.  Only the quantized widths are observed, so many parameters fit; this
    returns one (``wa`` and ``wm`` rounded to 2 and 3 decimals where that still fits), checked by
    regenerating the spec.  :class:`SpecError` when ``spec`` is not such a network (other blocks,
    strides or stems, or stage widths that no (w0, wa, wm) produces)."""
    st = spec.stages
    if spec.stem.kind != "simple" or spec.stem.pool != "none" or spec.head.width:
        raise SpecError("stem", spec.stem.kind, "is not a RegNet's (a simple 3x3 stem, no head conv)")
    if any(s.block != "regnet" or s.stride != 2 for s in st):
        raise SpecError("stages", [s.block for s in st], "are not all stride-2 regnet blocks")
    if len({s.se_ratio for s in st}) != 1:
        raise SpecError("stages", [s.se_ratio for s in st], "have different SE ratios (RegNet has one)")
    mids = [s.bottleneck_width for s in st]
    widths = [s.width for s in st]
    # the group width g asked for: a stage shows it as is, as mid // (mid // g) (rounded up to
    # divide its bottleneck mid), or (when g exceeds the bottleneck) about the bottleneck; try
    # the shown ones, widest first, then (at most 8) others every stage is consistent with
    recorded = [s.group_width or s.bottleneck_width for s in st]

    def consistent(g: int) -> bool:
        return all((m // g >= 1 and m // (m // g) == rg) or g >= rg for m, rg in zip(mids, recorded))

    shown = sorted(set(recorded), reverse=True)
    others = [g for g in range(max(recorded), 0, -1) if g not in shown and consistent(g)][:8]
    for gs in shown + others:
        found = _fit_group_width(spec, gs, widths, mids)
        if found is not None:
            return found
    raise SpecError("stages", [(s.depth, s.width) for s in st],
                    "are not the stages of any RegNet (no w0, wa, wm regenerates these widths and depths)")


def _fit_group_width(spec: NetSpec, gs: int, widths: list[int], mids: list[int]) -> dict | None:
    """:func:`regnet_params` for one asked group width ``gs``; None if nothing fits."""
    st = spec.stages
    # timm's multiplier r gives every stage's bottleneck as round(width * r): an interval of r
    lo_r = max((m - 0.5) / w for w, m in zip(widths, mids))
    hi_r = min((m + 0.5) / w for w, m in zip(widths, mids))
    ratios: list[float] = []
    for digits in (1, 2, 3, 4):  # the simplest multipliers in the interval first (0.3, 0.25, ...)
        k0, k1 = math.ceil(lo_r * 10 ** digits), math.floor(hi_r * 10 ** digits)
        ratios += [k / 10 ** digits for k in range(k0, min(k1, k0 + 50) + 1)]
    ratios += [n / d for d in range(1, 17) for n in range(1, 4 * d + 1) if lo_r <= n / d <= hi_r]
    ratios += [mids[0] / widths[0]]
    ratios = list(dict.fromkeys(r for r in ratios if r > 0))
    depths = [s.depth for s in st]
    base = dict(se_ratio=st[0].se_ratio, stem_width=spec.stem.width, resolution=spec.resolution,
                num_classes=spec.num_classes, drop_path_rate=spec.drop_path_rate, in_chans=spec.in_chans)
    for r in ratios:
        for w0, wa, wm in linear_fits(widths, mids, depths, gs, r):
            kw = dict(w0=w0, wa=wa, wm=wm, depth=sum(depths), group_width=gs, bottle_ratio=r)
            try:
                if regnet(**kw, **base) == spec:
                    return {**kw, "se_ratio": base["se_ratio"], "stem_width": base["stem_width"]}
            except SpecError:
                continue
    return None


def stage_preimages(widths: list[int], mids: list[int], group_width: int, bottle_ratio: float,
                    q: int = 8) -> list[list[int]] | None:
    """Per stage, the quantized widths (multiples of ``q``) that timm's compatibility step, at
    ``group_width`` and multiplier ``bottle_ratio``, turns into that stage's ``(width, bottleneck)``;
    ``None`` when a stage has none."""
    pre = []
    for w, m in zip(widths, mids):
        # the compatibility step moves the bottleneck by up to half a group: pre-images lie
        # within (group width / multiplier) of the final width
        lo_c, hi_c = int((m - group_width) / bottle_ratio) - q, int((m + group_width) / bottle_ratio) + 2 * q
        cands = [c for c in range(max(q, lo_c // q * q), hi_c, q)
                 if rules.regnet_stage_compat(c, bottle_ratio, group_width)[:2] == (w, m)]
        if not cands:
            return None
        pre.append(cands)
    return pre


#: ``pick(lo, hi, wa_range)``: ``(wa, wm)`` values to try for one interval ``lo <= wm < hi`` of the
#: growth factor, where ``wa_range(wm)`` is the open interval of slopes that fits at that ``wm``
Pick = Callable[[float, float, Callable[[float], "tuple[float, float]"]], Iterator["tuple[float, float]"]]


def linear_fits(widths: list[int], mids: list[int], depths: list[int], group_width: int, bottle_ratio: float,
                pick: Pick | None = None, w0_ok: Callable[[int], bool] | None = None
                ) -> Iterator[tuple[int, float, float]]:
    """Candidate ``(w0, wa, wm)`` of the quantized linear rule for stages of these widths,
    bottleneck widths and depths at one group width and multiplier; ``pick`` chooses the values
    tried in each interval of ``wm`` (default: the simplest roundings, 2 decimals for ``wa`` and 3
    for ``wm`` first; a design space passes its own grid), ``w0_ok`` filters the start widths.
    Candidates are not checked: the caller regenerates the network."""
    pre = stage_preimages(widths, mids, group_width, bottle_ratio)
    if pre is None:
        return
    for w0 in pre[0]:
        if w0_ok is None or w0_ok(w0):
            for wa, wm in _fit_linear(w0, pre[1:], depths, sum(depths), pick=pick or _nice):
                yield w0, wa, wm


def _fit_linear(w0: int, later: list[list[int]], depths: list[int], depth: int, q: int = 8, pick: Pick | None = None):
    """Candidate ``(wa, wm)`` for start width ``w0``: each later stage keeps one of its candidate
    quantized widths, and its blocks take exponents in a range ``[a, b]`` whose every exponent
    quantizes to that width (several exponents give one width where ``w0`` and ``wm`` are small:
    ``w0=8, wm=1.457`` quantizes exponents 0 and 1 to 8); ``pick`` chooses values in each interval."""
    starts = [sum(depths[:k]) for k in range(len(depths))]

    def band(w: int, e: int) -> tuple[float, float]:
        """wm such that ``round(w0 * wm ** e / q) * q == w`` (e >= 1)."""
        return ((w - q / 2) / w0) ** (1 / e), ((w + q / 2) / w0) ** (1 / e)

    def ranges_from(w: int, a: int, lo: float, hi: float):
        """Exponent ranges ``[a, b]`` of one stage at width ``w``, widest-last, with their wm interval."""
        for b in range(a, a + 16):
            if b >= 1:
                lo, hi = max(lo, band(w, b)[0]), min(hi, band(w, b)[1])
            if not lo < hi:
                return
            yield b, lo, hi

    def intervals(k: int, e_prev: int, lo: float, hi: float, ranges: tuple[tuple[int, int], ...]):
        """Depth-first over the later stages' candidate widths and exponent ranges (a stage's
        first exponent exceeds the previous stage's last), keeping the wm interval non-empty."""
        if k > len(later):
            yield lo, hi, ranges
            return
        for w in later[k - 1]:
            for a in range(e_prev + 1, e_prev + 9):
                for b, a_lo, a_hi in ranges_from(w, a, lo, hi):
                    yield from intervals(k + 1, b, a_lo, a_hi, ranges + ((a, b),))

    def all_intervals():
        for b0, lo, hi in ranges_from(w0, 0, 1.0 + 1e-9, 64.0):
            yield from intervals(1, b0, lo, hi, ((0, b0),))

    def wa_range(wm: float, ranges: tuple[tuple[int, int], ...]) -> tuple[float, float]:
        """The slopes ``wa`` whose every block lands in its stage's exponent range at ``wm``."""
        if len(depths) == 1 and depth == 1:
            return 0.0, 1.0
        wa_lo, wa_hi = 0.0, math.inf
        for (a, b), s0, d in zip(ranges, starts, depths):
            for j in range(max(1, s0), s0 + d):
                wa_lo = max(wa_lo, (w0 * wm ** (a - 0.5) - w0) / j)
                wa_hi = min(wa_hi, (w0 * wm ** (b + 0.5) - w0) / j)
        return wa_lo, wa_hi

    for lo, hi, ranges in all_intervals():
        yield from (pick or _nice)(lo, hi, lambda wm, ranges=ranges: wa_range(wm, ranges))


def _nice(lo: float, hi: float, wa_range: Callable[[float], tuple[float, float]]) -> Iterator[tuple[float, float]]:
    """Values in one interval, nicer roundings first: ``wm`` on a 48-point grid from the
    middle out, ``wa`` in the middle of its range, rounded to 2 and 3 decimals (``wm`` to 3, 4)."""
    grid = [lo + (hi - lo) * (i + 0.5) / 48 for i in range(48)]
    for wm in sorted(grid, key=lambda x: abs(x - (lo + hi) / 2)):
        wa_lo, wa_hi = wa_range(wm)
        if not wa_lo < wa_hi:
            continue
        wa = (wa_lo + wa_hi) / 2 if math.isfinite(wa_hi) else wa_lo + 1.0
        for nice_wa, nice_wm in ((round(wa, 2), round(wm, 3)), (round(wa, 3), round(wm, 4)), (wa, wm)):
            if wa_lo < nice_wa < wa_hi and lo <= nice_wm < hi:
                yield nice_wa, nice_wm
