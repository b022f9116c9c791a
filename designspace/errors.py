"""The errors every layer raises for bad input, and the one for a missing optional part.

* :class:`InputError` -- the base of every error that means "this input is wrong" (a spec, a
  flag, a file, a study or space file, a table to analyse); the command line prints it as one
  line and exits with status 2.
* :class:`SpecError` -- a spec (or a value destined for one) is invalid; names the field path.
* :class:`UsageError` -- a bad value given by a user (a flag, a file, an option); the command
  line prints it as one line and exits with status 2.
* :class:`MissingExtra` -- an optional part of designspace is not installed; the message names
  the extra that installs it (``pip install 'designspace[postgres]'``).

Pure Python, imported by everything else; it imports nothing of designspace.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["InputError", "SpecError", "UsageError", "MissingExtra", "require"]


class InputError(ValueError):
    """A bad input (the base of :class:`SpecError`, :class:`UsageError` and the input errors of
    spaces, studies and analysis): the command line prints it as one line, exit status 2."""


class SpecError(InputError):
    """A spec (or a value destined for one) is invalid.

    The message always starts with the field path and the offending value, e.g.
    ``stages[2].group_width=48 does not divide bottleneck width 120``.
    """

    def __init__(self, path: str, value: Any, reason: str):
        self.path = path
        self.value = value
        self.reason = reason
        where = f"{path}={value!r}" if path else repr(value)
        super().__init__(f"{where} {reason}")


class UsageError(InputError):
    """A bad value from the user (a flag, an input file, an option): one line, exit status 2."""


class MissingExtra(UsageError, ImportError):
    """An optional dependency is missing; the message says which extra installs it."""

    def __init__(self, what: str, package: str, extra: str):
        self.what, self.package, self.extra = what, package, extra
        super().__init__(f"{what} needs {package}, which is not installed: pip install 'designspace[{extra}]'")


def require(module: str, *, extra: str, what: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming ``extra`` (e.g. ``postgres``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(what, package or module.split(".")[0], extra) from None
