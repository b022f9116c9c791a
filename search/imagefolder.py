"""``designspace.search.imagefolder``: ImageFolder data (:mod:`designspace.search.datasets.imagefolder`)."""
from __future__ import annotations

from .datasets.imagefolder import *  # noqa: F401,F403
from .datasets.imagefolder import load_imagefolder  # noqa: F401
