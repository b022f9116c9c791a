"""Stored parameters that do not match the network's spec.

A table's free-parameter columns may differ from the values each network was built from: the
AnyNetX spaces store the draw, which pycls' ``adjust_block_compatibility`` rounds (a width to a
multiple of its group width, a group width capped at the bottleneck width), and tables written by
designspace 0.1.0 stored raw draws (the digits AnyNetX_E study: per-stage widths before sorting).  :func:`spec_mismatches` compares what can
be read off the spec -- per-stage ``d1..d4`` (depth), ``w1..w4`` (width), ``g1..g4`` (group
width), ``b1..b4`` (bottleneck ratio) and ``depth`` (total blocks) -- with the stored values; the
report says how many rows differ, and its plots, trends and importance fit use the spec's values,
what was built (:func:`values_from_spec`); :func:`drop_mismatched` blanks them instead.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["spec_mismatches", "drop_mismatched", "values_from_spec"]

_STAGE_FIELD = {"d": "depth", "w": "width", "g": "group_width", "b": "bottleneck_ratio"}


def _spec_values(spec: object) -> dict[str, float] | None:
    if not isinstance(spec, str) or not spec.strip():
        return None
    try:
        stages = json.loads(spec)["stages"]
        out = {f"{c}{i + 1}": float(st[f]) for i, st in enumerate(stages) for c, f in _STAGE_FIELD.items() if f in st}
        out["depth"] = float(sum(st["depth"] for st in stages))
        return out
    except (ValueError, KeyError, TypeError):
        return None


def spec_mismatches(df: "pd.DataFrame") -> dict[str, np.ndarray]:
    """For each checkable column, the positions (``iloc``) of rows whose stored value differs
    from the spec's; columns without a difference are left out."""
    if "spec" not in df.columns:
        return {}
    specs = [_spec_values(s) for s in df["spec"]]
    cols = [c for c in df.columns if c == "depth" or (len(c) == 2 and c[0] in _STAGE_FIELD and c[1].isdigit())]
    out = {}
    for c in cols:
        stored = df[c].to_numpy(float, na_value=np.nan) if hasattr(df[c], "to_numpy") else np.asarray(df[c], float)
        want = np.array([s.get(c, np.nan) if s else np.nan for s in specs])
        bad = np.isfinite(stored) & np.isfinite(want) & ~np.isclose(stored, want, rtol=1e-6, atol=1e-9)
        if bad.any():
            out[c] = np.flatnonzero(bad)
    return out


def _replace(df: "pd.DataFrame", from_spec: bool) -> "tuple[pd.DataFrame, dict[str, int]]":
    bad = spec_mismatches(df)
    if not bad:
        return df, {}
    df = df.copy()
    for c, rows in bad.items():
        df[c] = df[c].astype(float)
        vals = [(_spec_values(df["spec"].iloc[i]) or {}).get(c, np.nan) if from_spec else np.nan for i in rows]
        df.iloc[rows, df.columns.get_loc(c)] = vals
    return df, {c: int(r.size) for c, r in bad.items()}


def drop_mismatched(df: "pd.DataFrame") -> "tuple[pd.DataFrame, dict[str, int]]":
    """``df`` with mismatched stored values set to NaN, and how many rows each column lost."""
    return _replace(df, False)


def values_from_spec(df: "pd.DataFrame") -> "tuple[pd.DataFrame, dict[str, int]]":
    """``df`` with mismatched stored values replaced by the spec's, and how many were replaced."""
    return _replace(df, True)
