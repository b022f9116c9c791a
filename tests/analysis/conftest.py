"""Synthetic design-space tables for the analysis tests (no training, no torch)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from designspace.analysis.fit import regnet_widths
from designspace import NetSpec, StageSpec, StemSpec


def regnet_like_spec(w0: int, wa: float, wm: float, depth: int, g: int) -> NetSpec:
    ws = regnet_widths(w0, wa, wm, depth, group_width=g)
    stages, i = [], 0
    while i < len(ws):
        n = 1
        while i + n < len(ws) and ws[i + n] == ws[i]:
            n += 1
        stages.append(StageSpec("regnet", n, ws[i], stride=2, group_width=min(g, ws[i])))
        i += n
    return NetSpec(StemSpec("simple", 32), stages, num_classes=10)


def synthetic_space(name: str, n: int, offset: float, seed: int) -> pd.DataFrame:
    """RegNet-like models: error falls with log flops, plus a space offset and noise."""
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n:
        w0 = int(rng.choice([16, 24, 32, 48, 64]))
        wa = float(np.round(rng.uniform(8, 64), 2))
        wm = float(np.round(rng.uniform(1.5, 3.0), 2))
        depth = int(rng.integers(6, 20))
        g = int(rng.choice([8, 16]))
        if len(set(regnet_widths(w0, wa, wm, depth, group_width=g))) > 4:
            continue  # RegNet design spaces keep at most 4 stages
        spec = regnet_like_spec(w0, wa, wm, depth, g)
        flops = float(sum(st.width ** 2 * st.depth for st in spec.stages) * 3000)
        err = 0.5 - 0.03 * np.log(flops / 1e8) + offset + rng.normal(0, 0.01)
        rows.append(dict(space=name, id=spec.id, error=err, flops=flops, params=flops / 50, w0=w0, wa=wa, wm=wm,
                         depth=depth, group_width=g, spec=spec.to_json()))
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def two_spaces() -> pd.DataFrame:
    a = synthetic_space("anynet_a", 60, 0.03, seed=1)
    e = synthetic_space("anynet_e", 60, 0.0, seed=2)
    named = pd.DataFrame([dict(name="regnetx_002", space=np.nan, error=0.45, flops=2.0e8, params=2.7e6,
                               w0=24, wa=36.44, wm=2.49, depth=13, group_width=8)])
    return pd.concat([a, e, named], ignore_index=True)
