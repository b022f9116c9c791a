"""Optuna's parameter importances and search space on a study with baselines (issue 28, point 5).

A baseline the space can express is stored with the space's parameters and distributions, so
fANOVA, mean decrease impurity and PED-ANOVA each assess every parameter with their defaults; one
it cannot express is trained in the sibling study ``NAME:references``, so the same default calls
assess every parameter there too.  Optuna itself is the oracle: plain ``optuna.importance`` on
the stored study.
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
from designspace.analysis.data import from_study_export  # noqa: E402
from designspace.search.study import export_frame, load_study, run_study  # noqa: E402
from designspace.search.study.export import status_text  # noqa: E402
from designspace.search.study.references import load_references  # noqa: E402
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


def test_a_baseline_in_the_space_carries_its_parameters_and_every_importance_assesses_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # real training on digits, one epoch: 5 drawn networks and regnetx_002, which regnetx holds
    spec = tiny_spec(tmp_path / "imp.toml", "imp", 6, enqueue=["regnetx_002"],
                     schedule={"epochs": 1, "batch_size": 512, "lr": 0.1})
    monkeypatch.setenv("DESIGNSPACE_THREADS", "1")
    study = run_study(spec)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 6
    # each CPU run keeps its thread count (its digits depend on it); the export shows it
    assert {t.user_attrs.get("threads") for t in done} == {1}
    assert set(export_frame(spec).query("state == 'COMPLETE'")["threads"]) == {1}
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


def test_a_baseline_outside_the_space_is_trained_beside_the_study_and_every_importance_assesses_every_parameter(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # regnety_002 has squeeze-excitation: no point of regnetx builds it
    assert SPACE.params_of(zoo["regnety_002"].replace(num_classes=10, resolution=32, in_chans=1)) is None
    path = tiny_spec(tmp_path / "off.toml", "off", 8, enqueue=["regnety_002", "regnetx_002"])
    with caplog.at_level(logging.INFO):
        study = run_study(path, trainer="designspace.search.study.objective:no_training")
    said = [r.getMessage() for r in caplog.records if "holds no network equal to regnety_002" in r.getMessage()]
    assert len(said) == 1 and "off:references" in said[0]
    # the study: 8 trials, every one a point of the space (regnetx_002 is one), none regnety_002
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(study.trials) == 8 and len(done) == 8
    assert all(set(t.params) == set(SPACE.params) for t in done)
    assert {t.user_attrs.get("baseline") for t in done} == {None, "regnetx_002"}
    for got in _importances(study):  # Optuna's defaults, no params= needed
        assert set(got) == set(SPACE.params), got
    assert set(intersection_search_space(study.get_trials())) == set(SPACE.params)
    # the reference: its sibling study on the same storage, trained once, at the study's shape
    storage = f"sqlite:///{tmp_path / 'off.db'}"
    ref = optuna.load_study(study_name="off:references", storage=storage)
    (t,) = ref.get_trials()
    named = zoo["regnety_002"].replace(num_classes=10, resolution=32, in_chans=1)
    assert t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs["baseline"] == "regnety_002"
    assert t.user_attrs["spec_id"] == named.id and t.params == {}
    # a resume trains nothing again; the export reads the reference with the study (role reference)
    run_study(path, trainer="designspace.search.study.objective:no_training")
    assert len(optuna.load_study(study_name="off:references", storage=storage).trials) == 1
    assert len(optuna.load_study(study_name="off", storage=storage).trials) == 8
    df = export_frame(path)
    assert sorted(df["role"]) == ["counted"] * 8 + ["reference"]
    assert df.loc[df["role"] == "reference", "baseline"].tolist() == ["regnety_002"]
    rows, dropped = from_study_export(df)  # what analyze compares: the reference is a named row, out of the groups
    assert dropped == 0 and sorted(rows["name"].dropna()) == ["regnetx_002", "regnety_002"]
    main, spec, url = load_study(path)
    text = status_text(main, spec, spec.n_trials, url, load_references(main))
    assert "8/8 trials finished" in text
    assert f"references (study off:references, no slot of n_trials): regnety_002 error {t.values[0]:.4f}" in text


def test_a_study_that_already_holds_an_off_space_baseline_keeps_it(tmp_path: Path) -> None:
    # a study begun before references existed: regnety_002 is a trial of the study itself
    path = tiny_spec(tmp_path / "old.toml", "old", 4, enqueue=["regnety_002"])
    storage = f"sqlite:///{tmp_path / 'old.db'}"
    study = optuna.create_study(study_name="old", storage=storage)
    study.enqueue_trial({}, user_attrs={"baseline": "regnety_002"})
    run_study(path, trainer="designspace.search.study.objective:no_training")
    names = [t.user_attrs.get("baseline") for t in optuna.load_study(study_name="old", storage=storage).trials]
    assert names.count("regnety_002") == 1 and len(names) == 4
    assert "old:references" not in optuna.get_all_study_names(storage)
