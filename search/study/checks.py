"""Checks of a study spec that need the rest of the package (the trainer's schedule, the data
set, the space's size, the baselines' complexity): run before any storage is created."""
from __future__ import annotations

import logging
from typing import Any

from .context import Context
from .objective import Rejected, at_data
from .spec import StudySpec, StudySpecError
from .urls import say

__all__ = ["check_schedule", "check_dataset", "check_space_size", "baselines_outside", "warn_baselines_outside",
           "say_baselines_off_space"]


def check_schedule(spec: StudySpec) -> None:
    """Check schedule keys against :class:`designspace.search.train.Schedule` (imports torch: run time only)."""
    import dataclasses

    from designspace.search.train import Schedule

    if dataclasses.is_dataclass(Schedule):
        names = {f.name for f in dataclasses.fields(Schedule)}
        for k, v in spec.schedule.items():
            if k not in names:
                raise StudySpecError(f"{spec.path}: schedule.{k}={v!r} is not a training schedule option "
                                     f"({sorted(names)})")
        try:  # every value, as the trainer will read it (epochs = 0, lr = -1.0, epochs = "one", ...)
            Schedule.from_dict({"seed": spec.seed, **spec.schedule})
        except (TypeError, ValueError) as e:
            raise StudySpecError(f"{spec.path}: {e}") from None


def check_dataset(spec: StudySpec) -> Any:
    """Load the study's data set now, so that a wrong name or option (exit 2) or missing files
    (a DatasetError) stop the run before any storage is created; returns the data set."""
    from designspace.search import data

    opts = dict(spec.dataset)
    name = opts.pop("name")
    try:
        return data.load(name, opts.pop("root", None), resolution=opts.pop("resolution", None), **opts)
    except data.UnknownDataset as e:
        raise StudySpecError(f"{spec.path}: dataset: {e}") from None


def check_space_size(spec: StudySpec, n_trials: int, ctx: "Context | None" = None) -> None:
    """Refuse, before any storage exists, ``n_trials`` that a finite space (with the study's
    [constraints], at the data's shape) cannot fill: a study never trains one network twice, so
    it would stop with the space exhausted after training all it holds.  The check is the
    vectorised sampler of ``designspace sample`` (fast); a regime that is merely rare is left to
    the workers."""
    if not spec.space or spec.sampler == "grid":
        return
    from designspace.spaces import Regime, RegimeUnreachable, sample_records

    need = n_trials - len(spec.enqueue)  # the baselines hold slots too
    if need < 1:
        return
    space = (ctx or Context(spec=spec, trainer=None)).space
    regime = Regime(**{k: (lo, hi) for k, (lo, hi) in spec.constraints.items()})
    try:
        sample_records(space, need, seed=spec.seed, regime=regime, dedupe=True)
    except RegimeUnreachable as e:
        if e.exhausted:
            most = e.found + len(spec.enqueue)
            raise StudySpecError(
                f"{spec.path}: n_trials={n_trials} is more than the study can hold: the space {spec.space!r}"
                f"{' with its [constraints]' if spec.constraints else ''} seems to hold only {e.found} distinct "
                f"networks (+ {len(spec.enqueue)} enqueued); set n_trials <= {most}, and use "
                "repeats = { models = ..., seeds = ... } for more trainings of each") from None


def baselines_outside(spec: StudySpec, ctx: Context) -> dict[str, str]:
    """Enqueued baselines whose network, at the data's shape, falls outside the [constraints]:
    name -> why.  They are trained as references and marked (``outside_regime``), never mixed
    into the sample: the analysis keeps every baseline out of its groups."""
    from designspace import count, zoo

    out: dict[str, str] = {}
    for name in spec.enqueue:
        try:
            cx = count(at_data(zoo[name], ctx, False))
        except Rejected as e:
            out[name] = str(e)
            continue
        bad = [f"{k}={getattr(cx, k):.4g} outside [{lo:g}, {hi:g}]" for k, (lo, hi) in spec.constraints.items()
               if not lo <= getattr(cx, k) <= hi]
        if bad:
            out[name] = ", ".join(bad)
    return out


def warn_baselines_outside(spec: StudySpec, outside: dict[str, str]) -> None:
    for name, why in outside.items():
        say(f"designspace study: {spec.path.name}: baseline {name} is outside the [constraints] ({why}): it is "
            "trained as a reference, marked outside_regime, and kept out of the sample like every baseline",
            logging.WARNING)


def say_baselines_off_space(spec: StudySpec, ctx: Context) -> list[str]:
    """Say which enqueued baselines the study's space cannot express (returned): they are trained
    in the sibling study ``NAME:references`` (:mod:`.references`), since a trial without the
    space's parameters would empty the search space of Optuna's fANOVA and mean-decrease-impurity
    importances and of the dashboard.  A baseline the space expresses carries the space's
    parameters (:func:`.fixed.as_space_point`)."""
    from designspace import zoo

    from .fixed import as_space_point

    if not spec.space or spec.sampler == "grid":
        return []
    off = []
    for name in spec.enqueue:
        try:
            if as_space_point(at_data(zoo[name], ctx, False), ctx) is None:
                off.append(name)
        except Rejected:
            continue
    if off:
        say(f"designspace study: {spec.path.name}: the space {spec.space} holds no network equal to "
            f"{', '.join(off)}: trained in the sibling study {spec.name}:references (no slot of n_trials), so that "
            "every trial of this study is a point of the space (Optuna's importances, the dashboard)")
    return off
