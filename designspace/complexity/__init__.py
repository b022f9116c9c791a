"""Analytic complexity of a NetSpec: flops (multiply-adds of conv and linear layers), params
(every parameter of the built module) and acts (output elements of conv and linear layers),
computed from the spec alone, without torch.  Equal to fvcore on the built module.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from ..spec import NetSpec, StageSpec, StemSpec
from .counter import Counter

__all__ = ["count", "count_parts", "Complexity", "Counter", "CONVENTION", "register_block", "register_stem"]

#: printed next to every complexity figure
CONVENTION = "flops = multiply-adds of conv+linear; params = all parameters; acts = conv+linear outputs"

BlockCounter = Callable[[Counter, StageSpec, int], None]
StemCounter = Callable[[Counter, StemSpec], None]
_BLOCKS: dict[str, BlockCounter] = {}
_STEMS: dict[str, StemCounter] = {}


def register_block(*kinds: str) -> Callable[[BlockCounter], BlockCounter]:
    """Register ``fn(cx, stage, stride)``: count one block of ``stage`` with input ``cx``."""
    def deco(fn: BlockCounter) -> BlockCounter:
        for k in kinds:
            _BLOCKS[k] = fn
        return fn
    return deco


def register_stem(*kinds: str) -> Callable[[StemCounter], StemCounter]:
    def deco(fn: StemCounter) -> StemCounter:
        for k in kinds:
            _STEMS[k] = fn
        return fn
    return deco


class Complexity(NamedTuple):
    flops: int
    params: int
    acts: int

    def __str__(self) -> str:
        return f"flops={self.flops / 1e9:.3f}G params={self.params / 1e6:.3f}M acts={self.acts / 1e6:.3f}M"


@register_stem("simple")
def _simple_stem(cx: Counter, stem: StemSpec) -> None:
    cx.conv_norm(stem.width, 3, 2)


def count_parts(spec: NetSpec, resolution: int | None = None) -> list[tuple[str, Complexity]]:
    """Complexity of each part: ``stem``, ``stage1`` ... ``stageN``, ``head`` (they sum to :func:`count`)."""
    r = spec.resolution if resolution is None else resolution
    cx = Counter(spec.in_chans, r, r)
    parts: list[tuple[str, Complexity]] = []
    last = (0, 0, 0)

    def close(name: str) -> None:
        nonlocal last
        now = (cx.flops, cx.params, cx.acts)
        parts.append((name, Complexity(*(a - b for a, b in zip(now, last)))))
        last = now

    _STEMS[spec.stem.kind](cx, spec.stem)
    close("stem")
    for i, st in enumerate(spec.stages):
        block = _BLOCKS[st.block]
        block(cx, st, st.stride)
        if st.depth > 1:
            # every later block of a stage sees the same shapes: count one, multiply
            rest = cx.fork()
            block(rest, st, 1)
            cx.add(rest, st.depth - 1)
        close(f"stage{i + 1}")
    if spec.head.width:
        cx.conv_norm(spec.head.width, 1)
    cx.global_pool().linear(spec.num_classes)
    close("head")
    return parts


def count_spec(spec: NetSpec, resolution: int | None = None) -> Complexity:
    parts = count_parts(spec, resolution)
    return Complexity(*(sum(c[k] for _, c in parts) for k in range(3)))


def count(spec: NetSpec | str, resolution: int | None = None) -> Complexity:
    """Complexity of a spec (or zoo name) at ``resolution`` (default: the spec's own)."""
    if isinstance(spec, str):
        from ..zoo import zoo

        spec = zoo[spec]
    return count_spec(spec, resolution)


# the per-family block and stem counters register themselves on import
from . import residual, regnet, mbconv, tresnet  # noqa: E402,F401
