"""Comparisons on network means equal scipy's tests on the averaged table; Holm equals
statsmodels' multipletests; TOST equals statsmodels' ttost_ind (unequal variances); verdicts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from designspace.analysis import summarize
from designspace.analysis.data import AnalysisInputError
from designspace.analysis.multiplicity import holm
from designspace.analysis.verdict import tost, with_verdicts


def runs_table(rng, groups, n=25, seeds=3, sd=2.0, seed_sd=0.8):
    rows = []
    for g, mu in groups.items():
        for i in range(n):
            m = rng.normal(mu, sd)
            for _ in range(rng.integers(1, seeds + 1)):  # unbalanced repeats
                rows.append({"space": g, "id": f"{g}-{i}", "error": (m + rng.normal(0, seed_sd)) / 100})
    return pd.DataFrame(rows)


def test_tests_equal_scipy_on_the_averaged_table_and_holm_spans_all_comparisons():
    rng = np.random.default_rng(0)
    df = runs_table(rng, {"a": 20.0, "b": 21.5, "c": 20.2})
    out = summarize(df, by="space", n_boot=200)
    means = {g: 100 * d.groupby("id", sort=False)["error"].mean().to_numpy() for g, d in df.groupby("space")}
    assert [(c["a"], c["b"]) for c in out["comparisons"]] == [("a", "b"), ("a", "c"), ("b", "c")]
    ks_p, mw_p = [], []
    for c in out["comparisons"]:
        a, b = means[c["a"]], means[c["b"]]
        ks, mw = stats.ks_2samp(a, b), stats.mannwhitneyu(a, b, alternative="two-sided")
        assert c["unit"] == "network" and (c["n_a"], c["n_b"]) == (25, 25)
        assert c["ks"]["d"] == pytest.approx(ks.statistic) and c["ks"]["p"] == pytest.approx(ks.pvalue)
        assert c["mannwhitney"]["p"] == pytest.approx(mw.pvalue)
        assert c["mean_diff"]["estimate"] == pytest.approx(b.mean() - a.mean())  # b minus a, points
        lo, hi = c["mean_diff"]["ci"]
        assert lo < c["mean_diff"]["estimate"] < hi
        ks_p.append(ks.pvalue), mw_p.append(mw.pvalue)
    assert [c["ks"]["p_holm"] for c in out["comparisons"]] == pytest.approx(multipletests(ks_p, method="holm")[1])
    assert [c["mannwhitney"]["p_holm"] for c in out["comparisons"]] == pytest.approx(
        multipletests(mw_p, method="holm")[1])
    g = out["groups"]["a"]
    assert g["networks"] == 25 and g["runs"] == int((df["space"] == "a").sum())
    first_two = df[df["space"] == "a"].groupby("id", sort=False)["error"].agg(list)
    pairs = [r[:2] for r in first_two if len(r) >= 2]
    rt = g["retest_d"]  # the first and second run of each repeated network, as scipy's KS sees them
    assert rt["estimate"] == pytest.approx(stats.ks_2samp([p[0] for p in pairs], [p[1] for p in pairs]).statistic)
    assert 0 <= rt["swap_median"] <= rt["swap_upper"] <= 1 and 0 < rt["p"] <= 1
    json.dumps(out)  # plain JSON types


def _p_lists():
    rng = np.random.default_rng(7)
    yield [0.03]
    yield [0.0, 1.0, 0.5, 0.5, 0.01]  # ties and the ends
    yield [0.01, 0.04, 0.03, 0.005]  # the step-down's monotone fix matters here
    for n in (2, 5, 23, 40):
        yield list(rng.uniform(0, 1, n) ** 3)


@pytest.mark.parametrize("ps", list(_p_lists()))
def test_holm_equals_statsmodels(ps):
    assert holm(ps) == pytest.approx(multipletests(ps, method="holm")[1], abs=1e-12)


@pytest.mark.parametrize("seed, margin", [(0, 0.5), (1, 1.0), (2, 0.2), (3, 3.0)])
def test_tost_equals_statsmodels_unequal_variances(seed, margin):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(20, 1.0, 30), rng.normal(20.3, 2.0, 45)
    p_ref = ttost_ind(b, a, -margin, margin, usevar="unequal")[0]
    assert tost(a, b, margin) == pytest.approx(p_ref, rel=1e-9)


def _comp(p, tost_p):
    return {"a": "x", "b": "y", "ks": {"d": 0.1, "p": p}, "mannwhitney": {"p": p}, "tost": {"margin": 0.5, "p": tost_p}}


def test_three_verdicts_holm_adjusted():
    out = with_verdicts([_comp(0.01, 0.9), _comp(0.04, 0.01), _comp(0.5, 0.2)], alpha=0.05)
    # 0.01 * 3 = 0.03 < 0.05: different; 0.04 * 2 = 0.08: not different, TOST 0.01: equivalent
    assert [c["verdict"] for c in out] == ["different", "equivalent", "inconclusive"]
    assert out[1]["ks"]["p_holm"] == pytest.approx(0.08)


def test_identical_spaces_with_many_networks_are_equivalent_and_far_ones_different():
    rng = np.random.default_rng(5)
    same = summarize(runs_table(rng, {"a": 20.0, "b": 20.0}, n=120, sd=1.0), by="space", n_boot=100)
    assert same["comparisons"][0]["verdict"] == "equivalent"
    far = summarize(runs_table(rng, {"a": 20.0, "b": 24.0}, n=40), by="space", n_boot=100)
    assert far["comparisons"][0]["verdict"] == "different"


def test_diverged_runs_are_counted_and_kept_out_of_seed_noise():
    df = pd.DataFrame({"space": ["a"] * 8, "id": ["n1", "n1", "n2", "n2", "n3", "n3", "n4", "n4"],
                       "error": [0.20, 0.21, 0.30, 0.91, 0.25, 0.26, 0.40, 0.42]})
    g = summarize(df, by="space", n_boot=50)["groups"]["a"]
    assert (g["networks"], g["runs"], g["diverged"]) == (4, 8, 1)
    # n2's diverged run is out: sds of n1, n3, n4 only (0.71, 0.71, 1.41 points)
    assert g["seed_sd"]["max"] == pytest.approx(100 * np.std([0.40, 0.42], ddof=1))
    assert g["seed_sd"]["median"] == pytest.approx(100 * np.std([0.20, 0.21], ddof=1))
    assert summarize(df.assign(num_classes=100), by="space", n_boot=50)["groups"]["a"]["diverged"] == 0


@pytest.mark.parametrize("kw, words", [({"margin": 0}, "margin"), ({"margin": -1}, "margin"),
                                       ({"alpha": 1.5}, "alpha"), ({"n_boot": 3}, "n_boot")])
def test_bad_options_name_the_option(kw, words):
    df = runs_table(np.random.default_rng(0), {"a": 20.0, "b": 21.0}, n=5)
    with pytest.raises(AnalysisInputError, match=words):
        summarize(df, by="space", **kw)
