"""Sharing the machine: CPU threads among the training processes, devices among the workers.

Threads.  PyTorch gives every process all the cores; two training processes on one machine then
oversubscribe it (each OpenMP team spins for cores the other holds: on 2 cores two study workers
that each took both cores ran about 15x slower than one alone, and two study commands started
side by side ran their trials 3-7x slower).  Every designspace training process (a study worker,
a population worker, ``train``) registers itself (:func:`register`) in this user's trainer
registry on this machine, in the folder of its process group (one command and the workers it
spawns).  Before each model it takes ``cores // live trainers`` threads, counting the live
trainers of *every* command of this user on the machine (:func:`share_threads`): two commands
started separately, two ``&`` jobs of one shell, two terminals, share the cores without being
told.  Other users' trainers are not counted.  A process that already runs a model keeps its
threads until its next model, so a command started beside it oversubscribes for at most one
model.  A run's digits depend on its thread count, so every study trial records the count it
used (``threads`` in the export); to rerun it bitwise, give that count.  A thread count the user
chose is respected, never overridden: ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` /
``DESIGNSPACE_THREADS`` in the environment, an explicit ``threads=``, or a
``torch.set_num_threads`` call made after this module was imported.

Each registration names its process and the process's start time (Linux ``/proc``), so a
registration left by a killed trainer is dropped even after its pid is reused.

Devices.  ``--devices cuda:0,cuda:1`` pins worker ``i`` to ``devices[i % len(devices)]``
(:func:`assign_devices`); several workers may share one GPU.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["usable_cores", "register", "unregister", "live_processes", "share_threads", "thread_choice",
           "assign_devices", "parse_devices", "USER_THREAD_ENV"]

USER_THREAD_ENV = ("DESIGNSPACE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_registered: Path | None = None
_torch_threads_at_import: int | None = None


def _note_torch_threads() -> None:
    global _torch_threads_at_import
    if _torch_threads_at_import is None:
        try:
            import torch

            _torch_threads_at_import = torch.get_num_threads()
        except ImportError:  # pragma: no cover
            _torch_threads_at_import = usable_cores()


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity and cgroup-style restrictions included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _user_dir() -> Path:
    """This user's trainer registry on this machine (one folder per process group inside)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(base) / f"designspace-trainers-{user}"


def registry_dir() -> Path:
    """The folder of this process group's trainers (see the module docstring)."""
    group = os.getpgid(0) if hasattr(os, "getpgid") else os.getpid()
    return _user_dir() / f"group-{group}"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22); '' where
    there is no ``/proc``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 onwards
    return fields[19] if len(fields) > 19 else ""


def _alive(pid: int, started: str = "") -> bool:
    """Whether the registered trainer ``pid`` (started at ``started``, if known) still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _start_time(pid)
    return not (started and now and now != started)  # a different start time: the pid was reused


def register() -> None:
    """Announce this process as a trainer (until it exits)."""
    global _registered
    _note_torch_threads()
    if _registered is not None:
        return
    d = registry_dir()
    for _ in range(3):  # the group's last trainer may remove the folder between mkdir and write
        with contextlib.suppress(OSError):
            d.mkdir(parents=True, exist_ok=True)
            p = d / str(os.getpid())
            p.write_text(_start_time(os.getpid()))
            _registered = p
            atexit.register(unregister)
            return


def unregister() -> None:
    global _registered
    if _registered is not None:
        with contextlib.suppress(OSError):
            _registered.unlink()
        with contextlib.suppress(OSError):  # the group's last trainer removes its folder
            _registered.parent.rmdir()
        _registered = None


def live_processes() -> int:
    """This user's registered trainers on this machine that are still alive, every command's
    (stale registrations are removed); at least 1."""
    n = 0
    with contextlib.suppress(OSError):
        for group in _user_dir().iterdir():
            with contextlib.suppress(OSError):
                for p in group.iterdir():
                    if p.name.isdigit():
                        n += _count_or_drop(p)
    return max(1, n)


def _count_or_drop(p: Path) -> int:
    """1 for a live trainer's registration; a stale one is removed and counts 0."""
    try:
        started = p.read_text().strip()
    except OSError:
        return 0
    if _alive(int(p.name), started):
        return 1
    with contextlib.suppress(OSError):
        p.unlink()
    with contextlib.suppress(OSError):
        p.parent.rmdir()  # its group's last registration
    return 0


def thread_choice(threads: int | None = None) -> tuple[int, str]:
    """``(threads, why)`` this process should use now (see the module docstring)."""
    import torch

    _note_torch_threads()
    if threads is not None:
        return max(1, int(threads)), "threads="
    for var in USER_THREAD_ENV:
        v = os.environ.get(var, "")
        if v.strip().isdigit() and int(v) > 0:
            return int(v), var
    current = torch.get_num_threads()
    if _torch_threads_at_import is not None and current != _torch_threads_at_import and current != _last_set:
        return current, "torch.set_num_threads"
    cores, live = usable_cores(), live_processes()
    share = max(1, cores // live)
    if _torch_threads_at_import is not None:
        share = min(share, max(_torch_threads_at_import, 1))
    return share, f"{cores} cores / {live} training process(es) on this machine"


_last_set: int | None = None


def share_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads to :func:`thread_choice` and return the count."""
    global _last_set
    import torch

    n, _ = thread_choice(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _last_set = n
    return n


def parse_devices(text: str | None) -> list[str]:
    """``"cuda:0,cuda:1"`` -> ``["cuda:0", "cuda:1"]`` (checked as torch device names)."""
    if text is None or not str(text).strip():
        return []
    out = []
    for part in str(text).split(","):
        name = part.strip()
        if not name:
            raise ValueError(f"--devices {text!r}: an empty device name")
        import torch

        try:
            dev = torch.device(name)
        except RuntimeError:
            raise ValueError(f"--devices {text!r}: {name!r} is not a device (cpu, cuda, cuda:N)") from None
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"--devices {text!r}: CUDA is not available on this machine")
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise ValueError(f"--devices {text!r}: {name} does not exist ({torch.cuda.device_count()} GPU(s))")
        out.append(name)
    return out


def assign_devices(workers: int, devices: list[str]) -> list[str | None]:
    """Worker ``i`` -> ``devices[i % len(devices)]`` (``None`` for every worker when no devices
    are given: the default device)."""
    if workers < 1:
        raise ValueError(f"workers={workers!r} must be >= 1")
    if not devices:
        return [None] * workers
    return [devices[i % len(devices)] for i in range(workers)]
