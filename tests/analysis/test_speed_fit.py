"""The joint speed fit against statsmodels' OLS (the oracle), and its intervals on data with a
known truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from designspace.analysis.data import AnalysisInputError
from designspace.analysis.speed import speed_fit


def _frame(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    flops = np.exp(rng.uniform(np.log(2e8), np.log(1e9), n))
    acts = flops ** 0.6 * np.exp(rng.normal(0, 0.3, n))          # correlated with flops, as in a space
    params = flops ** 0.5 * np.exp(rng.normal(0, 0.5, n))
    t = np.exp(-20 + 0.3 * np.log(flops) + 0.5 * np.log(acts) + rng.normal(0, 0.05, n))
    return pd.DataFrame({"flops": flops, "acts": acts, "params": params, "train_images_per_s": 1 / t})


def test_coefficients_and_r2_equal_statsmodels_ols():
    sm = pytest.importorskip("statsmodels.api")
    df = _frame()
    fit = speed_fit(df, n_boot=50).set_index("term")
    X = sm.add_constant(np.log(df[["flops", "acts", "params"]].to_numpy()))
    ref = sm.OLS(np.log(1 / df["train_images_per_s"].to_numpy()), X).fit()
    assert np.allclose(fit.loc[["intercept", "flops", "acts", "params"], "coef"], ref.params, rtol=1e-8, atol=1e-10)
    assert fit.loc["flops", "r2"] == pytest.approx(ref.rsquared, rel=1e-8)
    alone = sm.OLS(np.log(1 / df["train_images_per_s"].to_numpy()), sm.add_constant(X[:, 3])).fit()
    assert fit.loc["alone:params", "r2"] == pytest.approx(alone.rsquared, rel=1e-8)


def test_intervals_hold_the_true_elasticities():
    fit = speed_fit(_frame(), n_boot=400).set_index("term")
    for term, truth in (("flops", 0.3), ("acts", 0.5), ("params", 0.0)):
        assert fit.loc[term, "lo"] < truth < fit.loc[term, "hi"], (term, fit.loc[term])
    assert fit.loc["flops", "r2"] > fit.loc["alone:flops", "r2"]


def test_non_positive_time_is_refused_by_name():
    df = _frame(20)
    df.loc[3, "train_images_per_s"] = 0.0
    with pytest.raises(AnalysisInputError, match="train_time"):
        speed_fit(df, n_boot=10)
