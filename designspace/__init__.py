"""designspace: design spaces of convolutional networks.

``import designspace`` is light: it never imports torch (only :func:`build` and :func:`create`
do, when called) and never imports pandas (only :func:`sample` does).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import families
from .complexity import CONVENTION, Complexity, count
from .interop import timm_to_designspace
from .spec import HeadSpec, NetSpec, SpecError, StageSpec, StemSpec
from .zoo import zoo

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    from .net import Net

__version__ = "0.1.0"
__all__ = [
    "NetSpec", "StemSpec", "StageSpec", "HeadSpec", "SpecError",
    "families", "zoo", "count", "Complexity", "CONVENTION",
    "build", "create", "sample", "timm_to_designspace",
]


def build(spec: NetSpec | str, **overrides: Any) -> "Net":
    """Build a spec (or a zoo name) into a ``torch.nn.Module``; imports torch."""
    from .net import build as _build

    return _build(spec, **overrides)


def create(name: str, **overrides: Any) -> "Net":
    """Build a named model, e.g. ``create("efficientnet_b3", num_classes=10)``."""
    return build(zoo[name], **overrides)


def sample(space: str, n: int, seed: int = 0, **kwargs: Any) -> "pandas.DataFrame":
    """Sample ``n`` specs from a design space into a DataFrame (see :mod:`designspace.spaces`)."""
    from .spaces import sample_frame

    return sample_frame(space, n=n, seed=seed, **kwargs)
