"""Optuna studies over design spaces: declarative specs, many workers, nothing lost.

``run_study("studies/regnetx_digits.toml")`` runs a study spec (:mod:`.spec`, checked whole by
:mod:`.spec` and :mod:`.checks` before any file exists) on its storage (:mod:`.storage`, the one
module that talks to Optuna's storages: SQLite next to the spec by default, any Optuna URL, a
journal file, or a gRPC proxy) with ``workers`` local processes (:mod:`.parent`), each running the
worker loop (:mod:`.worker`: claim -> train -> report) over what to train next (:mod:`.draws`,
:mod:`.extras`) and the study's slots (:mod:`.view`).  The same call on several machines with one
PostgreSQL URL forms one study.  Each trial is one network drawn from the design space and
trained on a short schedule (:mod:`.objective`); :func:`export_frame` reads the study back as one
row per trial (:mod:`.export`).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .spec import StudySpec, StudySpecError, load_spec
from .urls import is_url, mask, resolve

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    import pandas as pd

log = logging.getLogger(__name__)

__all__ = ["run_study", "export_frame", "load_study", "NoStudyError", "StudySpec", "StudySpecError", "load_spec", "mask"]


def run_study(spec_path: str | Path, n_trials: int | None = None, storage: str | None = None,
              workers: int = 1, *, trainer: str | None = None, device: str | None = None,
              devices: list[str] | None = None,
              progress: "Callable[[int, int], None] | None" = None,
              storage_retry_s: int | None = None) -> "optuna.Study":
    """Run (or resume) the study in ``spec_path`` until it holds ``n_trials`` finished trials.

    ``n_trials`` defaults to the spec's; ``storage`` is an Optuna URL, ``grpc://HOST:PORT`` or a
    journal file path (default: ``<spec>.db`` next to the spec); ``workers`` local processes share
    the study, each keeping its data set and device state between trials; ``devices`` pins worker
    ``i`` to ``devices[i % len(devices)]`` (several workers may share a GPU).  ``trainer``
    (``"module:function"``) replaces the real trainer, for benchmarks and tests.
    ``progress(finished, n_trials)`` is called as trials finish.  ``storage_retry_s`` overrides
    the spec's wait for an unreachable storage.  Returns the study.  Raises
    :class:`StudySpecError` (or another :class:`designspace.InputError`) for a bad spec or
    storage before any file is created.
    """
    from designspace.search.cores import assign_devices

    from .checks import (baselines_outside, check_dataset, check_schedule, check_space_size, say_baselines_off_space,
                         warn_baselines_outside)
    from .context import Context
    from .opening import check_setup, enqueue_baselines, open_study
    from .references import to_reference, train_references
    from .storage_input import check_storage

    spec = load_spec(spec_path)
    if storage_retry_s is not None:
        spec = dataclasses.replace(spec, storage_retry_s=int(storage_retry_s))
    dataset = None
    if trainer is None:
        check_schedule(spec)
        dataset = check_dataset(spec)
    n = spec.n_trials if n_trials is None else int(n_trials)
    if n < 1:
        raise StudySpecError(f"n_trials={n_trials!r} must be >= 1")
    if workers < 1:
        raise ValueError(f"workers={workers!r} must be >= 1")
    ctx = Context(spec=spec, trainer=None, _dataset=dataset)
    check_space_size(spec, n, ctx)
    url = resolve(spec, storage)
    check_storage(url)
    device_of = assign_devices(workers, list(devices or ([device] if device else [])))
    outside = baselines_outside(spec, ctx)
    warn_baselines_outside(spec, outside)
    off_space = say_baselines_off_space(spec, ctx)
    log.info("%s", mask(f"designspace study: {spec.name}: {n} trials, {workers} worker(s), storage {url}"))
    study = open_study(spec, url)
    check_setup(study, spec)  # a resume whose spec changed a setting says so
    refs = to_reference(study, off_space) if off_space else []  # reads the trials only where needed
    enqueue_baselines(study, spec, outside, skip=refs)
    if refs:  # trained first, in a sibling study, so that every trial of this one is a point of the space
        train_references(spec, url, refs, outside, trainer=trainer, device=device_of[0], dataset=dataset)
    if progress is not None:
        progress(_finished_count(study), n)
    if workers == 1:
        return _run_here(spec, url, n, trainer, device_of[0], study, dataset, progress)
    return _run_parent(spec, url, n, workers, trainer, device_of, study, progress)


def _run_here(spec: StudySpec, url: str, n: int, trainer: str | None, device: str | None, study: "optuna.Study",
              dataset: object, progress: "Callable[[int, int], None] | None") -> "optuna.Study":
    """One worker, in this process."""
    from .worker import _set_threads, work

    _set_threads(1)
    on_progress = (lambda done: progress(done, n)) if progress is not None else None  # type: ignore[misc]
    if work(spec, url, n, 0, trainer, device, study=study, on_progress=on_progress, dataset=dataset).interrupted:
        raise KeyboardInterrupt
    return study


def _run_parent(spec: StudySpec, url: str, n: int, workers: int, trainer: str | None, device_of: list,
                study: "optuna.Study", progress: "Callable[[int, int], None] | None") -> "optuna.Study":
    """``workers`` processes; one line for a failure that lost something, nothing when the study is whole."""
    from .parent import EXIT_STORAGE, run_workers
    from .storage import Outage, StorageUnreachable

    poll = (lambda: progress(_finished_count(study), n)) if progress is not None else None
    interrupted, failures = run_workers(spec, url, n, workers, trainer, device_of, poll)
    if interrupted:
        raise KeyboardInterrupt
    if failures and not _finished(study, n):
        if EXIT_STORAGE in failures:
            raise StorageUnreachable(Outage(url, spec.storage_retry_s)._final("the workers gave up"))
        raise RuntimeError(f"{len(failures)} worker process(es) failed (exit codes {failures}); "
                           "see their messages above; re-running the command resumes the study")
    return study


def _finished_count(study: "optuna.Study") -> int:
    """Counted trials that have finished (what a progress bar shows)."""
    from .view import slots

    return sum(1 for t in slots(study.get_trials(deepcopy=False)).values() if t.state.is_finished())


def _finished(study: "optuna.Study", n: int) -> bool:
    """Whether the study holds its ``n`` counted trials (then a failed worker lost nothing)."""
    from .view import slots

    held = slots(study.get_trials(deepcopy=False))
    return len(held) >= n and all(t.state.is_finished() for t in held.values())


class NoStudyError(FileNotFoundError):
    """The spec's study has not been created: no storage, or no study of that name in it."""


def load_study(spec_path: str | Path, storage: str | None = None) -> tuple["optuna.Study", StudySpec, str]:
    """The existing study of a spec (no trial is created): ``(study, spec, storage url)``."""
    import optuna

    from .storage import open_storage

    spec = load_spec(spec_path)
    url = resolve(spec, storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists() or (
            not is_url(url) and not Path(url).exists()):
        raise NoStudyError(f"no study storage at {mask(url)}: run `designspace study run {spec_path}` first")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(url, spec))
    except KeyError:
        raise NoStudyError(f"no study named {spec.name!r} in {mask(url)}: run `designspace study run "
                           f"{spec_path}` first") from None
    return study, spec, url


def export_frame(spec_path: str | Path, storage: str | None = None) -> "pd.DataFrame":
    """One row per trial of the spec's study (see :func:`designspace.search.study.export.trials_frame`)."""
    from .export import trials_frame
    from .references import load_references

    study, spec, _ = load_study(spec_path, storage)
    return trials_frame(study, spec, load_references(study))
