"""Vectorised stage tables for the spaces whose networks are a simple stem, stages of
``regnet`` blocks and a linear classifier (AnyNetX and RegNet, Radosavovic et al. 2020).

Sampling 100,000 RegNets one :func:`designspace.families.regnet` call and one
:func:`designspace.count` at a time costs ~0.2 ms each in pure Python.  Here the same arithmetic
runs over whole batches in numpy:

* :func:`regnet_tables` is the family's quantized linear rule (``regnet_block_widths`` and
  ``regnet_stages``, including timm's float32 rounding and the group-width adjustment);
* :func:`anynet_tables` is pycls' ``adjust_block_compatibility`` on per-stage values;
* :func:`table_complexity` is the ``regnet`` block counter of :mod:`designspace.complexity`.

Only the specs that pass a regime are then built (:func:`table_spec`).  The tests hold these
equal to the family and to :func:`designspace.count` on every sampled spec.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..spec import NetSpec, StageSpec, StemSpec

__all__ = ["StageTable", "regnet_tables", "anynet_tables", "table_complexity", "table_spec", "table_valid", "TableJSON"]


@dataclass
class StageTable:
    """Per-row, per-stage values (arrays of shape ``(n, stages)``) of regnet-block networks."""

    depths: np.ndarray
    widths: np.ndarray
    ratios: np.ndarray  # bottleneck ratio b (divisor)
    mids: np.ndarray  # bottleneck widths, width / b
    group_widths: np.ndarray
    se_ratio: float = 0.0
    stem_width: int = 32


def _adjust(widths: np.ndarray, b: np.ndarray, gw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cap the group width at the bottleneck width, round the bottleneck width to a multiple of
    it (pycls ``adjust_block_compatibility``; integer ratios ``b``).  Returns widths, mids, gws."""
    v = np.maximum(1, widths // b)
    g = np.minimum(gw, v)
    v = np.maximum(g, np.rint(v / g).astype(np.int64) * g)
    return v * b, v, g


def regnet_tables(w0: np.ndarray, wa: np.ndarray, wm: np.ndarray, depth: np.ndarray, gw: np.ndarray,
                  b: np.ndarray | int = 1, stages: int = 4, q: int = 8,
                  se_ratio: float = 0.0, stem_width: int = 32) -> tuple[np.ndarray, StageTable]:
    """RegNet stage tables of ``n`` parameter rows.  Returns ``(ok, table)`` where ``ok`` marks
    the rows whose quantized widths make exactly ``stages`` stages (the table's other rows are
    filler).  Mirrors :func:`designspace.families.regnet.regnet_block_widths` step by step in
    float32 (timm's arithmetic)."""
    n = len(w0)
    dmax = int(depth.max()) if n else 1
    j = np.arange(dmax, dtype=np.float32)[None, :]
    w0f = w0.astype(np.float32)[:, None]
    u = (j * wa.astype(np.float32)[:, None]) + w0f  # float32 ops: each rounded as the family's _f32
    ratio = (u / w0f).astype(np.float64)
    log_wm = np.log(wm.astype(np.float64)).astype(np.float32)[:, None]
    s = np.rint(np.log(ratio).astype(np.float32) / log_wm)
    p = np.power(wm.astype(np.float32).astype(np.float64)[:, None], s.astype(np.float64)).astype(np.float32)
    widths = (np.rint((w0f * p) / np.float32(q)).astype(np.int64)) * q
    valid = np.arange(dmax)[None, :] < depth[:, None]
    new = np.ones((n, dmax), dtype=bool)
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
    bb = np.broadcast_to(np.asarray(b, dtype=np.int64).reshape(-1, 1) if np.ndim(b) else np.int64(b), (n, stages))
    gg = np.broadcast_to(gw.astype(np.int64)[:, None], (n, stages))
    ws, mids, gws = _adjust(ws, bb, gg)
    return ok, StageTable(ds, ws, np.array(bb, dtype=np.int64), mids, gws, se_ratio, stem_width)


def anynet_tables(d: np.ndarray, w: np.ndarray, b: np.ndarray, g: np.ndarray,
                  se_ratio: float = 0.0, stem_width: int = 32) -> StageTable:
    """AnyNet stage tables from per-stage ``(n, stages)`` depth, width, ratio, group width."""
    ws, mids, gws = _adjust(w.astype(np.int64), b.astype(np.int64), g.astype(np.int64))
    return StageTable(d.astype(np.int64), ws, b.astype(np.int64), mids, gws, se_ratio, stem_width)


def _conv_hw(h: np.ndarray, k: int, stride: int) -> np.ndarray:
    p = (k - 1) // 2
    return (h + 2 * p - k) // stride + 1


def table_complexity(t: StageTable, resolution: int, num_classes: int, in_chans: int = 3
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flops, params, acts) of every row, exactly as :func:`designspace.count` counts a simple
    stem, stride-2 stages of ``regnet`` blocks and a linear head."""
    n, stages = t.widths.shape
    h = np.full(n, _conv_hw(np.int64(resolution), 3, 2), dtype=np.int64)
    c = np.full(n, t.stem_width, dtype=np.int64)
    hw = h * h
    flops = in_chans * 9 * c * hw
    params = in_chans * 9 * c + 2 * c
    acts = c * hw
    for k in range(stages):
        w, m, g, d = t.widths[:, k], t.mids[:, k], t.group_widths[:, k], t.depths[:, k]
        for first in (True, False):
            cin = c if first else w
            stride = 2 if first else 1
            h2 = _conv_hw(h, 3, stride) if first else h
            hw1, hw2 = h * h, h2 * h2
            f = cin * m * hw1 + g * 9 * m * hw2 + m * w * hw2
            p = cin * m + 2 * m + g * 9 * m + 2 * m + m * w + 2 * w
            a = m * hw1 + m * hw2 + w * hw2
            if t.se_ratio > 0:
                rd = np.maximum(1, np.rint(cin * t.se_ratio).astype(np.int64))
                f = f + 2 * m * rd
                p = p + m * rd + rd + rd * m + m
                a = a + rd + m
            if first:
                sc = (cin != w) | (stride != 1)
                f = f + np.where(sc, cin * w * hw2, 0)
                p = p + np.where(sc, cin * w + 2 * w, 0)
                a = a + np.where(sc, w * hw2, 0)
                h = h2
            times = 1 if first else d - 1
            flops, params, acts = flops + f * times, params + p * times, acts + a * times
        c = w
    flops = flops + c * num_classes
    params = params + c * num_classes + num_classes
    acts = acts + num_classes
    return flops, params, acts


def table_spec(t: StageTable, i: int, resolution: int, num_classes: int) -> NetSpec:
    """The :class:`NetSpec` of row ``i`` (what :func:`designspace.families.regnet` returns)."""
    stages = tuple(
        StageSpec(block="regnet", depth=int(d), width=int(w), stride=2, bottleneck_ratio=float(b),
                  group_width=int(g), se_ratio=float(t.se_ratio))
        for d, w, b, g in zip(t.depths[i].tolist(), t.widths[i].tolist(), t.ratios[i].tolist(),
                              t.group_widths[i].tolist())
    )
    return NetSpec(stem=StemSpec(kind="simple", width=t.stem_width), stages=stages,
                   resolution=resolution, num_classes=num_classes)



def table_valid(t: StageTable) -> np.ndarray:
    """Rows whose stages satisfy the spec's rules (integer bottleneck, group width divides it)."""
    return ((t.mids * t.ratios == t.widths) & (t.mids % t.group_widths == 0) & (t.depths >= 1)
            & (t.widths >= 1)).all(axis=1)


class TableJSON:
    """Row ``i``'s canonical spec JSON (``table_spec(t, i, ...).to_json()``) without building and
    validating a :class:`NetSpec`: the JSON text of one real spec, with sentinel values in the
    varying fields, is split into a template, and each row fills in its stage values.  The tests
    hold it equal to ``to_json()`` on every sampled row."""

    _D, _W, _B, _G = -11111117, -22222223, -3333333.5, -44444447

    def __init__(self, t: StageTable, resolution: int, num_classes: int):
        self.t = t
        stage = StageSpec(block="regnet", depth=1, width=8, stride=2, bottleneck_ratio=1.0, group_width=8,
                          se_ratio=float(t.se_ratio))
        proto = NetSpec(stem=StemSpec(kind="simple", width=t.stem_width), stages=(stage,),
                        resolution=max(resolution, 4), num_classes=num_classes)
        d = json.loads(proto.to_json())
        d["resolution"] = resolution
        st = d["stages"][0]
        st.update(depth=self._D, width=self._W, bottleneck_ratio=self._B, group_width=self._G)
        d["stages"] = ["@STAGES@"]
        self.head, self.tail = json.dumps(d, sort_keys=True, separators=(",", ":")).split('"@STAGES@"')
        text = json.dumps(st, sort_keys=True, separators=(",", ":"))
        # split the stage text at the sentinels, remembering which field follows each piece
        marks = sorted((text.index(json.dumps(v)), k, json.dumps(v)) for k, v in
                       (("d", self._D), ("w", self._W), ("b", self._B), ("g", self._G)))
        self.parts, self.fields, pos = [], [], 0
        for at, k, lit in marks:
            self.parts.append(text[pos:at])
            self.fields.append(k)
            pos = at + len(lit)
        self.parts.append(text[pos:])

    def __call__(self, i: int) -> str:
        t = self.t
        vals = {"d": t.depths[i].tolist(), "w": t.widths[i].tolist(),
                "b": [repr(float(b)) for b in t.ratios[i].tolist()], "g": t.group_widths[i].tolist()}
        rows = [vals[k] for k in self.fields]
        parts = self.parts
        stages = []
        for vals in zip(*rows):
            out = [parts[0]]
            for v, p in zip(vals, parts[1:]):
                out.append(str(v))
                out.append(p)
            stages.append("".join(out))
        return self.head + ",".join(stages) + self.tail
