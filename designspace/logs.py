"""Logging: library code logs through ``logging.getLogger("designspace...")``; the command line
configures where it goes.

Library modules call ``logging.getLogger(__name__)`` and never print.  The package logger
``designspace`` has a :class:`logging.NullHandler`, so a Python user sees nothing unless they
configure logging; :func:`configure` (called by the CLI for ``-v``/``-q``) sends the records to
standard error as plain lines.  Worker processes a study starts inherit the level through the
environment (:data:`LEVEL_ENV`) and call :func:`configure_from_env`.
"""
from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure", "configure_from_env", "LEVEL_ENV", "verbosity_level"]

LEVEL_ENV = "DESIGNSPACE_LOG_LEVEL"
_HANDLER_NAME = "designspace-cli"

logging.getLogger("designspace").addHandler(logging.NullHandler())


def verbosity_level(verbose: int = 0, quiet: int = 0) -> int:
    """``-q``: warnings and errors only; default: INFO; ``-v``: DEBUG."""
    if quiet:
        return logging.WARNING
    return logging.DEBUG if verbose else logging.INFO


class _Stderr(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is at the time of the record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure(level: int = logging.INFO, stream=None) -> None:
    """Send ``designspace.*`` records at ``level`` and above to ``stream`` (standard error) as
    plain lines; idempotent (reconfiguring replaces the handler).  Credentials in storage URLs
    are masked by the study package's filter wherever it is installed."""
    lg = logging.getLogger("designspace")
    for h in list(lg.handlers):
        if getattr(h, "name", None) == _HANDLER_NAME:
            lg.removeHandler(h)
    h = logging.StreamHandler(stream) if stream is not None else _Stderr()
    h.set_name(_HANDLER_NAME)
    h.setFormatter(logging.Formatter("%(message)s"))
    lg.addHandler(h)
    lg.setLevel(level)
    lg.propagate = False
    os.environ[LEVEL_ENV] = str(level)


def configure_from_env() -> None:
    """In a worker process: the level the parent's command line chose, if any."""
    level = os.environ.get(LEVEL_ENV)
    if level and level.isdigit():
        configure(int(level))
