"""The network as the unit: runs sharing an id averaged, diverged runs counted, the two-stage
cluster bootstrap; parameters that disagree with the spec flagged; joint importance and the
empirical best range (trends)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from designspace.analysis.consistency import drop_mismatched, spec_mismatches, values_from_spec
from designspace.analysis.network import cluster_means, network_table, run_matrix
from designspace.analysis.trends import best_k_band, best_range, binned_trend, importance


def test_network_table_averages_runs_and_counts_diverged():
    df = pd.DataFrame({"id": ["x", "y", "x", "z", "x"], "error": [20.0, 30.0, 22.0, 95.0, 24.0],
                       "flops": [1e8, 2e8, 1e8, 3e8, 1e8]})  # percent, as a whole column
    t = network_table(df).set_index("id")
    assert t.loc["x", "error"] == pytest.approx(0.22) and t.loc["x", "runs"] == 3
    assert t.loc["x", "sd"] == pytest.approx(0.02) and np.isnan(t.loc["y", "sd"])
    assert t["diverged"].to_dict() == {"x": 0, "y": 0, "z": 1}  # 95% >= 90% chance error of 10 classes
    assert network_table(df.assign(num_classes=1000))["diverged"].sum() == 0  # 95% < 99.9%
    assert network_table(df.assign(num_classes=1000), num_classes=10)["diverged"].sum() == 1  # the argument wins
    spec = '{"num_classes": 100, "stages": []}'
    assert network_table(df.assign(spec=spec))["diverged"].sum() == 0  # the spec's 100 classes: chance is 99%
    R, k = run_matrix(df, t.index.to_series())
    assert k.tolist() == [3, 1, 1] and R[0].tolist() == pytest.approx([0.20, 0.22, 0.24])


def test_cluster_means_resample_networks_then_runs():
    R = np.array([[0.1, 0.3], [0.5, np.nan]])
    k = np.array([2, 1])
    b = cluster_means(R, k, 4000, np.random.default_rng(0))
    # the mean over resamples is the mean of network means; the values are sums of the atoms
    assert b.mean() == pytest.approx((0.2 + 0.5) / 2, abs=0.01)
    atoms = [0.1, 0.2, 0.3, 0.5]  # network 1: mean of 2 runs drawn from (0.1, 0.3); network 2: 0.5
    assert set(np.round(b, 6)) <= {round((u + v) / 2, 6) for u in atoms for v in atoms}
    assert (np.round(b, 6) == 0.5).any() and (np.round(b, 6) == 0.1).any()


def test_cluster_quantile_interval_covers_a_known_best_decile():
    """Known truth: network means ~ N(0, 1 + 0.5**2 / 2) (2 runs each, run noise sd 0.5), so the
    true 10th percentile of network means is sqrt(1.125) * Phi^-1(0.1).  The 95% percentile
    interval of the two-stage bootstrap of the 10th percentile covers it about 95% of the time."""
    from scipy import stats

    truth = np.sqrt(1.125) * stats.norm.ppf(0.1)
    rng = np.random.default_rng(7)
    hits, sims = 0, 200
    for _ in range(sims):
        mu = rng.normal(0, 1, 200)
        R = mu[:, None] + rng.normal(0, 0.5, (200, 2))
        b = cluster_means(R, np.full(200, 2), 600, rng, q=0.1)
        lo, hi = np.quantile(b, [0.025, 0.975])
        hits += lo <= truth <= hi
    assert 0.89 <= hits / sims <= 0.99  # binomial sd at 0.95 and 200 sims: 0.015
    R = np.array([[0.1, 0.3], [0.5, np.nan], [0.9, np.nan]])
    lows = cluster_means(R, np.array([2, 1, 1]), 500, np.random.default_rng(0), q=0.0)
    assert set(np.round(lows, 6)) <= {0.1, 0.2, 0.3, 0.5, 0.9}  # the smallest network mean of each resample
    with pytest.raises(ValueError, match="q"):
        cluster_means(R, np.array([2, 1, 1]), 10, np.random.default_rng(0), q=1.5)


def test_spec_mismatches_are_flagged_and_replaced(two_spaces):
    df = two_spaces[two_spaces["space"] == "anynet_a"].reset_index(drop=True)
    assert spec_mismatches(df) == {}
    bad = df.copy()
    bad.loc[[0, 5], "depth"] = 1000
    assert spec_mismatches(bad)["depth"].tolist() == [0, 5]
    dropped, counts = drop_mismatched(bad)
    assert counts == {"depth": 2} and dropped["depth"].isna().sum() == 2
    fixed, _ = values_from_spec(bad)
    assert fixed["depth"].tolist() == df["depth"].astype(float).tolist()


def test_joint_fit_separates_correlated_parameters():
    """Error depends on x1 only; x2 is correlated 0.8 with x1: one at a time, both look important;
    jointly, only x1 is (its interval excludes 0, x2's holds it)."""
    rng = np.random.default_rng(0)
    n = 200
    x1 = rng.normal(0, 1, n)
    x2 = 0.8 * x1 + 0.6 * rng.normal(0, 1, n)
    tab = pd.DataFrame({"x1": x1, "x2": x2, "error": (20 + 2 * x1 + rng.normal(0, 1, n)) / 100})
    imp = importance(tab, ["x1", "x2"], n_boot=300).set_index("param")
    assert imp.loc["x1", "lo"] > 0 and imp.loc["x2", "lo"] < 0 < imp.loc["x2", "hi"]
    assert imp.loc["x2", "alone_p_holm"] < 1e-6 and imp.loc["x2", "p_holm"] > 0.01
    assert imp.loc["x1", "importance"] > 5 * imp.loc["x2", "importance"]
    import statsmodels.api as sm

    z = (tab[["x1", "x2"]] - tab[["x1", "x2"]].mean()) / tab[["x1", "x2"]].std()
    ols = sm.OLS(100 * tab["error"], sm.add_constant(z)).fit()
    assert imp["joint"].to_numpy() == pytest.approx(ols.params[["x1", "x2"]].to_numpy())
    assert imp["p"].to_numpy() == pytest.approx(ols.pvalues[["x1", "x2"]].to_numpy())


def test_best_range_binned_trend_and_best_k_band():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 10, 150)
    err = (20 + 0.3 * (x - 3) ** 2 + rng.normal(0, 0.5, 150)) / 100
    lo, hi = best_range(x, err, seed=0)
    assert lo <= 3 <= hi and hi - lo < 5
    tab = pd.DataFrame({"x": x, "error": err})
    tr = binned_trend(tab, "x", k=0.25, n_boot=200)
    assert (tr["lo"] <= tr["best_k"]).all() and (tr["best_k"] <= tr["hi"]).all() and tr["n"].sum() == 150
    band = best_k_band(tab, "x", k=0.2, n_boot=100)
    assert (band["lo"] <= band["fit"] + 1e-9).all() and (band["fit"] <= band["hi"] + 1e-9).all()


def test_normalized_edf_figure_says_no_overlap():
    from designspace.analysis.data import AnalysisInputError
    from designspace.analysis.figures import common_reference

    a = pd.DataFrame({"error": [0.2, 0.3, 0.25], "flops": [1e8, 2e8, 3e8]})
    b = pd.DataFrame({"error": [0.2, 0.3, 0.25], "flops": [1e9, 2e9, 3e9]})
    with pytest.raises(AnalysisInputError, match="no overlap"):
        common_reference({"a": a, "b": b})
    edges, ref = common_reference({"a": a, "b": b.assign(flops=[2.5e8, 5e8, 1e9])}, bins=1)
    assert edges[0] == pytest.approx(2.5e8) and edges[-1] == pytest.approx(3e8)  # the shared range only
