"""TResNet family (Ridnik et al., "TResNet: High Performance GPU-Dedicated Architecture", WACV 2021).

A pure function from the published parameters (blocks per stage ``layers`` and ``width_factor``,
or the paper's size name M/L/XL, Table 1) to a :class:`NetSpec`.  The layout is timm's
``timm.models.tresnet.TResNet`` (v1):

* stem ``s2d``: SpaceToDepth(4), 3x3 conv-bn-leaky ReLU to ``p = int(64 * width_factor)``;
* stage 1: ``tresnet_basic`` blocks of width ``p``, stride 1, SE ratio 1/4;
* stage 2: ``tresnet_basic`` blocks of width ``2p``, stride 2, SE ratio 1/4;
* stage 3: ``tresnet_bottleneck`` blocks of width ``16p`` (inner width ``4p``), stride 2, SE 1/8;
* stage 4: ``tresnet_bottleneck`` blocks of width ``32p`` (inner width ``8p``), stride 2, no SE;
* strided stages anti-alias (BlurPool) and use the avg-pool + 1x1 conv shortcut;
* activation ``leaky_relu`` (slope 1e-3 in the blocks, 1e-2 in the stem, as timm);
* head: global average pool and a linear classifier.

SE width (see :mod:`designspace.blocks.tresnet`): ``max(floor(width * se_ratio), 64)`` where ``width`` is the
block's output width, which reproduces timm's ``max(planes // 4, 64)`` (basic, SE on the output)
and ``max(4 * planes // 8, 64)`` (bottleneck, SE on the inner width).
"""
from __future__ import annotations

import math
from typing import Sequence

from ..spec import HeadSpec, NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["tresnet", "TRESNET_SIZES"]

#: size -> (blocks per stage, width factor); Ridnik et al. 2021 Table 1 / timm tresnet_{m,l,xl}.
TRESNET_SIZES: dict[str, tuple[tuple[int, int, int, int], float]] = {
    "m": ((3, 4, 11, 3), 1.0),
    "l": ((4, 5, 18, 3), 1.2),
    "xl": ((4, 5, 24, 3), 1.3),
}
#: per stage: (block kind, width in units of p, bottleneck ratio, SE ratio)
_STAGES = (
    ("tresnet_basic", 1, 1.0, 0.25),
    ("tresnet_basic", 2, 1.0, 0.25),
    ("tresnet_bottleneck", 16, 4.0, 0.125),
    ("tresnet_bottleneck", 32, 4.0, 0.0),
)


def _layers(layers: object) -> tuple[int, int, int, int]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) != 4:
        raise SpecError("layers", layers, "must be a sequence of 4 block counts (one per stage)")
    for i, d in enumerate(layers):
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise SpecError(f"layers[{i}]", d, "must be a positive integer")
    return tuple(layers)  # type: ignore[return-value]


def _width_factor(width_factor: object) -> float:
    if isinstance(width_factor, bool) or not isinstance(width_factor, (int, float)) or not math.isfinite(width_factor):
        raise SpecError("width_factor", width_factor, "must be a finite number")
    if int(64 * width_factor) < 1:
        raise SpecError("width_factor", width_factor, "must give a stem width int(64 * width_factor) >= 1")
    return float(width_factor)


def tresnet(
    size: str | None = "m",
    *,
    layers: Sequence[int] | None = None,
    width_factor: float | None = None,
    resolution: int = 224,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
    in_chans: int = 3,
) -> NetSpec:
    """TResNet-M/L/XL, or any ``layers`` x ``width_factor`` of the same layout.

    ``size`` picks the published ``layers`` and ``width_factor`` (Table 1); explicit ``layers`` /
    ``width_factor`` override them (``size=None`` requires both).  ``resolution`` must be a
    multiple of 4 (SpaceToDepth) and at least the total stride 32.

    >>> tresnet("m").widths
    [64, 128, 1024, 2048]
    """
    if size is None:
        if layers is None or width_factor is None:
            raise SpecError("size", size, "needs both layers and width_factor when no size is given")
        base_layers, base_wf = layers, width_factor
    elif not isinstance(size, str) or size.lower() not in TRESNET_SIZES:
        raise SpecError("size", size, f"is not one of {', '.join(TRESNET_SIZES)}")
    else:
        base_layers, base_wf = TRESNET_SIZES[size.lower()]
    depths = _layers(base_layers if layers is None else layers)
    wf = _width_factor(base_wf if width_factor is None else width_factor)
    p = int(64 * wf)
    stages = tuple(
        StageSpec(
            block=block, depth=d, width=mult * p, stride=1 if i == 0 else 2,
            bottleneck_ratio=ratio, se_ratio=se, shortcut="avgpool", anti_alias=i > 0,
        )
        for i, (d, (block, mult, ratio, se)) in enumerate(zip(depths, _STAGES))
    )
    return NetSpec(
        stem=StemSpec(kind="s2d", width=p),
        stages=stages,
        head=HeadSpec(),
        resolution=resolution,
        num_classes=num_classes,
        in_chans=in_chans,
        activation="leaky_relu",
        drop_path_rate=drop_path_rate,
    )
