"""Optuna's parameter importances and search space on a study with baselines (issue 28, point 5).

A baseline the space can express is stored with the space's parameters and distributions, so
fANOVA, mean decrease impurity and PED-ANOVA each assess every parameter with their defaults; one
it cannot express is stored without parameters, and the documented call (``params=``) assesses
every parameter.  Optuna itself is the oracle: plain ``optuna.importance`` on the stored study.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.importance import (FanovaImportanceEvaluator, MeanDecreaseImpurityImportanceEvaluator,
                               PedAnovaImportanceEvaluator, get_param_importances)
from optuna.search_space import intersection_search_space

sys.path.insert(0, os.path.dirname(__file__))
from test_study_helpers import tiny_spec  # noqa: E402

from designspace import zoo  # noqa: E402
from designspace.search.study import run_study  # noqa: E402
from designspace.spaces import get_space  # noqa: E402

SPACE = get_space("regnetx", resolution=32, num_classes=10, in_chans=1)  # the study's: grey digits at 32 px


def _evaluators() -> list[optuna.importance.BaseImportanceEvaluator]:
    return [FanovaImportanceEvaluator(seed=0), MeanDecreaseImpurityImportanceEvaluator(seed=0),
            PedAnovaImportanceEvaluator()]


def _importances(study: optuna.Study, **kw: object) -> list[dict[str, float]]:
    with warnings.catch_warnings():  # PED-ANOVA warns that so few trials may mislead
        warnings.simplefilter("ignore")
        return [get_param_importances(study, evaluator=ev, **kw) for ev in _evaluators()]  # type: ignore[arg-type]


def _without_params(study: optuna.Study, number: int) -> optuna.Study:
    """An in-memory copy of ``study`` whose trial ``number`` has no parameters (as baselines were stored)."""
    copy = optuna.create_study()
    for t in study.get_trials():
        keep = t.number != number
        copy.add_trial(optuna.trial.create_trial(state=t.state, values=t.values, user_attrs=t.user_attrs,
                                                 params=t.params if keep else {},
                                                 distributions=t.distributions if keep else {}))
    return copy


def test_a_baseline_in_the_space_carries_its_parameters_and_every_importance_assesses_them(tmp_path: Path) -> None:
    # real training on digits, one epoch: 5 drawn networks and regnetx_002, which regnetx holds
    spec = tiny_spec(tmp_path / "imp.toml", "imp", 6, enqueue=["regnetx_002"],
                     schedule={"epochs": 1, "batch_size": 512, "lr": 0.1})
    study = run_study(spec)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 6
    base = next(t for t in done if t.user_attrs.get("baseline") == "regnetx_002")
    drawn = [t for t in done if not t.user_attrs.get("baseline")]
    # the baseline's values are a point of the space, with the distributions a drawn trial has ...
    assert set(base.params) == set(SPACE.params) and base.distributions == drawn[0].distributions
    p = {k: int(v) if float(v).is_integer() else v for k, v in base.params.items()}  # w0 log-int: a float domain
    assert SPACE.contains(p)
    # ... whose network is the named model at the data's shape, the network the trial trained
    named = zoo["regnetx_002"].replace(num_classes=10, resolution=32, in_chans=1)
    assert SPACE.spec_of(p) == named and base.user_attrs["spec_id"] == named.id
    # the dashboard's and Optuna's search space is the whole space; every evaluator assesses it
    assert set(intersection_search_space(study.get_trials())) == set(SPACE.params)
    for got in _importances(study):
        assert set(got) == set(SPACE.params), got
    # stored without parameters (as before), the same trials give fANOVA and MDI nothing
    fanova, mdi, _ = _importances(_without_params(study, base.number))
    assert fanova == {} and mdi == {}


def test_a_baseline_outside_the_space_is_said_and_the_documented_call_assesses_every_parameter(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # regnety_002 has squeeze-excitation: no point of regnetx builds it
    assert SPACE.params_of(zoo["regnety_002"].replace(num_classes=10, resolution=32, in_chans=1)) is None
    spec = tiny_spec(tmp_path / "off.toml", "off", 8, enqueue=["regnety_002"])
    with caplog.at_level(logging.INFO):
        study = run_study(spec, trainer="designspace.search.study.objective:no_training")
    said = [r.getMessage() for r in caplog.records if "holds no network equal to regnety_002" in r.getMessage()]
    assert len(said) == 1 and f"params={list(SPACE.params)}" in said[0]
    base = next(t for t in study.trials if t.user_attrs.get("baseline") == "regnety_002")
    assert base.state == optuna.trial.TrialState.COMPLETE and base.params == {}
    fanova, mdi, ped = _importances(study)
    assert fanova == {} and mdi == {} and set(ped) == set(SPACE.params)  # Optuna's default needs nothing
    for got in _importances(study, params=list(SPACE.params)):  # the call the message names
        assert set(got) == set(SPACE.params), got
