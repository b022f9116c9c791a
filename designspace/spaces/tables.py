"""Vectorised stage tables for the spaces whose networks are a stem, stages of one block kind and
a linear classifier (AnyNetX, RegNet: ``regnet`` blocks; NDS Vanilla: ``vanilla`` blocks).

Sampling 100,000 RegNets one :func:`designspace.families.regnet` call and one
:func:`designspace.count` at a time costs ~0.2 ms each in pure Python.  Here the same rules run
over whole batches in numpy, and nothing is a second copy:

* :func:`regnet_tables` applies :func:`designspace.rules.regnet_block_widths_table` and
  :func:`designspace.rules.regnet_stage_compat` (the family's own rules, on arrays);
* :func:`anynet_tables` applies the same compatibility rule to per-stage values;
* :func:`table_complexity` runs the block kind's own counter (:mod:`designspace.kinds`) on
  a :class:`~designspace.counter.Counter` whose widths are arrays.

Only the specs that pass a regime are then built (:func:`table_spec`).  The tests hold these
equal to the family and to :func:`designspace.count` on every sampled spec.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import rules
from ..complexity import count_head, count_stage
from ..counter import Counter
from ..kinds import STAGE_DEFAULTS, block_kind, stem_kind
from ..spec import NetSpec, StageSpec, StemSpec

__all__ = ["StageTable", "regnet_tables", "anynet_tables", "table_complexity", "table_spec", "table_valid", "TableJSON"]


@dataclass
class StageTable:
    """Per-row, per-stage values (arrays of shape ``(n, stages)``) of one-block-kind networks."""

    depths: np.ndarray
    widths: np.ndarray
    ratios: np.ndarray  # bottleneck ratio b (divisor): widths / mids
    mids: np.ndarray  # bottleneck widths
    group_widths: np.ndarray
    se_ratio: float = 0.0
    stem_width: int = 32
    block: str = "regnet"
    stem_kind: str = "simple"
    strides: tuple[int, ...] = field(default_factory=tuple)  # per stage (default: all 2)
    ok: np.ndarray | None = None  # rows the compatibility rule accepts

    def __post_init__(self) -> None:
        if not self.strides:
            self.strides = (2,) * self.widths.shape[1]

    @property
    def stem(self) -> StemSpec:
        return StemSpec(kind=self.stem_kind, width=self.stem_width)

    @property
    def stride(self) -> int:
        s = self.stem.stride
        for x in self.strides:
            s *= x
        return s


class _StageView:
    """Stage ``k`` of a table, shaped like a :class:`StageSpec` whose numbers are arrays."""

    def __init__(self, t: StageTable, k: int):
        self.block = t.block
        self.depth = t.depths[:, k]
        self.width = t.widths[:, k]
        self.stride = t.strides[k]
        self.bottleneck_ratio = t.ratios[:, k]
        self.bottleneck_width = t.mids[:, k]
        self.group_width = t.group_widths[:, k]
        gw = t.group_widths[:, k]
        self.groups = np.where(gw > 0, t.mids[:, k] // np.maximum(gw, 1), 1)
        self.se_ratio = t.se_ratio
        for name in ("kernel_size", "expand_ratio", "shortcut", "anti_alias"):
            setattr(self, name, STAGE_DEFAULTS[name])


def _compat(widths: np.ndarray, b: np.ndarray, gw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`designspace.rules.regnet_stage_compat` on ``(n, stages)`` arrays of widths, divisors
    ``b`` and group widths: ``(widths, mids, group widths, ok rows)``."""
    width, mid, groups, ok = rules.regnet_stage_compat(widths, 1.0 / b.astype(np.float64), gw)
    gws = mid // np.maximum(groups, 1)
    return width.astype(np.int64), mid.astype(np.int64), gws.astype(np.int64), ok.all(axis=1)


def regnet_tables(w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, depth: np.ndarray, gw: np.ndarray,
                  b: np.ndarray | int = 1, stages: int = 4, q: int = 8,
                  se_ratio: float = 0.0, stem_width: int = 32) -> tuple[np.ndarray, StageTable]:
    """RegNet stage tables of ``n`` parameter rows.  Returns ``(ok, table)`` where ``ok`` marks
    the rows whose quantized widths make exactly ``stages`` stages and which timm's compatibility
    rule accepts (the table's other rows are filler)."""
    n = len(w0)
    widths, valid = rules.regnet_block_widths_table(w0, wa, wm, depth, q)
    new = np.ones(widths.shape, dtype=bool)
    new[:, 1:] = widths[:, 1:] != widths[:, :-1]
    new &= valid
    ok = new.sum(axis=1) == stages
    # per-stage depth and width of the rows with the right number of stages (filler elsewhere)
    ws = np.full((n, stages), q, dtype=np.int64)
    ds = np.ones((n, stages), dtype=np.int64)
    rows = np.flatnonzero(ok)
    idx = np.cumsum(new[rows], axis=1) - 1
    vr, wr = valid[rows], widths[rows]
    for k in range(stages):
        sel = vr & (idx == k)
        ds[rows, k] = sel.sum(axis=1)
        ws[rows, k] = np.where(sel, wr, 0).max(axis=1, initial=0)
    bb = np.broadcast_to(np.asarray(b, dtype=np.float64).reshape(-1, 1) if np.ndim(b) else np.float64(b), (n, stages))
    gg = np.broadcast_to(np.asarray(gw, dtype=np.int64)[:, None], (n, stages))
    ws, mids, gws, compat = _compat(ws, bb, gg)
    ok &= compat & (ws.max(axis=1) < rules.MAX_WIDTH)
    t = StageTable(ds, ws, ws / np.maximum(mids, 1), mids, gws, se_ratio, stem_width, ok=compat)
    return ok, t


def anynet_tables(d: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray,
                  se_ratio: float = 0.0, stem_width: int = 32, block: str = "regnet", stem: str = "simple",
                  strides: tuple[int, ...] = ()) -> StageTable:
    """Stage tables from per-stage ``(n, stages)`` depth, width, ratio (divisor) and group width
    (pycls' ``adjust_block_compatibility`` through :func:`designspace.rules.regnet_stage_compat`)."""
    kind = block_kind(block)
    d, w = d.astype(np.int64), w.astype(np.int64)
    if "bottleneck_ratio" in kind.reads:
        ws, mids, gws, ok = _compat(w, b.astype(np.float64), g.astype(np.int64))
        ratios = ws / np.maximum(mids, 1)
    else:  # a kind with no bottleneck (vanilla): the widths as drawn
        ws, mids, gws, ok = w, w, np.zeros_like(w), np.ones(len(w), dtype=bool)
        ratios = np.ones(w.shape, dtype=np.float64)
    return StageTable(d, ws, ratios, mids, gws, se_ratio, stem_width, block=block, stem_kind=stem,
                      strides=tuple(strides), ok=ok)


def table_complexity(t: StageTable, resolution: int, num_classes: int, in_chans: int = 3
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flops, params, acts) of every row, counted by the stem's and the block's own kinds."""
    n = t.widths.shape[0]
    cx = Counter(in_chans, resolution, resolution)
    stem_kind(t.stem_kind).count(cx, t.stem)
    for k in range(t.widths.shape[1]):
        count_stage(cx, _StageView(t, k))
    count_head(cx, 0, num_classes)
    full = lambda v: np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)).copy()  # noqa: E731
    return full(cx.flops), full(cx.params), full(cx.acts)


def _stage_kwargs(t: StageTable, i: int) -> list[dict[str, Any]]:
    kind = block_kind(t.block)
    out = []
    for k, (d, w, b, g) in enumerate(zip(t.depths[i].tolist(), t.widths[i].tolist(), t.ratios[i].tolist(),
                                         t.group_widths[i].tolist())):
        kw: dict[str, Any] = dict(block=t.block, depth=int(d), width=int(w), stride=t.strides[k])
        if "bottleneck_ratio" in kind.reads:
            kw.update(bottleneck_ratio=float(b), group_width=int(g))
        if "se_ratio" in kind.reads:
            kw["se_ratio"] = float(t.se_ratio)
        out.append(kw)
    return out


def table_spec(t: StageTable, i: int, resolution: int, num_classes: int, in_chans: int = 3) -> NetSpec:
    """The :class:`NetSpec` of row ``i`` (what :func:`designspace.families.regnet` returns)."""
    stages = tuple(StageSpec(**kw) for kw in _stage_kwargs(t, i))
    return NetSpec(stem=t.stem, stages=stages, resolution=resolution, num_classes=num_classes, in_chans=in_chans)


def table_valid(t: StageTable) -> np.ndarray:
    """Rows whose stages satisfy the spec's rules (the compatibility rule accepted them, the
    group width divides the bottleneck width, positive depths and widths)."""
    ok = t.ok if t.ok is not None else np.ones(t.widths.shape[0], dtype=bool)
    gw = t.group_widths
    divides = np.where(gw > 0, t.mids % np.maximum(gw, 1) == 0, True)
    return ok & (divides & (t.depths >= 1) & (t.widths >= 1) & (t.mids >= 1)).all(axis=1)


class TableJSON:
    """Row ``i``'s canonical spec JSON (``table_spec(t, i, ...).to_json()``) without building and
    validating a :class:`NetSpec`: the JSON text of one real spec, with sentinel values in the
    varying fields, is split into a template, and each row fills in its stage values.  The tests
    hold it equal to ``to_json()`` on every sampled row."""

    _D, _W, _B, _G = -11111117, -22222223, -3333333.5, -44444447

    def __init__(self, t: StageTable, resolution: int, num_classes: int, in_chans: int = 3):
        self.t = t
        kind = block_kind(t.block)
        self.has_b = "bottleneck_ratio" in kind.reads
        extra: dict[str, Any] = {}
        if self.has_b:
            extra.update(bottleneck_ratio=1.0, group_width=8)
        if "se_ratio" in kind.reads:
            extra["se_ratio"] = float(t.se_ratio)
        protos = [StageSpec(block=t.block, depth=1, width=8, stride=s, **extra) for s in t.strides]
        proto = NetSpec(stem=t.stem, stages=tuple(protos), resolution=max(resolution, t.stride), num_classes=num_classes,
                        in_chans=in_chans)
        d = json.loads(proto.to_json())
        d["resolution"] = resolution
        stage_texts = []
        for st in d["stages"]:
            st.update(depth=self._D, width=self._W)
            if self.has_b:
                st.update(bottleneck_ratio=self._B, group_width=self._G)
            stage_texts.append(json.dumps(st, sort_keys=True, separators=(",", ":")))
        d["stages"] = ["@STAGES@"]
        self.head, self.tail = json.dumps(d, sort_keys=True, separators=(",", ":")).split('"@STAGES@"')
        # split each stage's text at the sentinels, remembering which field follows each piece
        keys = (("d", self._D), ("w", self._W)) + ((("b", self._B), ("g", self._G)) if self.has_b else ())
        self.templates = []
        for text in stage_texts:
            marks = sorted((text.index(json.dumps(v)), k, json.dumps(v)) for k, v in keys)
            parts, fields, pos = [], [], 0
            for at, k, lit in marks:
                parts.append(text[pos:at])
                fields.append(k)
                pos = at + len(lit)
            parts.append(text[pos:])
            self.templates.append((parts, fields))

    def __call__(self, i: int) -> str:
        t = self.t
        vals = {"d": t.depths[i].tolist(), "w": t.widths[i].tolist(),
                "b": [repr(float(b)) for b in t.ratios[i].tolist()], "g": t.group_widths[i].tolist()}
        stages = []
        for k, (parts, fields) in enumerate(self.templates):
            out = [parts[0]]
            for f, p in zip(fields, parts[1:]):
                out.append(str(vals[f][k]))
                out.append(p)
            stages.append("".join(out))
        return self.head + ",".join(stages) + self.tail
