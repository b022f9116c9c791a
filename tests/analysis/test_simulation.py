"""Simulated studies with known truth (designspace.analysis.simulate): the network-unit verdict
keeps its false-positive rate near alpha while counting seeds as samples does not; the cluster
bootstrap covers the true mean difference; the empirical bootstrap finds a known best region."""
from __future__ import annotations

from designspace.analysis.commands.simulate import main
from designspace.analysis.simulate import best_region_hits, coverage, false_positive_rates


def test_false_positive_rate_is_alpha_on_network_means_not_on_seeds():
    net, runs = false_positive_rates(n_studies=300, seed=11)
    assert 0.015 <= net <= 0.08  # near alpha = 0.05 (KS is slightly conservative)
    assert runs >= 0.2  # seed repeats counted as samples: many times alpha


def test_cluster_bootstrap_interval_covers_the_true_difference():
    assert 0.92 <= coverage(n_studies=300, shift=1.0, n_boot=500, seed=12) <= 0.98


def test_empirical_bootstrap_holds_the_known_best_region():
    hit, width = best_region_hits(n_studies=40, seed=13)
    assert hit >= 0.9
    assert width < 0.6  # an informative range, not the whole domain


def test_command_prints_the_figures(capsys):
    assert main(["--studies", "20", "--networks", "10", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "false-positive rate at alpha 0.05" in out and "coverage of the 95% cluster-bootstrap" in out
