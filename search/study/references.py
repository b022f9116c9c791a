"""Baselines the study's space cannot express, trained in a sibling study: ``NAME:references``.

A trial without the space's parameters empties the intersection search space that Optuna's
fANOVA and mean-decrease-impurity importances and the dashboard read, so a baseline no point of
the space builds (``regnety_002`` in ``regnetx``: squeeze-excitation) is not put in the study.
It is enqueued in a sibling study on the same storage, named ``<study>:references``, and trained
there by the same worker loop before the main trials; it holds no slot of ``n_trials`` (like the
retrains ``repeats`` asks for).  The main study's trials then all carry the space's parameters,
and ``study export`` / ``study status`` / ``analyze`` read the references with it (role
``reference``).  A study that already holds such a baseline (written before this) keeps it.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .spec import StudySpec

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["SUFFIX", "references_spec", "to_reference", "train_references", "load_references"]

SUFFIX = ":references"


def references_spec(spec: StudySpec, names: "list[str] | tuple[str, ...]") -> StudySpec:
    """The sibling study's spec: the main one's setup (space and geometry, data, schedule), its
    name with :data:`SUFFIX`, only ``names`` enqueued, random sampling, no retrains."""
    return dataclasses.replace(spec, name=spec.name + SUFFIX, enqueue=tuple(names), n_trials=max(1, len(names)),
                               sampler="random", repeats=None, fidelity=None)


def to_reference(study: "optuna.Study", off_space: list[str]) -> list[str]:
    """The off-space baselines to train as references: those the main study does not already
    hold (a study begun before references existed keeps its baseline trials)."""
    have = {t.user_attrs.get("baseline") for t in study.get_trials(deepcopy=False)}
    return [name for name in off_space if name not in have]


def train_references(spec: StudySpec, url: str, names: list[str], outside: dict[str, str], *,
                     trainer: str | None, device: str | None, dataset: Any) -> "optuna.Study":
    """Open (or resume) the sibling study and train each of ``names`` in it, in this process;
    another worker or machine doing the same claims what is left.  Ctrl-C raises
    :class:`KeyboardInterrupt` with each unfinished reference re-queued for the next run."""
    from .opening import check_setup, enqueue_baselines, open_study
    from .worker import work

    ref = references_spec(spec, names)
    study = open_study(ref, url)
    check_setup(study, ref)
    enqueue_baselines(study, ref, outside)
    if work(ref, url, len(names), 0, trainer, device, study=study, dataset=dataset).interrupted:
        raise KeyboardInterrupt
    return study


def load_references(study: "optuna.Study") -> "optuna.Study | None":
    """The sibling study of ``study`` on its storage (no new connection), or ``None`` where it has none."""
    import optuna

    from .storage import storage_of

    storage = storage_of(study)
    name = study.study_name + SUFFIX
    if not any(s.study_name == name for s in storage.get_all_studies()):
        return None
    return optuna.load_study(study_name=name, storage=storage)
