"""Seed noise (robust pooled sd, per-network sd distribution), the retest distance, prospective
sensitivity (checked against scipy's KS test and statsmodels' power), and the trust sentences."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from designspace.analysis.noise import ks_statistic, retest_distance, seed_noise
from designspace.analysis.sensitivity import min_detectable_ks, min_detectable_mean
from designspace.analysis.trust import trust_sentences


def test_ks_statistic_equals_scipy():
    rng = np.random.default_rng(0)
    a, b = np.round(rng.normal(0, 1, 40), 1), np.round(rng.normal(0.3, 1, 55), 1)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_seed_noise_recovers_the_known_sd_and_one_erratic_network_does_not_make_it():
    rng = np.random.default_rng(1)
    runs = [rng.normal(m, 0.5, 3) for m in rng.uniform(10, 30, 200)]
    n = seed_noise(runs)
    assert n.pooled == pytest.approx(0.5, rel=0.1) and n.networks == 200 and n.runs == 600
    assert n.q1 < n.median < n.q3 <= n.max
    mean_of_vars = np.sqrt(np.mean(np.var(np.array(runs), axis=1, ddof=1)))
    assert mean_of_vars == pytest.approx(0.5, rel=0.1)
    wild = seed_noise(runs[:20] + [np.array([10.0, 20.0, 15.0])])
    classic = np.sqrt(np.mean([np.var(r, ddof=1) for r in runs[:20]] + [25.0]))
    assert classic > 1.0 and wild.pooled < 0.8  # the robust estimate ignores the one erratic network


def _pairs(rng, m, seed_sd, shift=0.0):
    mu = rng.normal(20, 2, m)
    return [mu_i + np.array([0.0, shift]) + rng.normal(0, seed_sd, 2) for mu_i in mu]


def test_retest_swap_p_value_equals_scipys_exact_paired_permutation_test():
    rng = np.random.default_rng(2)
    runs = _pairs(rng, 10, 1.5, shift=1.0)
    r = retest_distance(runs, n_boot=20000, seed=0)
    x, y = np.array([p[0] for p in runs]), np.array([p[1] for p in runs])
    exact = stats.permutation_test((x, y), lambda a, b: stats.ks_2samp(a, b).statistic, vectorized=False,
                                   permutation_type="samples", alternative="greater", n_resamples=np.inf)
    assert r.networks == 10 and r.d == pytest.approx(stats.ks_2samp(x, y).statistic)
    assert r.p == pytest.approx(exact.pvalue, abs=0.01)
    assert r.swap_median <= r.swap_upper <= 1
    assert retest_distance(runs[:3]) is None  # too few networks with two runs


def test_retest_reference_holds_its_level_when_seeds_are_exchangeable_and_flags_a_shifted_seed():
    """Known truth: 20 networks, seed noise only (the case where the old bootstrap interval missed its
    own estimate); then the second seed's runs shifted by 2 sd (a changed code version, say)."""
    rng = np.random.default_rng(5)
    null = [retest_distance(_pairs(rng, 20, 1.5), n_boot=200, seed=i) for i in range(300)]
    below = np.mean([r.d <= r.swap_upper for r in null])
    rejected = np.mean([r.p < 0.05 for r in null])
    assert below >= 0.93 and rejected <= 0.07
    shifted = [retest_distance(_pairs(rng, 20, 1.5, shift=3.0), n_boot=200, seed=i) for i in range(100)]
    assert np.mean([r.p < 0.05 for r in shifted]) > 0.8


@pytest.mark.parametrize("n_a, n_b", [(30, 30), (60, 100)])
def test_min_detectable_ks_has_the_stated_power_under_scipy(n_a, n_b):
    d = min_detectable_ks(n_a, n_b)
    delta = 2 * stats.norm.ppf((1 + d) / 2)  # a normal shift with true KS distance d
    rng = np.random.default_rng(3)
    p = np.array([stats.ks_2samp(rng.normal(0, 1, n_a), rng.normal(delta, 1, n_b)).pvalue for _ in range(600)])
    assert 0.74 <= np.mean(p < 0.05) <= 0.86


def test_min_detectable_ks_is_nan_where_the_test_cannot_reject_at_all():
    """3 vs 4 networks: scipy's exact KS p at complete separation is 2/35 > 0.05, so no distance is
    detectable (this used to loop forever, hanging `analyze` on two small groups)."""
    assert stats.ks_2samp([0, 1, 2], [10, 11, 12, 13]).pvalue > 0.05
    assert np.isnan(min_detectable_ks(3, 4))
    assert stats.ks_2samp([0, 1, 2, 3], [10, 11, 12, 13, 14]).pvalue < 0.05
    assert 0 < min_detectable_ks(4, 5) <= 1


def test_min_detectable_mean_matches_statsmodels_power():
    from statsmodels.stats.power import TTestIndPower

    es = TTestIndPower().solve_power(nobs1=40, alpha=0.05, power=0.8, ratio=1.0)
    assert min_detectable_mean(40, 40, 2.0, 2.0) == pytest.approx(2.0 * es, rel=0.02)


def test_trust_sentences_read_repeats_and_fidelity_retrains_from_a_study_export():
    rng = np.random.default_rng(4)
    counted = pd.DataFrame({"number": range(60), "id": [f"n{i}" for i in range(60)], "g": ["a"] * 30 + ["b"] * 30,
                            "error": rng.uniform(0.1, 0.3, 60)})
    rep = [dict(role="repeat", of=i, spec_id=f"n{i}", g="a", error=counted.error[i] + rng.normal(0, 0.01))
           for i in range(10) for _ in range(2)]
    fid = [dict(role="fidelity", of=i, g="a", error=counted.error[i] * 0.8) for i in range(10)]
    out = trust_sentences(counted, pd.DataFrame(rep + fid), by="g", n_boot=100)
    text = "\n".join(out)
    assert "a: seed noise, per-network sd median" in text and "10 networks with repeats, 30 runs" in text
    assert "a: retest distance" in text and "prospective sensitivity" in text
    assert "Kendall" in text or "tau" in text
    assert "noise floor" not in text and "models per space" not in text
