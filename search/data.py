"""``designspace.search.data``: the data sets (:mod:`designspace.search.datasets`), under the name
the trainer, the study runtime and users' scripts import."""
from __future__ import annotations

from .datasets import *  # noqa: F401,F403
from .datasets import __all__  # noqa: F401
