"""Writing files so that nothing is ever half-written: the one atomic writer every command uses.

:func:`atomic_write` writes through a temporary file in the target's own folder, flushes and
fsyncs it, gives it the mode a plain ``open`` would (``0o666`` minus the umask) and renames it
over the target, so a reader sees the old file or the complete new one.  The temporary file is
removed on any exception, on Ctrl-C (SIGINT) and on SIGTERM: while it writes in the main thread,
SIGTERM is turned into an exception (:class:`Terminated`, exit status 143 at the command line)
so that the clean-up runs.  After a SIGKILL a ``.NAME.PID.*.tmp`` file may remain; the next write of
the same target removes the leftovers whose process is gone.

:class:`LineAppender` appends whole lines (a results file that grows as models finish): each line
is written at the end of the file and fsynced; a write that fails part-way (a full disk, Ctrl-C,
SIGTERM) is cut back off at once, and a torn last line left by a SIGKILL or a crash is cut off
when the file is opened again (readers skip a line without its newline), so the file holds
whole lines only.

A full disk (``ENOSPC``, or a quota's ``EDQUOT``) while writing raises :class:`DiskFull`, which
names the file; the command line prints it as one line, ``no space left on device writing
PATH``, and exits 1, with nothing partial left behind.

:func:`check_output` validates an output path before any work starts (the folder exists and is
writable, the path is not a folder); ``-`` means standard output for every command that writes a
table or a report (:func:`write_output`).
"""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .errors import UsageError

__all__ = ["atomic_write", "write_output", "check_output", "Terminated", "terminate_raises", "STDOUT", "DiskFull",
           "is_disk_full", "naming_full_disk", "LineAppender"]

STDOUT = "-"


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C so that temporary files are removed (exit 143)."""

    exit_code = 128 + signal.SIGTERM


class DiskFull(OSError):
    """No space left on the device (or the quota) while writing ``path``: at the command line,
    one line and exit status 1; the file is left as it was before the write."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(errno.ENOSPC, "no space left on device", str(path))
        self.path = str(path)

    def __str__(self) -> str:
        return f"no space left on device writing {self.path}"


def is_disk_full(e: BaseException) -> bool:
    """``e`` says the disk (or the user's quota) is full."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


@contextlib.contextmanager
def naming_full_disk(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk met inside into :class:`DiskFull` naming ``path``."""
    try:
        yield
    except DiskFull:
        raise
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(path) from None
        raise


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGTERM)
    if old is _raise_terminated:  # already converted (nested use)
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(path: Path) -> list[str]:
    """Temporary files of earlier writes of ``path`` whose process is gone (killed mid-write)."""
    out = []
    for f in glob.glob(os.path.join(glob.escape(str(path.parent)), f".{glob.escape(path.name)}.*.tmp")):
        pid = os.path.basename(f)[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            out.append(f)
    return out


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], None], *, binary: bool = False,
                 encoding: str = "utf-8") -> Path:
    """Write ``path`` by calling ``write(f)`` on a temporary file, then rename it into place.

    Returns the path.  The folder must exist (see :func:`check_output`).  Raises what ``write``
    raises, after removing the temporary file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    for old in _leftovers(path):  # left by a killed earlier run
        with contextlib.suppress(OSError):
            os.unlink(old)
    with terminate_raises(), naming_full_disk(path):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        try:
            mode = "wb" if binary else "w"
            kw: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": ""}
            with os.fdopen(fd, mode, **kw) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def write_output(target: str | os.PathLike, write: Callable[[IO[Any]], None], *, binary: bool = False) -> str:
    """``-``: write to standard output; otherwise :func:`atomic_write`.  Returns where it went
    (``"stdout"`` or the absolute path)."""
    if str(target) == STDOUT:
        stream = sys.stdout.buffer if binary else sys.stdout
        with naming_full_disk("standard output"):
            write(stream)
            stream.flush()
        return "stdout"
    return str(atomic_write(target, write, binary=binary).resolve())


def check_output(target: str | os.PathLike | None, flag: str = "-o", *, allow_stdout: bool = True) -> None:
    """Raise :class:`UsageError` unless ``target`` can be written: ``-`` (when allowed), or a
    file whose folder exists and is writable and which is not itself a folder.  Call it before
    any work, so a bad path fails in a second, not after an hour of training."""
    if target is None:
        return
    t = str(target)
    if t == STDOUT:
        if not allow_stdout:
            raise UsageError(f"{flag} -: this command cannot write to standard output; give a file name")
        return
    if not t.strip():
        raise UsageError(f"{flag} {t!r}: the file name is empty")
    if os.path.isdir(t):
        raise UsageError(f"{flag} {t} is a folder, not a file")
    folder = os.path.dirname(os.path.abspath(t))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {t}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {t}: folder {folder} is not writable")
    if os.path.exists(t) and not os.access(t, os.W_OK):
        raise UsageError(f"{flag} {t}: the file exists and is not writable")


class LineAppender:
    """Appends whole lines to ``path`` (created if missing); see the module docstring.

    ``append(line)`` writes the line and its newline at the end of the file and fsyncs it; on
    any failure the file is cut back to its length before the call, and a full disk raises
    :class:`DiskFull`.  Use it as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        with naming_full_disk(self.path):
            self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
            self._cut_torn_tail()

    def _cut_torn_tail(self) -> None:
        """Cut a last line without its newline (a kill in the middle of a write)."""
        assert self.fd is not None
        size = os.fstat(self.fd).st_size
        keep = size
        while keep > 0:
            start = max(0, keep - 65536)
            chunk = os.pread(self.fd, keep - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0 or start == 0:
                keep = start + i + 1
                break
            keep = start
        if keep != size:
            os.ftruncate(self.fd, keep)
            os.fsync(self.fd)

    def append(self, line: str) -> None:
        if self.fd is None:
            raise ValueError(f"{self.path}: the appender is closed")
        data = memoryview((line.rstrip("\n") + "\n").encode("utf-8"))
        start = os.fstat(self.fd).st_size
        try:
            with terminate_raises():
                while data:
                    data = data[os.write(self.fd, data):]
                os.fsync(self.fd)
        except BaseException as e:
            with contextlib.suppress(OSError):  # whole or absent: cut the part that was written
                os.ftruncate(self.fd, start)
                os.fsync(self.fd)
            if is_disk_full(e):
                raise DiskFull(self.path) from None
            raise

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "LineAppender":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
