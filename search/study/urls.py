"""Storage addresses and the credentials in them: what a ``--storage`` value means, and masking.

* nothing (default): a SQLite file next to the spec (``studies/x.toml`` -> ``studies/x.db``);
* an Optuna URL (``postgresql://``, ``mysql://``, ``sqlite:///``) or ``grpc://HOST:PORT`` (a
  ``designspace storage serve`` proxy);
* a path that is not a URL: Optuna's journal file (a ``.db``/``.sqlite`` path is SQLite).

Passwords and user names in URLs are replaced by ``***`` in every message we print and in every
log record (:func:`mask`, :class:`Scrub`).  No Optuna storage is imported here.
"""
from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from .spec import StudySpec

__all__ = ["is_url", "mask", "Scrub", "install_scrub", "resolve", "say"]

log = logging.getLogger("designspace.search.study.worker")

_SECRETS: set[str] = set()


def is_url(storage: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", storage) is not None


def mask(text: str) -> str:
    """``text`` with URL credentials (``user:password@``, ``password=...``) and known secrets masked."""
    text = re.sub(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s]+@", r"\g<scheme>***@", text)
    text = re.sub(r"(?i)(password|passwd|pwd|secret|token)=[^&\s'\"]+", r"\1=***", text)
    for s in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def _remember_secrets(url: str) -> None:
    password = urlsplit(url).password
    if password and len(password) >= 3:  # too short to mask without mangling other text
        _SECRETS.update({password, unquote(password)})


class Scrub(logging.Filter):
    """A logging filter that masks credentials in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover
            return True
        masked = mask(msg)
        if masked != msg or record.exc_info:
            record.msg, record.args = masked, None
            if record.exc_info:
                import traceback

                record.msg = masked + "\n" + mask("".join(traceback.format_exception(*record.exc_info)))
                record.exc_info = None
        return True


def install_scrub() -> None:
    """Mask credentials in Optuna's, SQLAlchemy's and the root logger's records and warnings."""
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # we run trials by ask/tell with our own heartbeat thread (objective needs the worker's slot check)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    f = Scrub()
    for name in ("", "optuna", "sqlalchemy", "alembic"):
        lg = logging.getLogger(name)
        if not any(isinstance(x, Scrub) for x in lg.filters):
            lg.addFilter(f)
        for h in lg.handlers:
            if not any(isinstance(x, Scrub) for x in h.filters):
                h.addFilter(f)
    show = warnings.showwarning
    if not getattr(show, "_scrubbed", False):
        def _show(message: Any, *a: Any, **k: Any) -> None:
            show(mask(str(message)), *a, **k)
        _show._scrubbed = True  # type: ignore[attr-defined]
        warnings.showwarning = _show


def resolve(spec: "StudySpec", storage: str | None) -> str:
    """The storage to use: an Optuna URL, or a journal file path (absolute)."""
    if storage is None or storage == "":
        return f"sqlite:///{spec.default_storage_path}"
    if is_url(storage):
        _remember_secrets(storage)
        return _postgres_driver(storage)
    p = Path(storage).expanduser().resolve()
    if p.suffix in (".db", ".sqlite", ".sqlite3"):
        return f"sqlite:///{p}"
    return str(p)


def _postgres_driver(url: str) -> str:
    """``postgresql://`` names SQLAlchemy 2.1's default driver, psycopg 3; use psycopg2 when only it is here."""
    if not url.startswith(("postgresql://", "postgres://")):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def say(msg: str, level: int = logging.INFO) -> None:
    """Log a worker message (credentials masked)."""
    log.log(level, "%s", mask(msg))
