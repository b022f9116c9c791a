"""Which point of a space builds a given network: :meth:`Space.params_of`.

A study's baseline (a named model) is a network of its design space when some assignment of the
space's free parameters builds exactly that spec; the study then stores those values as the
trial's parameters, with the space's own distributions, like every drawn trial (so Optuna's
importance evaluators and the dashboard see one search space).

Each space proposes candidates from the spec (per-stage spaces read them off the stages; RegNet
spaces invert the quantized linear rule onto their grids of ``w0, wa, wm``, through
:func:`designspace.families.regnet.linear_fits`; small finite spaces are enumerated), and a
candidate is accepted only if it lies in every domain and :meth:`Space.spec_of` rebuilds a spec
equal to the one asked for.  ``None`` means the space holds no such network, or (a space with
no inverse and too many points to enumerate) that it cannot tell.
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np

from .. import rules
from ..spec import NetSpec, SpecError
from .base import Infeasible
from .domains import Choice, Domain, Float, Int

if TYPE_CHECKING:  # pragma: no cover
    from .base import Space

__all__ = ["params_of", "builds", "points", "inside", "MAX_ENUMERATED", "MAX_CHECKED", "MAX_SLOPES"]

#: a space without an inverse of its own is enumerated when it has at most this many points
MAX_ENUMERATED = 512
#: candidates rebuilt before giving up
MAX_CHECKED = 200
#: intervals and values of a RegNet's ``wm`` tried before giving up (about a second)
MAX_SLOPES = 20000


def params_of(space: "Space", spec: NetSpec) -> dict[str, Any] | None:
    """The space's free parameters whose network is ``spec`` (checked by rebuilding), or ``None``."""
    for p in itertools.islice(_candidates(space, spec), MAX_CHECKED):
        if builds(space, p, spec):
            return {k: p[k] for k in space.params}
    return None


def builds(space: "Space", p: dict[str, Any], spec: NetSpec) -> bool:
    """Whether ``p`` lies in the space's domains and builds ``spec``, as ``space.suggest`` would
    build it from these values (canonical form, vectorised feasibility, then :meth:`spec_of`)."""
    if set(p) != set(space.params) or not space.contains(p):
        return False
    cols = space.canonical({k: np.asarray([v], dtype=object if isinstance(v, str) else None) for k, v in p.items()})
    mask = space.feasible(cols)
    if mask is not None and not bool(mask[0]):
        return False
    try:
        return space.spec_of({k: v.tolist()[0] for k, v in cols.items()}) == spec
    except (Infeasible, SpecError):
        return False


def _candidates(space: "Space", spec: NetSpec) -> Iterator[dict[str, Any]]:
    from .builtin import AnyNetX, NDSVanilla, RegNet, ResNeXt

    for cls, fn in ((RegNet, _regnet), (AnyNetX, _anynet), (ResNeXt, _resnext), (NDSVanilla, _vanilla)):
        if isinstance(space, cls):
            return fn(space, spec)  # type: ignore[arg-type]
    return _enumerate(space)


# ---------------------------------------------------------------------------------- domains
def points(dom: Domain) -> tuple | None:
    """Every value of a finite domain in order (``None`` for a continuous float)."""
    if isinstance(dom, Choice):
        return dom.options
    if isinstance(dom, Int):
        return tuple(range(dom.low, dom.top + 1, dom.step))
    if dom.step is None:
        return None
    n = round((dom.top - dom.low) / dom.step)
    return tuple(round(dom.low + k * dom.step, dom.digits) for k in range(n + 1))


def inside(dom: Domain, lo: float, hi: float, limit: int) -> list[Any]:
    """Up to ``limit`` values of ``dom`` in the open interval ``(lo, hi)``, nearest its middle first."""
    if isinstance(dom, Choice):
        vals = [v for v in dom.options if isinstance(v, (int, float)) and lo < v < hi]
    elif isinstance(dom, Float) and dom.step is None:
        top = min(hi, dom.high)
        vals = [(max(lo, dom.low) + top) / 2] if max(lo, dom.low) < top else []
    else:
        top = dom.top
        k0 = max(0, math.ceil((lo - dom.low) / dom.step))
        k1 = min(round((top - dom.low) / dom.step), math.floor((min(hi, top + dom.step) - dom.low) / dom.step))
        mid = (k0 + k1) / 2
        ks = range(k0, k1 + 1) if k1 - k0 < 2 * limit else \
            sorted({round(k0 + (k1 - k0) * (i + 0.5) / (2 * limit)) for i in range(2 * limit)})  # spread out
        vals = [round(dom.low + k * dom.step, dom.digits) if isinstance(dom, Float) else int(dom.low + k * dom.step)
                for k in ks]
    middle = (lo + hi) / 2 if math.isfinite(hi) else lo
    return sorted((v for v in vals if lo < v < hi and dom.contains(v)), key=lambda v: abs(v - middle))[:limit]


def _enumerate(space: "Space") -> Iterator[dict[str, Any]]:
    doms = [points(d) for d in space.params.values()]
    if any(d is None for d in doms) or math.prod(len(d) for d in doms) > MAX_ENUMERATED:  # type: ignore[arg-type]
        return iter(())
    return (dict(zip(space.params, vals)) for vals in itertools.product(*doms))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- the spaces
def _regnet(space: Any, spec: NetSpec) -> Iterator[dict[str, Any]]:
    """RegNet: ``depth`` is the sum of the stage depths; for each group width and bottleneck
    ratio of the space, the linear rule inverted onto the grids of ``w0``, ``wa`` and ``wm``."""
    from ..families.regnet import linear_fits

    st = spec.stages
    if len(st) != space.num_stages or any(s.block != "regnet" for s in st):
        return
    widths, mids, depths = [s.width for s in st], [s.bottleneck_width for s in st], [s.depth for s in st]

    budget = [MAX_SLOPES]
    wm_low, wm_high = getattr(space.wm, "low", -math.inf), getattr(space.wm, "high", math.inf)

    def pick(lo: float, hi: float, wa_range: Callable[[float], tuple[float, float]]) -> Iterator[tuple[float, float]]:
        budget[0] -= 1  # an interval of wm, and each value tried in it
        if budget[0] < 0:
            raise _Exhausted
        if hi < wm_low or lo > wm_high:
            return
        for wm in inside(space.wm, lo - 1e-12, hi, 100):
            budget[0] -= 1
            wa_lo, wa_hi = wa_range(wm)
            for wa in inside(space.wa, wa_lo, wa_hi, 4):
                yield wa, wm

    ratios = (1,) if space.bottleneck_ratio is None else points(space.bottleneck_ratio) or ()
    try:
        for b, g in itertools.product(ratios, points(space.group_width) or ()):
            if all(_is_stage(s, b, g) for s in st):
                for w0, wa, wm in linear_fits(widths, mids, depths, g, 1.0 / b, pick, space.w0.contains):
                    p = {"depth": sum(depths), "w0": w0, "wa": wa, "wm": wm, "group_width": g}
                    if space.bottleneck_ratio is not None:
                        p["bottleneck_ratio"] = b
                    yield p
    except _Exhausted:
        return


class _Exhausted(Exception):
    """The search tried :data:`MAX_SLOPES` intervals and values of ``wm``."""


def _is_stage(s: Any, b: Any, g: int, w: int | None = None) -> bool:
    """Whether the compatibility step at ratio ``b`` and group width ``g`` makes the drawn width
    ``w`` (default: the stage's own, a fixed point of the step) into stage ``s``."""
    width, mid, groups, ok = rules.regnet_stage_compat(s.width if w is None else w, 1.0 / b, g)
    return bool(ok) and (width, mid, mid // max(groups, 1)) == (s.width, s.bottleneck_width, s.group_width)


def _anynet(space: Any, spec: NetSpec) -> Iterator[dict[str, Any]]:
    """AnyNetX: per stage its depth and a drawn width, ratio and group width that the
    compatibility step turns into the stage's; B shares the ratio, C-E the group width too."""
    from ..families.regnet import stage_preimages

    st = spec.stages
    if len(st) != space.num_stages or any(s.block != "regnet" for s in st):
        return
    bs, gs = space.params["b" if "b" in space.params else "b1"], space.params["g" if "g" in space.params else "g1"]

    def stage(s: Any, b_options: Iterable[Any], g_options: Iterable[Any]) -> tuple[Any, Any, int] | None:
        """A drawn ``(b, g, w)`` that the compatibility step makes this stage, smallest width first."""
        for b, g in itertools.product(b_options, g_options):
            for w in (stage_preimages([s.width], [s.bottleneck_width], g, 1.0 / b) or [[]])[0]:
                if _is_stage(s, b, g, w) and space.params["w1"].contains(w):
                    return b, g, w
        return None

    shared_b = [(b,) for b in bs.options] if "b" in space.params else [None]
    shared_g = [(g,) for g in gs.options] if "g" in space.params else [None]
    for b_fix, g_fix in itertools.product(shared_b, shared_g):
        got = [stage(s, b_fix or bs.options, g_fix or gs.options) for s in st]
        if any(x is None for x in got):
            continue
        p: dict[str, Any] = {}
        for i, (s, (b, g, w)) in enumerate(zip(st, got), 1):  # type: ignore[misc]
            p.update({f"d{i}": s.depth, f"w{i}": w})
            p.update({"b": b} if "b" in space.params else {f"b{i}": b})
            p.update({"g": g} if "g" in space.params else {f"g{i}": g})
        yield p


def _resnext(space: Any, spec: NetSpec) -> Iterator[dict[str, Any]]:
    """ResNet / ResNeXt: per stage its depth, width and (ResNeXt) ratio and number of groups."""
    st = spec.stages
    if len(st) != space.num_stages or any(s.block != "bottleneck" for s in st):
        return
    p: dict[str, Any] = {}
    for i, s in enumerate(st, 1):
        p.update({f"d{i}": s.depth, f"w{i}": s.width})
        if space.grouped:
            b = s.bottleneck_ratio
            p[f"b{i}"] = int(b) if float(b).is_integer() else b
            p[f"g{i}"] = s.bottleneck_width // s.group_width if s.group_width else 1
    yield p


def _vanilla(space: Any, spec: NetSpec) -> Iterator[dict[str, Any]]:
    """NDS Vanilla: per stage its depth and width."""
    st = spec.stages
    if len(st) == space.num_stages and all(s.block == "vanilla" for s in st):
        yield {k: v for i, s in enumerate(st, 1) for k, v in ((f"d{i}", s.depth), (f"w{i}", s.width))}
