"""The registry of block kinds and stem kinds: one module per kind, one table for everything.

A :class:`BlockKind` declares in one place what the rest of designspace needs to know about a
kind of block (the ``block`` field of a :class:`~designspace.StageSpec`):

* ``reads`` -- the stage fields it uses besides ``block``, ``depth``, ``width`` and ``stride``;
  every other field must keep its default (validation names the field otherwise), so a spec
  never claims something its network does not do;
* ``widths(stage, in_chs)`` -- its width rules (bottleneck, groups, SE widths, from
  :mod:`designspace.rules`), used by both ``count`` and ``build``;
* ``count(cx, stage, stride)`` -- its analytic complexity, counted on a
  :class:`~designspace.counter.Counter` at the block's input (``cx.c`` is the input width);
  written without branching on values, it counts one network or a whole table of them;
* ``build(stage, in_chs, stride, ctx)`` -- the ``torch.nn.Module`` (torch imported inside, so
  ``import designspace`` and :func:`designspace.count` stay torch-free);
* ``check(stage, path)`` -- optional extra validation; ``show`` -- fields ``designspace show``
  prints next to the kind's name.

Validation (:mod:`designspace.spec`), :func:`designspace.build`, :func:`designspace.count`,
``designspace show`` and the spaces' vectorised tables all iterate this registry.  A new kind
is one module that calls :func:`register_block` (see :mod:`.vanilla`, the NDS paper's plain
block, for the smallest example); :class:`StemKind` does the same for stems.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import SpecError

__all__ = [
    "BlockKind", "StemKind", "BlockContext", "register_block", "register_stem", "block_kind",
    "stem_kind", "block_kinds", "stem_kinds", "OPTIONAL_STAGE_FIELDS", "STAGE_DEFAULTS",
    "STEM_DEFAULTS",
]

#: stage fields a kind may read, with the defaults the others must keep
STAGE_DEFAULTS: dict[str, Any] = {
    "bottleneck_ratio": 1.0, "group_width": 0, "se_ratio": 0.0, "kernel_size": 3, "expand_ratio": 1.0,
    "shortcut": "conv", "anti_alias": False,
}
OPTIONAL_STAGE_FIELDS = tuple(STAGE_DEFAULTS)
#: stem fields a stem kind may read, with their defaults
STEM_DEFAULTS: dict[str, Any] = {"deep_width": 0, "pool": "none"}


@dataclass(frozen=True)
class BlockContext:
    """What a block's builder needs beyond its stage: activation/norm factories and its drop-path rate."""

    act: Any
    norm: Any
    act_name: str
    drop_path: float
    index_in_stage: int
    stage_index: int
    num_stages: int


@dataclass(frozen=True)
class BlockKind:
    """One kind of block (see the module docstring)."""

    name: str
    reads: tuple[str, ...]
    widths: Callable[[Any, Any], Mapping[str, Any]]
    count: Callable[[Any, Any, int], None]
    build: Callable[[Any, int, int, BlockContext], Any]
    doc: str = ""
    check: Callable[[Any, str], None] | None = None
    show: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [f for f in self.reads if f not in STAGE_DEFAULTS]
        if bad:
            raise ValueError(f"block kind {self.name!r}: reads={bad} are not stage fields "
                             f"(optional fields: {', '.join(OPTIONAL_STAGE_FIELDS)})")
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"block kind name {self.name!r} must be a non-empty identifier")


@dataclass(frozen=True)
class StemKind:
    """One kind of stem: its stride (a function of the stem spec), the stem fields it reads,
    its count, its builder and its label in ``designspace show``."""

    name: str
    stride: Callable[[Any], int]
    count: Callable[[Any, Any], None]
    build: Callable[[Any, int, Any, Any], Any]
    reads: tuple[str, ...] = ()
    doc: str = ""
    check: Callable[[Any, str], None] | None = None
    #: the input resolution must be a multiple of this (SpaceToDepth(4): 4)
    input_multiple: int = 1
    label: Callable[[Any], str] = field(default=lambda stem: stem.kind)

    def __post_init__(self) -> None:
        bad = [f for f in self.reads if f not in STEM_DEFAULTS]
        if bad:
            raise ValueError(f"stem kind {self.name!r}: reads={bad} are not optional stem fields ({', '.join(STEM_DEFAULTS)})")


_BLOCKS: dict[str, BlockKind] = {}
_STEMS: dict[str, StemKind] = {}


def register_block(kind: BlockKind, *, replace: bool = False) -> BlockKind:
    """Add a block kind to the registry (``replace=True`` to redefine one); returns it."""
    if not isinstance(kind, BlockKind):
        raise TypeError(f"register_block needs a BlockKind, got {type(kind).__name__}")
    if kind.name in _BLOCKS and not replace:
        raise ValueError(f"block kind {kind.name!r} is already registered (pass replace=True to redefine it)")
    _BLOCKS[kind.name] = kind
    return kind


def register_stem(kind: StemKind, *, replace: bool = False) -> StemKind:
    """Add a stem kind to the registry (``replace=True`` to redefine one); returns it."""
    if not isinstance(kind, StemKind):
        raise TypeError(f"register_stem needs a StemKind, got {type(kind).__name__}")
    if kind.name in _STEMS and not replace:
        raise ValueError(f"stem kind {kind.name!r} is already registered (pass replace=True to redefine it)")
    _STEMS[kind.name] = kind
    return kind


def unregister_block(name: str) -> None:
    """Remove a block kind (tests that register throwaway kinds clean up with this)."""
    _BLOCKS.pop(name, None)


def block_kinds() -> tuple[str, ...]:
    """Names of the registered block kinds, in registration order."""
    return tuple(_BLOCKS)


def stem_kinds() -> tuple[str, ...]:
    return tuple(_STEMS)


def block_kind(name: Any, path: str = "block") -> BlockKind:
    """The registered kind called ``name``; :class:`SpecError` naming ``path`` otherwise."""
    kind = _BLOCKS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise SpecError(path, name, f"is not one of {', '.join(_BLOCKS)}")
    return kind


def stem_kind(name: Any, path: str = "stem.kind") -> StemKind:
    kind = _STEMS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise SpecError(path, name, f"is not one of {', '.join(_STEMS)}")
    return kind


# the built-in kinds register themselves on import, in this order
from . import stems  # noqa: E402,F401
from . import basic, bottleneck, regnet, ds, mbconv, tresnet_basic, tresnet_bottleneck, vanilla  # noqa: E402,F401
