"""Opening a study: create or load it with the spec's sampler and pruner, record its setup, queue its baselines.

Every worker and every machine opens the study the same way; the first records the setup its trials share
(:func:`check_setup`), and a resume whose spec changed a setting says so.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .draws import make_pruner, make_sampler
from .spec import StudySpec
from .storage import install_scrub, open_storage
from .urls import say

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["open_study", "setup_of", "check_setup", "enqueue_baselines", "SETUP_ATTR"]


def open_study(spec: StudySpec, url: str, worker: int = 0, storage: Any = None) -> "optuna.Study":
    """Create or load the study named in ``spec`` on ``url`` (every worker and machine calls this).

    The sampler's seed mixes the spec's seed, the worker index and the number of trials already
    in the study, so a resumed or second worker does not redraw the points of the first.
    """
    import numpy as np
    import optuna

    install_scrub()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = storage or open_storage(url, spec)
    study = optuna.create_study(storage=storage, study_name=spec.name, directions=spec.directions,
                                pruner=make_pruner(spec), load_if_exists=True)
    if study.directions != [optuna.study.StudyDirection.MINIMIZE] * len(spec.objectives):
        raise ValueError(f"study {spec.name!r} in this storage has {len(study.directions)} objectives; "
                         f"the spec has {list(spec.objectives)}: rename the study or use another storage")
    n_existing = len(study.get_trials(deepcopy=False))
    seed = np.random.SeedSequence([spec.seed, worker, n_existing]).generate_state(1)[0]
    study.sampler = make_sampler(spec, int(seed))
    return study


SETUP_ATTR = "designspace:setup"


def setup_of(spec: StudySpec) -> dict[str, Any]:
    """What every trial of a study must share to be comparable: the space and its options, the
    regime, the data set (its folder excepted: machines differ) and the schedule."""
    import json

    out = {"space": spec.space, "space_options": dict(spec.space_options),
           "constraints": {k: list(v) for k, v in spec.constraints.items()},
           "dataset": {k: v for k, v in spec.dataset.items() if k != "root"}, "schedule": dict(spec.schedule)}
    return json.loads(json.dumps(out, sort_keys=True, default=str))


def check_setup(study: "optuna.Study", spec: StudySpec) -> list[str]:
    """Record the spec's setup with a new study; on resuming, warn about each setting that differs
    from the one the study started with (its trials would mix both).  Returns the differences."""
    now = setup_of(spec)
    was = study.user_attrs.get(SETUP_ATTR)
    if was is None:
        study.set_user_attr(SETUP_ATTR, now)
        return []
    diffs = []
    for table in sorted(set(now) | set(was)):
        a, b = was.get(table), now.get(table)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    diffs.append(f"{table}.{k} = {b.get(k)!r} (the study started with {a.get(k)!r})")
        elif a != b:
            diffs.append(f"{table} = {b!r} (the study started with {a!r})")
    if diffs:
        say(f"designspace study: {spec.path.name}: {'; '.join(diffs)}: the study's trials will mix both "
            "settings; give the study a new name to start afresh", logging.WARNING)
    return diffs


def enqueue_baselines(study: "optuna.Study", spec: StudySpec, outside: "dict[str, str] | None" = None,
                      skip: "list[str] | tuple[str, ...]" = ()) -> None:
    """Enqueue each ``spec.enqueue`` model once (skipped when a trial already trains it, and the
    names in ``skip``: the references a sibling study trains, :mod:`.references`); one outside
    the study's regime (``outside``: name -> why) carries ``outside_regime``."""
    have = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False)}
    for name in spec.enqueue:
        if name not in have and name not in skip:
            attrs = {"baseline": name}
            if outside and name in outside:
                attrs["outside_regime"] = outside[name]
            study.enqueue_trial({}, user_attrs=attrs)
