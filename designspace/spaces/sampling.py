"""Sampling a space into records under a complexity regime, by rejection.

The draws come from one stream of uniform numbers (``numpy.random.default_rng(seed)`` or a
scrambled Sobol sequence, ``scipy.stats.qmc.Sobol(seed)``) consumed row by row, so the same seed
gives the same records whatever the batch sizes, and the first ``k`` records of a run with
``n > k`` are the records of the run with ``n = k``.  Records are kept in draw order; duplicate
specs (same id) are dropped unless ``dedupe=False``.  A run stops after ``max_draws`` draws, or
earlier once the acceptance rate so far shows ``n`` cannot be reached within it, raising
:class:`RegimeUnreachable` with what was found.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from ..spec import HeadSpec, NetSpec, StageSpec, StemSpec, head_dict
from .base import Space, SpaceError

__all__ = ["Regime", "parse_range", "format_count", "sample_records", "SampleResult", "RegimeUnreachable",
           "spec_json", "COLUMNS_HEAD", "COLUMNS_TAIL"]

COLUMNS_HEAD = ("space", "id")
COLUMNS_TAIL = ("resolution", "flops", "params", "acts", "spec")
_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_NUM = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGTkmgt]?)\s*$")
Range = tuple[float | None, float | None]


def _number(text: str, what: str) -> float:
    m = _NUM.match(text)
    if not m:
        raise ValueError(f"{what}: {text!r} is not a number like 400M, 1.5G, 10K or 3e8")
    return float(m.group(1)) * _SUFFIX[m.group(2).upper()]


def parse_range(text: str | Iterable[Any] | None, what: str = "range") -> Range:
    """``"360M:400M"`` -> ``(360e6, 400e6)``; either end may be empty (``":10M"``, ``"1G:"``);
    a tuple/list ``(lo, hi)`` with ``None`` for an open end is accepted too."""
    if text is None:
        return (None, None)
    if isinstance(text, str):
        if text.count(":") != 1:
            raise ValueError(f"{what}: {text!r} is not a range LO:HI (either end may be empty, e.g. 360M:400M, :10M)")
        a, b = text.split(":")
        lo = _number(a, what) if a.strip() else None
        hi = _number(b, what) if b.strip() else None
    else:
        vals = list(text)
        if len(vals) != 2:
            raise ValueError(f"{what}: {vals!r} is not a pair (lo, hi)")
        lo, hi = (None if v is None else float(_number(v, what) if isinstance(v, str) else v) for v in vals)
    for v in (lo, hi):
        if v is not None and (not math.isfinite(v) or v < 0):
            raise ValueError(f"{what}: {v!r} must be a finite number >= 0")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"{what}: {text!r} is empty (low {format_count(lo)} > high {format_count(hi)})")
    return (lo, hi)


def format_count(x: float) -> str:
    """400000000 -> '400M' (3 significant digits)."""
    for s, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.3g}{s}"
    return f"{x:.3g}"


@dataclass(frozen=True)
class Regime:
    """Inclusive ranges on flops, params, acts and resolution (``None`` = open end)."""

    flops: Range = (None, None)
    params: Range = (None, None)
    acts: Range = (None, None)
    resolution: Range = (None, None)

    @classmethod
    def of(cls, **ranges: Any) -> "Regime":
        return cls(**{k: parse_range(v, k) for k, v in ranges.items() if v is not None})

    def mask(self, resolution: np.ndarray, flops: np.ndarray, params: np.ndarray, acts: np.ndarray) -> np.ndarray:
        ok = np.ones(len(flops), dtype=bool)
        for (lo, hi), x in ((self.flops, flops), (self.params, params), (self.acts, acts), (self.resolution, resolution)):
            if lo is not None:
                ok &= x >= lo
            if hi is not None:
                ok &= x <= hi
        return ok

    def admits(self, resolution: int, cx: Any) -> bool:
        """Whether one spec's resolution and :class:`~designspace.Complexity` are in the regime
        (what a study calls to prune out-of-regime trials)."""
        one = lambda v: np.asarray([v], dtype=np.int64)  # noqa: E731
        return bool(self.mask(one(resolution), one(cx.flops), one(cx.params), one(cx.acts))[0])

    def __str__(self) -> str:
        parts = []
        for name in ("flops", "params", "acts", "resolution"):
            lo, hi = getattr(self, name)
            if lo is None and hi is None:
                continue
            a = "" if lo is None else format_count(lo)
            b = "" if hi is None else format_count(hi)
            parts.append(f"{name} {a}:{b}")
        return ", ".join(parts) or "no constraint"


class RegimeUnreachable(SpaceError):
    """Too few draws land in the regime to reach ``n`` within the draw budget."""

    def __init__(self, message: str, found: int, detail: str = "", exhausted: bool = False):
        super().__init__(message)
        self.found = found
        self.detail = detail or message  # what was drawn and found, without the CLI's advice
        self.exhausted = exhausted  # a finite space (and regime) that holds only ``found`` networks


# ------------------------------------------------------------------------- spec JSON
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (StemSpec, StageSpec, HeadSpec, NetSpec)}
_NET_SCALARS = tuple(n for n in _FIELDS[NetSpec] if n not in ("stem", "stages", "head"))


def _plain(obj: Any) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in _FIELDS[type(obj)]}


def spec_json(spec: NetSpec) -> str:
    """``spec.to_json()`` without ``dataclasses.asdict``'s deep copies (5x faster; the tests
    hold the two equal on every sampled spec)."""
    d = {n: getattr(spec, n) for n in _NET_SCALARS}
    d["stem"], d["head"] = _plain(spec.stem), head_dict(spec.head)
    d["stages"] = [_plain(s) for s in spec.stages]
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------------- sampling
class _Uniforms:
    """One stream of points in the unit cube, consumed in order."""

    def __init__(self, sampler: str, dim: int, seed: int):
        if sampler == "random":
            rng = np.random.default_rng(seed)
            self.next = lambda b: rng.random((b, dim))
        elif sampler == "sobol":
            from scipy.stats import qmc

            sob = qmc.Sobol(d=dim, scramble=True, rng=seed)

            def nxt(b: int) -> np.ndarray:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # balance warnings for non-power-of-2 tails
                    return sob.random(b)

            self.next = nxt
        else:
            raise SpaceError(f"sampler={sampler!r} is not one of random, sobol")


@dataclass
class SampleResult:
    space: Space
    regime: Regime
    records: list[dict[str, Any]]
    drawn: int = 0
    outside_space: int = 0
    outside_regime: int = 0
    duplicates: int = 0
    columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def accepted(self) -> int:
        return len(self.records)

    @property
    def rate(self) -> float:
        return self.accepted / self.drawn if self.drawn else 0.0


def _columns(space: Space) -> tuple[str, ...]:
    names = [k for k in space.columns(np.full((1, space.dim), 0.5))]
    return COLUMNS_HEAD + tuple(k for k in names if k not in COLUMNS_TAIL) + COLUMNS_TAIL


def default_budget(n: int, vectorised: bool) -> int:
    """Draws allowed before giving up: numpy-evaluated spaces draw ~10^6 per second."""
    return max(2_000_000, 1000 * n) if vectorised else max(50_000, 200 * n)


def sample_records(
    space: Space,
    n: int,
    seed: int = 0,
    regime: Regime | None = None,
    sampler: str = "random",
    dedupe: bool = True,
    max_draws: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SampleResult:
    """Draw from ``space`` until ``n`` records lie in ``regime`` (see the module docstring).

    Each record: ``space``, ``id``, the space's parameters, ``resolution``, ``flops``,
    ``params``, ``acts`` and ``spec`` (canonical JSON).  ``progress(drawn, accepted)`` is called
    after every batch.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SpaceError(f"n={n!r} must be a positive integer")
    regime = regime or Regime()
    budget = default_budget(n, space.vectorised) if max_draws is None else int(max_draws)
    src = _Uniforms(sampler, space.dim, seed)
    out = SampleResult(space, regime, [], columns=_columns(space))
    seen: set[str] = set()
    cache: dict = {}
    batch = 1 << max(8, min(14, (2 * n - 1).bit_length())) if space.vectorised else 64
    tested: list[np.ndarray] = []  # flops of drawn models inside the space (for the error hint)
    while out.accepted < n and out.drawn < budget:
        b = min(batch, budget - out.drawn)
        ev = space.evaluate(src.next(b), cache)
        inside = ev.ok
        keep = inside & regime.mask(ev.resolution, ev.flops, ev.params, ev.acts)
        used = b
        for i in np.flatnonzero(keep).tolist():
            js = ev.json(i) if ev.json is not None else spec_json(ev.spec(i))
            if dedupe:
                if js in seen:
                    out.duplicates += 1
                    continue
                seen.add(js)
            rec = {"space": space.name, "id": hashlib.sha256(js.encode()).hexdigest()[:12]}
            rec.update(ev.rows[i])
            rec.update(resolution=int(ev.resolution[i]), flops=int(ev.flops[i]), params=int(ev.params[i]),
                       acts=int(ev.acts[i]), spec=js)
            out.records.append(rec)
            if out.accepted == n:
                used = i + 1
                break
        out.drawn += used
        out.outside_space += int((~inside[:used]).sum())
        out.outside_regime += int((inside[:used] & ~keep[:used]).sum())
        tested.append(ev.flops[:used][inside[:used]])
        if progress is not None:
            progress(out.drawn, out.accepted)
        batch = min(batch * 2, 1 << 14)
        if out.accepted < n and out.drawn >= min(budget, 20_000):
            projected = math.inf if out.accepted == 0 else out.drawn * n / out.accepted
            if projected > budget:
                break
    if out.accepted < n:
        detail = _unreachable_message(out, n, budget, np.concatenate(tested) if tested else None)
        raise RegimeUnreachable(f"{detail}. Widen the regime, lower --n, or raise --budget", out.accepted, detail,
                                exhausted=_exhausted(out))
    return out


def _exhausted(out: SampleResult) -> bool:
    """Whether the draws show a finite space, exhausted (not a rare regime)."""
    return bool(out.accepted) and out.duplicates >= 10 * out.accepted


def _unreachable_message(out: SampleResult, n: int, budget: int, flops: np.ndarray | None) -> str:
    rate = out.rate
    if _exhausted(out):  # a finite space, exhausted: not a rare regime
        return (f"{out.space.name} ({out.regime}) seems to hold only {out.accepted} distinct networks: of "
                f"{out.drawn:,} draws, {out.duplicates:,} in the regime repeated one of the {out.accepted} kept; "
                f"ask for at most {out.accepted}")
    need = (f"reaching {n} needs ~{format_count(n / rate)} draws, the budget is {budget:,}" if rate > 0
            else f"none was in the regime (budget {budget:,} draws)")
    seen = ""
    if flops is not None and len(flops):
        q = np.quantile(flops, [0.05, 0.5, 0.95])
        seen = (f"; the space's models drawn had flops {format_count(q[0])} (5%), {format_count(q[1])} (median), "
                f"{format_count(q[2])} (95%)")
    return (f"found {out.accepted} of {n} models in the regime ({out.regime}) after {out.drawn:,} draws from "
            f"{out.space.name} (acceptance {100 * rate:.3g}%); {need}{seen}")
