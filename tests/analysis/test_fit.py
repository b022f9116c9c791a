"""The RegNet fit and best-k trends.

The continuous (w0, wa, wm) are not identifiable from quantized widths, so the fit is checked by
what it promises: its quantized parameters regenerate the observed per-block widths exactly
(with our rule and with timm's ``generate_regnet`` as the oracle).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from timm.models.regnet import adjust_widths_groups_comp, generate_regnet, model_cfgs

from designspace.analysis.data import AnalysisInputError
from designspace.analysis.fit import best_fraction, best_k_line, block_widths, error_trend, fit_regnet, regnet_params, regnet_widths

NAMES = [f"regnet{v}_{f}" for v in "xy" for f in ("002", "004", "006", "008", "016", "032", "040", "064",
                                                   "080", "120", "160", "320")]


def timm_block_widths(w0: float, wa: float, wm: float, depth: int, group_size: int) -> list[int]:
    """timm's widths: generate_regnet, then per-stage group compatibility, expanded per block."""
    import torch

    ws, _, _ = generate_regnet(wa, w0, wm, depth, group_size)
    sw, sd = torch.unique(torch.tensor(ws), return_counts=True)
    sw, _ = adjust_widths_groups_comp(sw.tolist(), [1.0] * len(sd), [group_size] * len(sd))
    return [w for w, d in zip(sw, sd.tolist()) for _ in range(d)]


@pytest.mark.parametrize("name", NAMES)
def test_regnet_widths_equal_timm(name):
    c = model_cfgs[name]
    assert regnet_widths(c.w0, c.wa, c.wm, c.depth, group_width=c.group_size) == \
        timm_block_widths(c.w0, c.wa, c.wm, c.depth, c.group_size)


@pytest.mark.parametrize("name", NAMES)
def test_fit_recovers_zoo_regnet(name):
    from designspace import zoo

    spec = zoo[name]
    ws, g, b = block_widths(spec)
    assert ws == [st.width for st in spec.stages for _ in range(st.depth)]
    f = fit_regnet(ws, group_width=g, bottleneck_ratio=b)
    assert f.exact and f.e_fit == 0.0 and f.depth == spec.depth == len(ws)
    assert regnet_widths(f.w0, f.wa, f.wm, f.depth, group_width=g, bottleneck_ratio=b) == ws
    assert timm_block_widths(f.w0, f.wa, f.wm, f.depth, g) == ws  # timm's float32 rule agrees
    c = model_cfgs[name]
    assert (f.depth, g) == (c.depth, c.group_size) or (f.depth, min(c.group_size, ws[0])) == (c.depth, g)
    assert 1.5 <= f.wm <= 3.5 and f.wa > 0 and f.w0 % 8 == 0
    assert 0 < f.linear_e_fit < 0.5  # the unquantized line fits much worse than the quantized rule


def test_fit_depth_and_params_known_ungrouped_case():
    ws = regnet_widths(24, 36.44, 2.49, 13)
    assert ws == [24, 56, 152, 152, 152, 152, 368, 368, 368, 368, 368, 368, 368]  # worked by hand
    f = fit_regnet(ws)
    assert f.exact and f.depth == 13 and f.w0 == 24
    assert regnet_widths(f.w0, f.wa, f.wm, 13) == ws


def test_fit_non_regnet_widths_by_grid_search():
    ws = [64, 64, 32, 32]  # shrinking widths: no (w0, wa >= 0, wm > 1) reproduces them
    f = fit_regnet(ws)
    assert not f.exact and f.e_fit > 0
    const = np.mean(np.abs(np.log(64 / np.array(ws))))  # w0=64, wa=0 is in the grid
    assert f.e_fit <= const + 1e-12
    assert f.e_fit == pytest.approx(np.mean(np.abs(np.log(np.array(f.widths) / np.array(ws)))))


def test_regnet_params_from_spec_json_and_stage_columns(two_spaces):
    good = best_fraction(two_spaces[two_spaces["spec"].notna()], 0.1)
    fits = regnet_params(good)
    assert len(fits) == len(good) and fits["exact"].all() and (fits["e_fit"] == 0).all()
    assert (fits["depth"].to_numpy() == good["depth"].to_numpy()).all()
    cols = pd.DataFrame({"w1": [24], "w2": [56], "w3": [152], "w4": [368], "d1": [1], "d2": [1], "d3": [4],
                         "d4": [7], "error": [0.3]})
    row = regnet_params(cols).iloc[0]
    assert row["exact"] and row["depth"] == 13 and row["w0"] == 24


def test_regnet_params_without_widths_is_a_clear_error():
    with pytest.raises(AnalysisInputError, match="spec: need a spec JSON column or per-stage w1..wN"):
        regnet_params(pd.DataFrame({"error": [0.3], "flops": [1e8]}))
    with pytest.raises(AnalysisInputError, match="input: no models"):
        regnet_params(pd.DataFrame({"error": []}))
    with pytest.raises(AnalysisInputError, match="widths: must be positive integers"):
        fit_regnet([24, 0, 56])


def test_error_trend_and_best_k_hand_computed():
    df = pd.DataFrame({"depth": [1, 1, 1, 1, 2, 2, 2, 2], "error": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]})
    tr = error_trend(df, "depth", k=0.25)
    assert tr["depth"].tolist() == [1, 2]
    assert tr["n"].tolist() == [4, 4] and tr["best"].tolist() == [0.1, 0.5]
    np.testing.assert_allclose(tr["best_k"], [0.175, 0.575])  # numpy's linear quantile, as pandas
    np.testing.assert_allclose(tr["median"], [0.25, 0.65])
    assert best_fraction(df, 0.25)["error"].tolist() == [0.1, 0.2]
    x = np.arange(20.0)
    line = pd.DataFrame({"wa": x, "error": 0.5 - 0.01 * x})
    a, b = best_k_line(line, "wa", k=0.5)
    assert a == pytest.approx(0.5) and b == pytest.approx(-0.01)
    assert best_k_line(pd.DataFrame({"wa": [3.0] * 5, "error": np.linspace(0.1, 0.5, 5)}), "wa") is None
    with pytest.raises(AnalysisInputError, match="k: must be a fraction"):
        best_fraction(df, 0)
