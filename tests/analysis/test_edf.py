"""EDFs, normalized EDFs and bootstrap bands vs hand-computed cases, numpy and scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sst

from designspace.analysis import edf as E
from designspace.analysis.data import AnalysisInputError


def test_edf_hand_computed():
    e = E.edf([0.3, 0.1, 0.2, 0.2])
    assert e.x.tolist() == [0.1, 0.2, 0.3]
    assert e.F.tolist() == [0.25, 0.75, 1.0]
    # F(e) = (1/n) sum 1[e_i < e]: strict at the sample points
    assert e(0.1) == 0.0 and e(0.2) == 0.25 and e(0.2000001) == 0.75 and e(0.3) == 0.75 and e(0.31) == 1.0
    assert e([0.0, 0.15, 1.0]).tolist() == [0.0, 0.25, 1.0]


def test_weighted_edf_hand_computed():
    e = E.edf([0.1, 0.2, 0.3], weights=[1, 1, 2])
    np.testing.assert_allclose(e.F, [0.25, 0.5, 1.0])
    assert e(0.25) == pytest.approx(0.5)


def test_edf_matches_scipy_ecdf():
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(0.3, 0.05, 257), 3)  # with ties
    ours = E.edf(x)
    ref = sst.ecdf(x).cdf
    np.testing.assert_array_equal(ours.x, ref.quantiles)
    np.testing.assert_allclose(ours.F, ref.probabilities, rtol=0, atol=1e-12)
    probe = np.linspace(0.1, 0.5, 1001)
    # scipy's ecdf is right-continuous (<=); ours is the paper's strict (<): equal just below each point
    np.testing.assert_allclose(ours(probe), ref.evaluate(np.nextafter(probe, -np.inf)), atol=1e-12)


def test_normalized_edf_hand_computed():
    errors, flops = [0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 1.0, 100.0]
    # two log bins [1, 10), [10, 100]: uniform target -> 1/2 per bin, split among its models
    ne = E.normalized_edf(errors, flops, bins=2)
    np.testing.assert_allclose(ne.F, [1 / 6, 2 / 6, 3 / 6, 1.0])
    # reference histogram 1:3 over explicit edges
    ne = E.normalized_edf(errors, flops, ref_flops=[1, 100, 100, 100], bins=[0.5, 10, 200])
    np.testing.assert_allclose(ne.F, [1 / 12, 2 / 12, 3 / 12, 1.0])


def test_normalized_edf_equals_scipy_ecdf_of_replicated_sample():
    """With weights in integer ratio, the weighted EDF is the plain ECDF of the sample with each
    model repeated in proportion to its weight; scipy computes that one."""
    rng = np.random.default_rng(1)
    flops = np.r_[np.full(6, 1e8), np.full(3, 1e9), np.full(2, 1e10)]
    errors = rng.uniform(0.2, 0.5, flops.size)
    ne = E.normalized_edf(errors, flops, bins=3)  # weights 1/18, 1/9, 1/6 -> repeats 1, 2, 3
    reps = np.r_[np.full(6, 1), np.full(3, 2), np.full(2, 3)]
    ref = sst.ecdf(np.repeat(errors, reps)).cdf
    np.testing.assert_allclose(ne.F, ref.probabilities, atol=1e-12)
    np.testing.assert_array_equal(ne.x, ref.quantiles)


@pytest.mark.parametrize("target", ["uniform", "pooled", "reference"])
def test_reweighting_equalizes_complexity_histograms(target):
    rng = np.random.default_rng(2)
    fa = np.exp(rng.normal(np.log(4e8), 0.8, 400))
    fb = np.exp(rng.normal(np.log(1.2e9), 0.6, 300))
    edges = E.complexity_bins(fa, fb, bins=6)
    ha, _ = np.histogram(fa, bins=edges)
    hb, _ = np.histogram(fb, bins=edges)
    assert not np.allclose(ha / ha.sum(), hb / hb.sum(), atol=0.05)  # they differ before
    ref = rng.uniform(np.log(fb.min()), np.log(fb.max()), 50)
    tgt = np.exp(ref) if target == "reference" else target
    wa, wb = E.matched_weights([fa, fb], bins=edges, target=tgt)
    wha, _ = np.histogram(fa, bins=edges, weights=wa)
    whb, _ = np.histogram(fb, bins=edges, weights=wb)
    np.testing.assert_allclose(wha, whb, atol=1e-12)
    assert wha.sum() == pytest.approx(1.0)
    if target == "uniform":
        shared = (ha > 0) & (hb > 0)
        np.testing.assert_allclose(wha[shared], 1 / shared.sum())


def test_normalized_edf_against_reference_matches_its_histogram():
    rng = np.random.default_rng(3)
    fa, fb = np.exp(rng.normal(0, 1, 500)), np.exp(rng.normal(0.3, 0.5, 500))
    edges = E.complexity_bins(fa, fb, bins=5)
    w = E.complexity_weights(fa, fb, bins=edges)
    hw, _ = np.histogram(fa, bins=edges, weights=w)
    hb, _ = np.histogram(fb, bins=edges)
    shared = hw > 0
    np.testing.assert_allclose(hw[shared], hb[shared] / hb[shared].sum(), atol=1e-12)


def test_simultaneous_band_contains_true_cdf():
    x = np.random.default_rng(5).uniform(0, 1, 300)
    grid = np.linspace(0.001, 0.999, 400)
    band = E.edf_band(x, grid=grid, n_boot=400, kind="simultaneous", seed=5)
    assert ((band.lo <= grid) & (grid <= band.hi)).all()  # the true CDF of U(0, 1) is F(x) = x
    half = (band.hi - band.lo).mean() / 2
    dkw = np.sqrt(np.log(2 / 0.05) / (2 * x.size))  # the DKW band half-width, for scale
    assert 0.5 * dkw < half < 1.5 * dkw


def test_simultaneous_band_coverage_near_nominal():
    rng = np.random.default_rng(8)
    grid = np.linspace(0.01, 3.0, 120)
    hits = [((b.lo <= t) & (t <= b.hi)).all()
            for b, t in ((E.edf_band(rng.exponential(1.0, 200), grid=grid, n_boot=200, kind="simultaneous", seed=rng),
                          1 - np.exp(-grid)) for _ in range(60))]
    assert 0.85 <= np.mean(hits) <= 1.0


def test_pointwise_band_coverage_near_nominal():
    rng = np.random.default_rng(6)
    hits = 0
    for _ in range(200):
        band = E.edf_band(rng.exponential(1.0, 150), grid=[1.0], n_boot=200, seed=rng)
        hits += band.lo[0] <= 1 - np.exp(-1.0) <= band.hi[0]
    assert 0.88 <= hits / 200 <= 0.99


def test_normalized_band_contains_true_normalized_cdf():
    """Three complexity levels, error depends on the level only; the spaces sample the levels
    in opposite proportions.  Normalized to uniform over levels, both estimate the known
    mixture CDF (1/3) sum_k Phi((e - mu_k) / sigma), and their bands must hold it."""
    rng = np.random.default_rng(7)
    levels, mu, sigma = np.array([1e8, 1e9, 1e10]), np.array([0.40, 0.35, 0.30]), 0.01
    grid = np.linspace(0.26, 0.44, 90)
    truth = np.mean([sst.norm.cdf(grid, m, sigma) for m in mu], axis=0)
    raw = []
    for p in ([0.7, 0.2, 0.1], [0.1, 0.2, 0.7]):
        k = rng.choice(3, 600, p=p)
        err = mu[k] + rng.normal(0, sigma, k.size)
        band = E.normalized_edf_band(err, levels[k], grid=grid, bins=3, n_boot=300, kind="simultaneous", seed=1)
        assert ((band.lo <= truth) & (truth <= band.hi)).all()
        raw.append(E.edf_band(err, grid=grid, n_boot=300, kind="simultaneous", seed=1))
    assert (raw[0].hi < truth).any() and (raw[1].lo > truth).any()  # the raw EDFs miss it


@pytest.mark.parametrize("values, words", [
    ([], ["error", "empty"]),
    ([0.3], ["error", "only 1 model"]),
    ([0.3, float("nan"), 0.2], ["error", "NaN", "row(s) 1"]),
    ([0.3, float("inf")], ["error", "non-finite"]),
])
def test_bad_errors_raise_clear_message(values, words):
    with pytest.raises(AnalysisInputError) as info:
        E.edf(values)
    assert isinstance(info.value, ValueError)
    for w in words:
        assert w in str(info.value)


def test_bad_complexity_raises_clear_message():
    with pytest.raises(AnalysisInputError, match="flops.*NaN"):
        E.normalized_edf([0.1, 0.2], [1e8, float("nan")])
    with pytest.raises(AnalysisInputError, match="flops.*positive"):
        E.normalized_edf([0.1, 0.2], [1e8, 0.0])
    with pytest.raises(AnalysisInputError, match="do not overlap"):
        E.matched_weights([np.array([1.0, 1.1]), np.array([1e6, 1.1e6])], bins=4)
