"""Optuna studies over design spaces: declarative specs, many workers, nothing lost.

``run_study("studies/regnetx_digits.toml")`` runs a study spec (:mod:`.spec`) on its storage
(:mod:`.storage`: SQLite next to the spec by default, any Optuna URL, or a journal file) with
``workers`` local processes (:mod:`.worker`); the same call on several machines with one
PostgreSQL URL forms one study.  Each trial is one network drawn from the design space and
trained on a short schedule (:mod:`.objective`); :func:`export_frame` reads the study back as one
row per trial (:mod:`.export`).
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import multiprocessing.connection
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .spec import StudySpec, StudySpecError, check_dataset, check_schedule, check_space_size, load_spec
from .storage import is_url, mask, resolve

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    import pandas as pd

log = logging.getLogger(__name__)

__all__ = ["run_study", "export_frame", "load_study", "StudySpec", "StudySpecError", "load_spec", "mask"]


def run_study(spec_path: str | Path, n_trials: int | None = None, storage: str | None = None,
              workers: int = 1, *, trainer: str | None = None, device: str | None = None,
              devices: list[str] | None = None,
              progress: "Callable[[int, int], None] | None" = None,
              storage_retry_s: int | None = None) -> "optuna.Study":
    """Run (or resume) the study in ``spec_path`` until it holds ``n_trials`` finished trials.

    ``n_trials`` defaults to the spec's; ``storage`` is an Optuna URL or a journal file path
    (default: ``<spec>.db`` next to the spec); ``workers`` local processes share the study, each
    keeping its data set and device state between trials; ``devices`` pins worker ``i`` to
    ``devices[i % len(devices)]`` (several workers may share a GPU).  ``trainer``
    (``"module:function"``) replaces the real trainer, for benchmarks and tests.
    ``progress(finished, n_trials)`` is called as trials finish.  Returns the study.  Raises
    :class:`StudySpecError` for a bad spec before anything runs.
    """
    from designspace.search.cores import assign_devices

    from .worker import _set_threads, check_setup, enqueue_baselines, open_study, work

    spec = load_spec(spec_path)
    if storage_retry_s is not None:
        spec = dataclasses.replace(spec, storage_retry_s=int(storage_retry_s))
    dataset = None
    if trainer is None:
        check_schedule(spec)
        dataset = check_dataset(spec)
    _check_storage_driver(storage)
    n = spec.n_trials if n_trials is None else int(n_trials)
    if n < 1:
        raise StudySpecError(f"n_trials={n_trials!r} must be >= 1")
    if workers < 1:
        raise ValueError(f"workers={workers!r} must be >= 1")
    check_space_size(spec, n)
    url = resolve(spec, storage)
    log.info("%s", mask(f"designspace study: {spec.name}: {n} trials, {workers} worker(s), storage {url}"))
    study = open_study(spec, url)
    check_setup(study, spec)  # a resume whose spec changed a setting says so
    enqueue_baselines(study, spec)
    device_of = assign_devices(workers, list(devices or ([device] if device else [])))
    if progress is not None:
        progress(_finished_count(spec, url), n)
    if workers == 1:
        _set_threads(1)
        on_trial = (lambda: progress(_finished_count(spec, url, study), n)) if progress is not None else None
        if work(spec, url, n, 0, trainer, device_of[0], study=study, on_trial=on_trial, dataset=dataset).interrupted:
            raise KeyboardInterrupt
        return study
    ctx = mp.get_context("spawn")

    heard = ctx.Value("d", 0.0)  # when a worker last received an interrupt itself (a terminal's Ctrl-C reaches all)

    def start(i: int) -> "mp.process.BaseProcess":
        p = ctx.Process(target=_worker_main, args=(str(spec.path), url, n, i, trainer, device_of[i], workers, heard),
                        name=f"designspace-study-{i}")
        p.start()
        return p

    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        running = {i: start(i) for i in range(workers)}
    finally:
        if old is not None:  # children inherit SIG_IGN only during start; they install their own handler
            signal.signal(signal.SIGINT, _forwarding(running, heard))
    failures: list[tuple[int, int | None]] = []
    interrupted = False
    try:
        # watch every worker at once: one that dies is reported now, and replaced while others
        # still run (its trial is retried through heartbeats), at most MAX_RESTARTS times in all
        while running:
            ready = mp.connection.wait([p.sentinel for p in running.values()], timeout=2.0 if progress else None)
            if not ready and progress is not None:
                progress(_finished_count(spec, url), n)
                continue
            for i, p in list(running.items()):
                if p.exitcode is None:
                    continue
                p.join()
                del running[i]
                if p.exitcode in (130, 143):
                    interrupted = True
                elif p.exitcode != 0:
                    failures.append((i, p.exitcode))
                    again = running and not interrupted and len(failures) <= MAX_RESTARTS
                    log.warning("%s", mask(f"designspace study: worker {i} exited with code {p.exitcode}"
                                           + ("; starting a replacement" if again else "")))
                    if again:
                        running[i] = start(i)
    except BaseException:  # SIGTERM (Terminated) or an error in the parent: stop the workers cleanly
        for p in running.values():
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)  # each abandons and re-queues its trial, then exits
        for p in running.values():
            p.join(timeout=60)
        raise
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if interrupted:
        raise KeyboardInterrupt
    if failures and not _finished(spec, url, n):
        codes = [c for _, c in failures]
        raise RuntimeError(f"{len(failures)} worker process(es) failed (exit codes {codes}); "
                           "see their messages above; re-running the command resumes the study")
    return study


#: replacements of failed worker processes during one run_study call
MAX_RESTARTS = 3


def _check_storage_driver(storage: str | None) -> None:
    """A PostgreSQL URL needs a driver: name the extra instead of Optuna's bare import error."""
    import importlib.util

    if storage and storage.split(":", 1)[0].split("+")[0] in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is None:
            from designspace.errors import MissingExtra

            raise MissingExtra("a PostgreSQL study storage", "psycopg2-binary", "postgres")


def _finished_count(spec: StudySpec, url: str, study: "optuna.Study | None" = None) -> int:
    """Counted trials that have finished (what a progress bar shows)."""
    from .worker import open_study, slots

    study = study or open_study(spec, url)
    return sum(1 for t in slots(study.get_trials(deepcopy=False)).values() if t.state.is_finished())


def _finished(spec: StudySpec, url: str, n: int) -> bool:
    """Whether the study holds its ``n`` counted trials (then a failed worker lost nothing)."""
    from .worker import open_study, slots

    held = slots(open_study(spec, url).get_trials(deepcopy=False))
    return len(held) >= n and all(t.state.is_finished() for t in held.values())


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


#: seconds the parent waits for its workers to report an interrupt of their own before passing
#: one on (a terminal's Ctrl-C reaches every process of the group; ``kill -INT <parent>`` only it)
FORWARD_AFTER_S = 0.5


def _forwarding(running: "dict[int, mp.process.BaseProcess]", heard: "mp.sharedctypes.Synchronized") -> Callable:
    """The parent's SIGINT handler: workers handle Ctrl-C themselves (first: finish the trial and
    stop; second: abandon it, re-queued); an interrupt sent to the parent alone is passed on to
    them, unless a worker received one itself within ``FORWARD_AFTER_S`` of it (before or after:
    the processes of a group handle a terminal's Ctrl-C in any order)."""
    import threading
    import time

    def handler(signum: int, frame: object) -> None:
        at = time.time()

        def forward() -> None:
            if abs(heard.value - at) <= FORWARD_AFTER_S:
                return  # the workers got this one themselves
            for p in list(running.values()):
                if p.is_alive() and p.pid:
                    try:
                        os.kill(p.pid, signal.SIGINT)
                    except ProcessLookupError:
                        pass

        t = threading.Timer(FORWARD_AFTER_S, forward)
        t.daemon = True
        t.start()

    return handler


def _worker_main(spec_path: str, url: str, n: int, worker: int, trainer: str | None, device: str | None,
                 workers: int, heard: "mp.sharedctypes.Synchronized | None" = None) -> None:
    from designspace.logs import configure_from_env

    from . import worker as worker_mod
    from .worker import _set_threads, work

    from designspace.files import Terminated, _raise_terminated

    worker_mod.INTERRUPTS_HEARD = heard
    configure_from_env()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_terminated)  # like Ctrl-C: abandon and re-queue the trial
    _watch_parent(worker)
    _set_threads(workers)
    try:
        summary = work(load_spec(spec_path), url, n, worker, trainer, device)
    except KeyboardInterrupt:
        log.info("designspace study: worker %d: interrupted between trials; nothing lost", worker)
        sys.exit(130)
    except Terminated:
        log.info("designspace study: worker %d: terminated; its trial is re-queued", worker)
        sys.exit(143)
    except Exception as e:
        if os.environ.get("DESIGNSPACE_DEBUG"):
            import traceback

            log.error("%s", mask(traceback.format_exc()))
        log.error("%s", mask(f"designspace study: worker {worker}: {type(e).__name__}: {e}"))
        sys.exit(1)
    sys.exit(130 if summary.interrupted else 0)


#: seconds between a worker's checks that its parent process is still alive
PARENT_POLL_S = 1.0


def _watch_parent(worker: int) -> None:
    """A worker whose parent dies (SIGKILL, OOM killer) finishes its running trial and stops,
    as after a first Ctrl-C, instead of running on unsupervised: nothing is lost, nothing is
    left behind, and re-running the command resumes the study."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                log.warning("designspace study: worker %d: the parent process is gone; finishing the running "
                            "trial, then stopping (run the same command again to resume)", worker)
                os.kill(os.getpid(), signal.SIGINT)
                return

    threading.Thread(target=watch, daemon=True, name="designspace-parent-watch").start()


def load_study(spec_path: str | Path, storage: str | None = None) -> tuple["optuna.Study", StudySpec, str]:
    """The existing study of a spec (no trial is created): ``(study, spec, storage url)``."""
    import optuna

    from .storage import open_storage

    spec = load_spec(spec_path)
    url = resolve(spec, storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists() or (
            not is_url(url) and not Path(url).exists()):
        raise FileNotFoundError(f"no study storage at {mask(url)}: run `designspace study run {spec_path}` first")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(url, spec))
    except KeyError:
        raise FileNotFoundError(f"no study named {spec.name!r} in {mask(url)}: run `designspace study run "
                                f"{spec_path}` first") from None
    return study, spec, url


def export_frame(spec_path: str | Path, storage: str | None = None) -> "pd.DataFrame":
    """One row per trial of the spec's study (see :func:`designspace.search.study.export.trials_frame`)."""
    from .export import trials_frame

    study, spec, _ = load_study(spec_path, storage)
    return trials_frame(study, spec)
