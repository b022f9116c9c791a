"""designspace: design spaces of convolutional networks.

``import designspace`` is light: it never imports torch (only :func:`build` and :func:`create`
do, when called) and never imports pandas (only :func:`sample` does).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import families, logs  # noqa: F401  (logs: the package logger's NullHandler)
from .complexity import CONVENTION, CONVENTIONS, Complexity, count
from .errors import InputError, MissingExtra, SpecError, UsageError
from .interop import read_pycls, timm_to_designspace, to_timm, write_pycls
from .kinds import BlockKind, StemKind, block_kind, block_kinds, register_block, register_stem
from .spec import HeadSpec, NetSpec, StageSpec, StemSpec
from .zoo import list_models, zoo

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    from .net import Net

__version__ = "0.2.0"
__all__ = [
    "NetSpec", "StemSpec", "StageSpec", "HeadSpec", "SpecError", "InputError", "UsageError", "MissingExtra",
    "families", "zoo", "list_models", "count", "Complexity", "CONVENTION", "CONVENTIONS",
    "build", "create", "sample", "timm_to_designspace", "to_timm", "read_pycls", "write_pycls",
    "BlockKind", "StemKind", "register_block", "register_stem", "block_kind", "block_kinds",
]


def build(spec: NetSpec | str, **kwargs: Any) -> "Net":
    """Build a spec (or a zoo name) into a ``torch.nn.Module``; imports torch.  Keywords:
    top-level spec fields (``num_classes=10``), timm's ``num_classes=0``, ``global_pool``,
    ``drop_rate``, ``drop_path_rate``, ``pretrained`` (True or a timm checkpoint path),
    ``features_only`` and ``out_indices`` (see :func:`designspace.net.build`)."""
    from .net import build as _build

    return _build(spec, **kwargs)


def create(name: str, **overrides: Any) -> "Net":
    """Build a named model, e.g. ``create("efficientnet_b3", num_classes=10)``, with timm's
    keywords (``num_classes=0``, ``global_pool='max'``, ``drop_rate``, ``drop_path_rate``,
    ``features_only``, ``out_indices``, ``pretrained``); the model carries timm's
    ``pretrained_cfg`` for that name."""
    if not isinstance(name, str):
        raise SpecError("name", name, "is not the name of a named model (designspace.list_models() lists them)")
    return build(name, **overrides)


def sample(space: str, n: int, seed: int = 0, *, flops: Any = None, params: Any = None, acts: Any = None,
           resolution: Any = None, num_classes: int | None = None, in_chans: int | None = None,
           sampler: str = "random", dedupe: bool = True, max_draws: int | None = None) -> "pandas.DataFrame":
    """Sample ``n`` specs from a design space into a pandas DataFrame, one row per model.

    Args:
        space: a built-in space (``designspace spaces`` lists them), a ``.toml`` space file, or a
            :class:`~designspace.spaces.Space`.
        n: number of models to keep.
        seed: the same seed gives the same rows (and the first ``k`` rows of a larger ``n``).
        flops: keep models whose multiply-adds lie in this range: ``(lo, hi)`` with ``None`` for
            an open end, or a string ``"360M:400M"`` (K, M, G suffixes; ``":1G"``, ``"2G:"``).
        params: the same filter on the parameter count.
        acts: the same filter on activations (conv and linear outputs).
        resolution: an int fixes every model's input resolution (for ``efficientnet_scaling``,
            the base resolution it scales); a range keeps the models whose own resolution lies
            in it.
        num_classes: classifier outputs (default: the space's, 1000).
        in_chans: input channels (default 3; 1 for grey images such as Fashion-MNIST).
        sampler: ``"random"`` or ``"sobol"`` (scrambled Sobol points).
        dedupe: drop repeated networks (same spec id).
        max_draws: give up (``RegimeUnreachable``) after this many draws.

    Columns: ``space``, ``id``, the space's parameters, ``resolution``, ``flops``, ``params``,
    ``acts``, ``spec`` (the NetSpec's JSON).  Filters are checked before sampling; a bad one
    raises a :class:`~designspace.spaces.SpaceError` naming it."""
    from .spaces import sample_frame

    return sample_frame(space, n=n, seed=seed, flops=flops, params=params, acts=acts, resolution=resolution,
                        num_classes=num_classes, in_chans=in_chans, sampler=sampler, dedupe=dedupe,
                        max_draws=max_draws)
