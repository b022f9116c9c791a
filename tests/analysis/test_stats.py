"""compare(): KS statistic and p-value equal scipy's; gap/area intervals; verdicts in the three
words; network means when rows share an id; matched complexity only where both groups reach."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sst

from designspace.analysis.data import AnalysisInputError
from designspace.analysis.stats import compare, ks_distance


def test_ks_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = np.round(rng.normal(0.30, 0.05, 80), 3), np.round(rng.normal(0.32, 0.06, 110), 3)
    ref = sst.ks_2samp(a, b)
    assert ks_distance(a, b) == pytest.approx(ref.statistic, abs=1e-12)
    c = compare(a, b, n_boot=100)
    assert c.ks == pytest.approx(ref.statistic, abs=1e-12)
    assert c.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert c.gap == pytest.approx(ref.statistic, abs=1e-12)  # unnormalized gap is the KS distance
    assert c.area == pytest.approx(b.mean() - a.mean(), abs=1e-12)  # integral of F_A - F_B


def test_clear_difference_names_the_better_space():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.30, 0.02, 100), rng.normal(0.34, 0.02, 100)
    c = compare(a, b, names=("anynet_e", "anynet_a"), n_boot=300)
    assert c.better == "anynet_e"
    assert c.verdict.startswith("anynet_e vs anynet_a: different error distributions; anynet_e has the lower errors")
    lo, hi = c.area_ci
    assert 0 < lo < 0.04 < hi


def test_same_distribution_is_not_significant():
    rng = np.random.default_rng(2)
    c = compare(rng.normal(0.3, 0.02, 60), rng.normal(0.3, 0.02, 60), n_boot=300)
    assert c.better is None
    assert c.verdict.startswith("A vs B: inconclusive") and "no difference" not in c.verdict.replace("not a finding of no difference", "")
    assert c.area_ci[0] < 0 < c.area_ci[1]


def test_normalized_comparison_removes_a_complexity_confound():
    """Same error-vs-flops law, different flops distributions: raw EDFs differ, normalized do not."""
    rng = np.random.default_rng(3)
    levels = np.array([1e8, 1e9, 1e10])

    def space(p):
        k = rng.choice(3, 300, p=p)
        return pd.DataFrame({"error": 0.4 - 0.04 * k + rng.normal(0, 0.01, k.size), "flops": levels[k]})

    a, b = space([0.6, 0.3, 0.1]), space([0.1, 0.3, 0.6])
    c = compare(a, b, names=("A", "B"), bins=3, n_boot=300)
    assert c.normalized and c.pvalue < 1e-6
    assert c.pvalue_normalized > 0.05
    assert c.area_ci[0] < 0 < c.area_ci[1]
    assert "inconclusive once models are reweighted" in c.verdict
    raw = compare(a, b, normalize=False, n_boot=100)
    assert raw.better == "B"


def test_bad_inputs_name_the_space_and_column():
    good = pd.DataFrame({"error": [0.3, 0.31, 0.32], "flops": [1e8, 2e8, 3e8]})
    with pytest.raises(AnalysisInputError, match=r"^B: flops: .*NaN"):
        compare(good, good.assign(flops=[1e8, np.nan, 2e8]), n_boot=20)
    with pytest.raises(AnalysisInputError, match=r"^A: input: no models"):
        compare(good.iloc[:0], good, n_boot=20)
    with pytest.raises(AnalysisInputError, match=r"^B: error: only 1 model"):
        compare(good, good.iloc[:1], n_boot=20)
    with pytest.raises(AnalysisInputError, match=r"^B: column 'error' is missing"):
        compare(good, good.drop(columns="error"), n_boot=20)


def test_rows_sharing_an_id_are_one_network():
    rng = np.random.default_rng(4)
    mu_a, mu_b = rng.normal(0.30, 0.02, 20), rng.normal(0.31, 0.02, 20)
    a = pd.DataFrame({"id": np.repeat([f"a{i}" for i in range(20)], 5), "error": np.repeat(mu_a, 5) + rng.normal(0, 0.01, 100)})
    b = pd.DataFrame({"id": np.repeat([f"b{i}" for i in range(20)], 5), "error": np.repeat(mu_b, 5) + rng.normal(0, 0.01, 100)})
    c = compare(a, b, n_boot=50)
    ref = sst.ks_2samp(a.groupby("id")["error"].mean(), b.groupby("id")["error"].mean())
    assert (c.n_a, c.n_b) == (20, 20) and c.pvalue == pytest.approx(ref.pvalue)


def test_matched_comparison_uses_only_the_shared_complexity_range():
    rng = np.random.default_rng(6)
    a = pd.DataFrame({"error": rng.normal(0.3, 0.02, 60), "flops": rng.uniform(1e8, 4e8, 60)})
    b = pd.DataFrame({"error": rng.normal(0.3, 0.02, 60), "flops": rng.uniform(3e8, 9e8, 60)})
    from designspace.analysis.edf import overlap_bins

    edges = overlap_bins(a["flops"], b["flops"], bins=3)
    assert edges[0] == pytest.approx(b["flops"].min()) and edges[-1] == pytest.approx(a["flops"].max())
    with pytest.raises(AnalysisInputError, match="no overlap"):
        compare(a, b.assign(flops=b["flops"] * 10), n_boot=20)
