"""Analytic complexity of a NetSpec: flops (multiply-adds of conv and linear layers), params
(every parameter of the built module) and acts (output elements of conv and linear layers),
computed from the spec alone, without torch.  Equal to fvcore on the built module.

The stem and every block are counted by their kind (:mod:`designspace.kinds`), on one
:class:`~designspace.counter.Counter` that follows the feature map through the network.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from .counter import Counter
from .errors import SpecError
from .kinds import block_kind, stem_kind

if TYPE_CHECKING:  # pragma: no cover
    from .spec import NetSpec

__all__ = ["count", "count_parts", "count_spec", "Complexity", "Counter", "CONVENTION", "check_resolution", "stage_maps"]

#: printed next to every complexity figure
CONVENTION = "flops = multiply-adds of conv+linear; params = all parameters; acts = conv+linear outputs"


class Complexity(NamedTuple):
    flops: int
    params: int
    acts: int

    def __str__(self) -> str:
        return f"flops={self.flops / 1e9:.3f}G params={self.params / 1e6:.3f}M acts={self.acts / 1e6:.3f}M"


def check_resolution(spec: "NetSpec", resolution: object, path: str = "resolution") -> int:
    """``resolution`` if the spec can run at it (a positive integer, at least the network's total
    stride, a multiple of 4 for a SpaceToDepth stem); :class:`SpecError` naming ``path`` otherwise."""
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise SpecError(path, resolution, "must be an integer")
    if resolution < 1:
        raise SpecError(path, resolution, "must be >= 1")
    if resolution < spec.stride:
        raise SpecError(path, resolution, f"is too small for the network's total stride {spec.stride}")
    multiple = stem_kind(spec.stem.kind).input_multiple
    if resolution % multiple:
        raise SpecError(path, resolution, f"must be a multiple of {multiple} for a {spec.stem.kind} stem")
    return resolution


def count_parts(spec: "NetSpec", resolution: int | None = None) -> list[tuple[str, Complexity]]:
    """Complexity of each part: ``stem``, ``stage1`` ... ``stageN``, ``head`` (they sum to :func:`count`)."""
    r = spec.resolution if resolution is None else check_resolution(spec, resolution)
    cx = Counter(spec.in_chans, r, r)
    parts: list[tuple[str, Complexity]] = []
    last = (0, 0, 0)

    def close(name: str) -> None:
        nonlocal last
        now = (cx.flops, cx.params, cx.acts)
        parts.append((name, Complexity(*(a - b for a, b in zip(now, last)))))
        last = now

    stem_kind(spec.stem.kind).count(cx, spec.stem)
    close("stem")
    for i, st in enumerate(spec.stages):
        count_stage(cx, st)
        close(f"stage{i + 1}")
    count_head(cx, spec.head.width, spec.num_classes)
    close("head")
    return parts


def stage_maps(spec: "NetSpec", resolution: int | None = None) -> list[tuple[str, int, int]]:
    """The output map (height, width) of the stem and of each stage, ``[("stem", h, w),
    ("stage1", h, w), ...]``, from the same shape rules that count the complexity."""
    r = spec.resolution if resolution is None else check_resolution(spec, resolution)
    cx = Counter(spec.in_chans, r, r)
    stem_kind(spec.stem.kind).count(cx, spec.stem)
    out = [("stem", cx.h, cx.w)]
    for i, st in enumerate(spec.stages):
        count_stage(cx, st)
        out.append((f"stage{i + 1}", cx.h, cx.w))
    return out


def count_stage(cx: Counter, st: object) -> None:
    """Count one stage on ``cx``: its first block (strided) and ``depth - 1`` more.

    Every later block of a stage sees the same shapes, so one is counted and multiplied
    (``st.depth`` may be an array, for a table of networks)."""
    kind = block_kind(st.block)  # type: ignore[attr-defined]
    kind.count(cx, st, st.stride)  # type: ignore[attr-defined]
    if isinstance(st.depth, int) and st.depth == 1:  # type: ignore[attr-defined]
        return
    rest = cx.fork()
    kind.count(rest, st, 1)
    cx.add(rest, st.depth - 1)  # type: ignore[attr-defined]


def count_head(cx: Counter, width: int, num_classes: int) -> None:
    """Optional 1x1 conv-norm (``width > 0``), global pool, linear classifier."""
    if width:
        cx.conv_norm(width, 1)
    cx.global_pool().linear(num_classes)


def count_spec(spec: "NetSpec", resolution: int | None = None) -> Complexity:
    parts = count_parts(spec, resolution)
    return Complexity(*(sum(c[k] for _, c in parts) for k in range(3)))


def count(spec: "NetSpec | str", resolution: int | None = None) -> Complexity:
    """Complexity of a spec (or zoo name) at ``resolution`` (default: the spec's own).

    Raises :class:`SpecError` for something that is not a spec or a named model, and for a
    resolution the network cannot run at (not an integer, below its total stride, ...)."""
    from .spec import NetSpec

    if isinstance(spec, str):
        from .zoo import zoo

        spec = zoo[spec]
    if not isinstance(spec, NetSpec):
        raise SpecError("spec", spec, "is neither a NetSpec nor the name of a named model")
    return count_spec(spec, resolution)
