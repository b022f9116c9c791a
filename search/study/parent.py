"""The parent of a study's worker processes: start them, watch them, replace, pass signals on.

:func:`run_workers` starts ``workers`` spawned processes (each runs :func:`.worker.work`), waits
on all of them at once, replaces one that dies (at most :data:`MAX_RESTARTS` times; its trial is
retried through heartbeats), and stops them cleanly on SIGTERM or an error.  Ctrl-C is the
workers' own business (first: finish the trial; second: abandon it, re-queued); an interrupt sent
to the parent alone is passed on (:func:`_forwarding`).  A worker that gave up on an unreachable
storage exits :data:`EXIT_STORAGE` and is not replaced: the run ends with one line naming the
storage.  A worker whose parent dies finishes its trial and stops (:func:`_watch_parent`).
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from .spec import StudySpec, load_spec
from .urls import mask

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["run_workers", "MAX_RESTARTS", "EXIT_STORAGE", "FORWARD_AFTER_S", "PARENT_POLL_S"]

log = logging.getLogger("designspace.search.study")

#: replacements of failed worker processes during one run
MAX_RESTARTS = 3
#: a worker's exit status after giving up on an unreachable storage (EX_TEMPFAIL): not replaced
EXIT_STORAGE = 75
#: seconds the parent waits for its workers to report an interrupt of their own before passing
#: one on (a terminal's Ctrl-C reaches every process of the group; ``kill -INT <parent>`` only it)
FORWARD_AFTER_S = 0.5
#: seconds between a worker's checks that its parent process is still alive
PARENT_POLL_S = 1.0
#: exit statuses of a worker that stopped on an interrupt or SIGTERM (nothing failed)
_STOPPED = (130, 143, -signal.SIGINT, -signal.SIGTERM)


def run_workers(spec: StudySpec, url: str, n: int, workers: int, trainer: str | None, devices: list[str | None],
                poll: "Callable[[], None] | None" = None) -> tuple[bool, list[int]]:
    """Run ``workers`` processes until each stops; ``(interrupted, failed exit codes)``.
    ``poll()`` runs every 2 s while they work (progress)."""
    ctx = mp.get_context("spawn")
    heard = ctx.Value("d", 0.0)  # when a worker last received an interrupt itself (a terminal's Ctrl-C reaches all)

    def start(i: int) -> "mp.process.BaseProcess":
        p = ctx.Process(target=_worker_main, name=f"designspace-study-{i}",
                        args=(str(spec.path), url, n, i, trainer, devices[i], workers, heard, spec.storage_retry_s))
        p.start()
        return p

    running: dict[int, Any] = {}
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
    try:
        running.update({i: start(i) for i in range(workers)})
    finally:
        if old is not None:  # children inherit SIG_IGN only during start; they install their own handler
            signal.signal(signal.SIGINT, _forwarding(running, heard))
    try:
        return _watch(running, start, poll)
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


def _watch(running: dict[int, Any], start: Callable[[int], Any], poll: "Callable[[], None] | None") -> tuple[bool, list[int]]:
    """Wait on every worker at once: one that dies is reported now and replaced while others run."""
    failures: list[int] = []
    interrupted = False
    while running:
        ready = mp.connection.wait([p.sentinel for p in running.values()], timeout=2.0 if poll else None)
        if not ready and poll is not None:
            poll()
            continue
        for i, p in list(running.items()):
            if p.exitcode is None:
                continue
            p.join()
            del running[i]
            if p.exitcode in _STOPPED:
                interrupted = True
            elif p.exitcode != 0:
                failures.append(p.exitcode)
                again = (running and not interrupted and len(failures) <= MAX_RESTARTS
                         and p.exitcode != EXIT_STORAGE)
                if p.exitcode != EXIT_STORAGE:
                    log.warning("%s", mask(f"designspace study: worker {i} exited with code {p.exitcode}"
                                           + ("; starting a replacement" if again else "")))
                if again:
                    running[i] = start(i)
    return interrupted, failures


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _forwarding(running: dict[int, Any], heard: Any) -> Callable:
    """The parent's SIGINT handler: workers handle Ctrl-C themselves (first: finish the trial and
    stop; second: abandon it, re-queued); an interrupt sent to the parent alone is passed on to
    them, unless a worker received one itself within ``FORWARD_AFTER_S`` of it (before or after:
    the processes of a group handle a terminal's Ctrl-C in any order)."""

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
                 workers: int, heard: Any = None, storage_retry_s: int | None = None) -> None:
    import dataclasses

    from designspace.files import Terminated, _raise_terminated
    from designspace.logs import configure_from_env

    from . import interrupts
    from . import worker as worker_mod
    from .storage import StorageUnreachable

    interrupts.HEARD = heard
    configure_from_env()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_terminated)  # like Ctrl-C: abandon and re-queue the trial
    _watch_parent(worker)
    worker_mod._set_threads(workers)
    code = 0
    try:
        spec = load_spec(spec_path)
        if storage_retry_s is not None:
            spec = dataclasses.replace(spec, storage_retry_s=storage_retry_s)
        code = 130 if worker_mod.work(spec, url, n, worker, trainer, device).interrupted else 0
    except KeyboardInterrupt:
        log.info("designspace study: worker %d: interrupted between trials; nothing lost", worker)
        code = 130
    except Terminated:
        log.info("designspace study: worker %d: terminated; its trial is re-queued", worker)
        code = 143
    except StorageUnreachable as e:  # the parent says it once for all workers
        log.debug("%s", mask(f"designspace study: worker {worker}: {e}"))
        code = EXIT_STORAGE
    except Exception as e:
        if os.environ.get("DESIGNSPACE_DEBUG"):
            import traceback

            log.error("%s", mask(traceback.format_exc()))
        log.error("%s", mask(f"designspace study: worker {worker}: {type(e).__name__}: {e}"))
        code = 1
    # from here on a signal ends the process quietly: no traceback from an atexit callback
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


def _watch_parent(worker: int) -> None:
    """A worker whose parent dies (SIGKILL, OOM killer) finishes its running trial and stops,
    as after a first Ctrl-C, instead of running on unsupervised: nothing is lost, nothing is
    left behind, and re-running the command resumes the study."""
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
