"""A storage address checked before anything is created: one line naming it and what to do.

:func:`check_storage` refuses, with :class:`StorageInputError` (exit 2), what no retry can mend:
a URL that does not parse, an unknown scheme, a missing database driver (naming the extra or
package to install), a SQLite or journal path that is a folder, a file that is not a SQLite
database or not an Optuna journal, and a folder or file that cannot be written.
:func:`explain` turns what the database itself refuses on opening (a wrong password, a missing
database) into the same one line.  Nothing here imports Optuna.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from designspace.errors import InputError, MissingExtra

from .urls import is_url, mask

__all__ = ["StorageInputError", "check_storage", "explain"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_FORMS = "sqlite:///PATH, postgresql://USER@HOST/DB, mysql+pymysql://..., grpc://HOST:PORT, or a journal file path"


class StorageInputError(InputError):
    """A storage address that cannot work as given (exit 2)."""


def check_storage(url: str) -> None:
    """Refuse an address that cannot work, before any file or connection is made."""
    if url.startswith("grpc://"):
        _check_grpc(url)
    elif is_url(url):
        _check_rdb(url)
    else:
        _check_journal(Path(url))


def _bad(url: str, why: str) -> StorageInputError:
    return StorageInputError(mask(f"--storage {url}: {why}"))


def _check_grpc(url: str) -> None:
    import importlib.util

    host, _, port = url[len("grpc://"):].rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad(url, "expected grpc://HOST:PORT (a `designspace storage serve` proxy)")
    if importlib.util.find_spec("grpc") is None:
        raise MissingExtra("a gRPC study storage", "grpcio", "grpc")


def _check_rdb(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        u = make_url(url)
    except (ArgumentError, ValueError) as e:
        raise _bad(url, f"is not a storage URL ({e})") from None
    try:
        dialect = u.get_dialect()
    except NoSuchModuleError:
        raise _bad(url, f"unknown scheme {u.drivername!r}; expected {_FORMS}") from None
    try:
        dialect.import_dbapi()
    except ImportError as e:
        backend = u.get_backend_name()
        if backend == "postgresql":
            raise MissingExtra("a PostgreSQL study storage", "psycopg2-binary", "postgres") from None
        raise _bad(url, f"the {backend} driver {e.name or u.drivername!r} is not installed: pip install "
                        f"{ {'mysql': 'pymysql (and use mysql+pymysql://)'}.get(backend, e.name or 'it')}") from None
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
        _check_file(url, Path(u.database), _is_sqlite, "is not a SQLite database")


def _check_journal(path: Path) -> None:
    _check_file(str(path), path, _is_journal, "is not an Optuna journal file (a study storage written by "
                "`designspace study run --storage PATH`)")


def _check_file(url: str, path: Path, looks_right: "object", wrong: str) -> None:
    if path.is_dir():
        raise _bad(url, f"{path} is a folder; name a file in it (e.g. {path / 'study.db'})")
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError as e:
            raise _bad(url, f"cannot read {path}: {e.strerror}") from None
        if head and not looks_right(head):  # type: ignore[operator]
            raise _bad(url, f"{path} {wrong}; use another file")
        if not _writable_file(path):
            raise _bad(url, f"{path} is read-only; a study writes to its storage (copy it somewhere writable)")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise _bad(url, f"{folder} is not a folder")
    try:  # the storage writes beside its file (SQLite's -wal/-shm, the journal's lock): try the folder
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise _bad(url, f"cannot write in the folder {folder} ({e.strerror}); choose a writable place") from None


def _writable_file(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def _is_sqlite(head: bytes) -> bool:
    return head.startswith(_SQLITE_MAGIC)


def _is_journal(head: bytes) -> bool:
    line = head.split(b"\n", 1)[0]
    if len(line) == len(head) and len(head) == 4096:
        return False  # no line ending in the first 4 kB: not a journal of small JSON records
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, UnicodeDecodeError):
        return False


#: what a database refuses on opening that the user must mend (exit 2), as fragments of its message
_INPUT_FAULTS = {
    "password authentication failed": "the password was refused",
    "authentication failed": "the user or password was refused",
    "does not exist": "the database or user does not exist (create it first)",
    "could not translate host name": "the host name is unknown",
    "name or service not known": "the host name is unknown",
    "file is not a database": "the file is not a SQLite database",
    "unable to open database file": "the database file cannot be opened (check the folder)",
    "readonly database": "the database is read-only",
    "access denied": "access was denied",
}


def input_fault(text: str) -> str | None:
    """What the user must mend, when a database message says so (else ``None``)."""
    low = text.lower()
    return next((why for fragment, why in _INPUT_FAULTS.items() if fragment in low), None)


def explain(url: str, e: BaseException) -> BaseException:
    """The one-line error for a storage that failed to open: input faults exit 2, others 1."""
    chain, seen = [], e
    while seen is not None and len(chain) < 5:
        chain.append(str(seen).lower())
        seen = seen.__cause__ or seen.__context__
    why = input_fault(" ".join(chain))
    if why is not None:
        return _bad(url, why)
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return RuntimeError(mask(f"storage {url} could not be opened: {type(e).__name__}: {first}"))
