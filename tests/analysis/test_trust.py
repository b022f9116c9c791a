"""Noise floor, sample size and schedule fidelity on synthetic populations with known answers;
scipy is the oracle for the statistics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from designspace.analysis.fidelity import rank_agreement
from designspace.analysis.noise import ks_statistic, noise_floor, seed_noise
from designspace.analysis.power import required_n
from designspace.analysis.trust import trust_sentences


def test_ks_statistic_is_scipys():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.normal(size=rng.integers(3, 80)).round(1), rng.normal(0.3, size=rng.integers(3, 80)).round(1)
        assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_seed_noise_recovers_the_known_sd():
    rng = np.random.default_rng(1)
    means = rng.uniform(0.1, 0.4, 60)
    runs = [m + rng.normal(0, 0.01, 3) for m in means]  # 60 networks, 3 seeds, sd 0.01
    n = seed_noise(runs)
    assert n.models == 60 and n.runs == 180 and n.sd == pytest.approx(0.01, rel=0.15)


def test_two_draws_of_one_space_sit_inside_the_noise_floor():
    rng = np.random.default_rng(2)
    inside = 0
    for i in range(20):
        a, b = rng.normal(0.3, 0.05, 100), rng.normal(0.3, 0.05, 100)
        f = noise_floor(np.concatenate([a, b]), n_a=100, n_b=100, n_boot=300, seed=i)
        inside += ks_statistic(a, b) <= f.floor
    assert inside >= 17  # a 95% floor: about 19 of 20 identical pairs inside it


def test_a_shifted_space_is_detected_at_the_n_power_predicts():
    rng = np.random.default_rng(3)
    shift = 0.5  # in standard deviations
    a, b = rng.normal(0, 1, 3000), rng.normal(shift, 1, 3000)
    r = required_n(a, b, alpha=0.05, power=0.8, n_boot=300, seed=0)
    assert r.n is not None and 40 <= r.n <= 120
    # fresh samples of that size from the true distributions: the test detects the gap ~80% of the time
    hits = [stats.ks_2samp(rng.normal(0, 1, r.n), rng.normal(shift, 1, r.n)).pvalue < 0.05 for _ in range(400)]
    assert np.mean(hits) == pytest.approx(0.8, abs=0.08)
    assert "models per space" in r.sentence(("A", "B"))


def test_rank_agreement_is_scipys_kendall_and_spearman():
    rng = np.random.default_rng(4)
    short = rng.uniform(0.1, 0.5, 20).round(2)  # ties included
    long = short - 0.05 + rng.normal(0, 0.03, 20)
    r = rank_agreement(short, long, n_boot=300)
    assert r.tau == pytest.approx(stats.kendalltau(short, long).statistic, abs=1e-12)
    assert r.rho == pytest.approx(stats.spearmanr(short, long).statistic, abs=1e-12)
    assert r.tau_ci[0] <= r.tau <= r.tau_ci[1] and r.trustworthy
    assert not rank_agreement([0.1, 0.2, 0.3], [0.1, 0.25, 0.3], n_boot=100).trustworthy  # tau 1 on 3 models: p 0.33
    noise = rank_agreement(short, rng.permutation(long), n_boot=300)
    assert not noise.trustworthy and "does not rank models reliably" in noise.sentence()


def test_trust_sentences_read_retrains_from_a_study_export():
    rng = np.random.default_rng(5)
    n = 40
    err = rng.uniform(0.1, 0.5, n)
    counted = pd.DataFrame({"number": range(n), "error": err, "g": ["x"] * 20 + ["y"] * 20})
    rep = [{"role": "repeat", "of": i, "error": err[i] + rng.normal(0, 0.01), "g": counted.g[i]} for i in range(0, 40, 4)
           for _ in range(2)]
    fid = [{"role": "fidelity", "of": i, "error": err[i] * 0.8, "g": counted.g[i]} for i in range(0, 40, 5)]
    out = trust_sentences(counted, pd.DataFrame(rep + fid), by="g", n_boot=100)
    assert out[0].startswith("seed noise") and "10 networks, 30 runs" in out[0]
    assert any(s.startswith("x vs y: observed KS") for s in out)
    assert any("models per space" in s for s in out)
    assert any("Kendall tau 1.00" in s and "can be trusted" in s for s in out)


def test_repeats_of_two_studies_with_the_same_trial_numbers_are_different_networks():
    """Two study exports both number their trials from 0: a repeat of A's trial 3 and one of E's
    trial 3 are runs of two networks, not five runs of one."""
    from designspace.analysis.noise import seed_noise

    rng = np.random.default_rng(2)
    counted = pd.DataFrame({"number": list(range(10)) * 2, "error": rng.uniform(0.1, 0.3, 20),
                            "space": ["A"] * 10 + ["E"] * 10})
    rep, runs = [], []
    for space in ("A", "E"):
        for i in (3, 7):
            orig = float(counted[(counted.space == space) & (counted.number == i)].error.iloc[0])
            extra = [orig + rng.normal(0, 0.02) for _ in range(2)]
            rep += [{"role": "repeat", "of": i, "error": e, "space": space} for e in extra]
            runs.append([orig, *extra])
    out = trust_sentences(counted, pd.DataFrame(rep), by="space", n_boot=50)
    assert "4 networks, 12 runs" in out[0]
    assert f"{100 * seed_noise(runs).sd:.2f} points" in out[0]
