"""The EfficientNet family (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional
Neural Networks", ICML 2019), as timm builds it (``timm/models/efficientnet.py``,
``_gen_efficientnet``).

The B0 base network (paper Table 1) is a 3x3 stride-2 stem, seven stages of MBConv blocks and a
1x1 conv head.  A model is B0 scaled by a width multiplier (channels, rounded to multiples of 8
by timm's ``round_channels``), a depth multiplier (repeats, ``ceil(d * r)``, timm's
``depth_trunc='ceil'``) and an input resolution.  Every block has a squeeze-excitation of ratio
0.25 relative to the block's input width and the SiLU ("swish") activation.

Pure Python: no torch.
"""
from __future__ import annotations

import math
from typing import Any

from ..rules import make_divisible
from ..spec import HeadSpec, NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["efficientnet", "efficientnet_compound", "round_channels", "B0_STAGES"]

#: The B0 stages (paper Table 1 / timm's ``arch_def``):
#: (block, kernel, stride, expand ratio, output channels, repeats); SE ratio 0.25 everywhere.
B0_STAGES: tuple[tuple[str, int, int, float, int, int], ...] = (
    ("ds", 3, 1, 1.0, 16, 1),
    ("mbconv", 3, 2, 6.0, 24, 2),
    ("mbconv", 5, 2, 6.0, 40, 2),
    ("mbconv", 3, 2, 6.0, 80, 3),
    ("mbconv", 5, 1, 6.0, 112, 3),
    ("mbconv", 5, 2, 6.0, 192, 4),
    ("mbconv", 3, 1, 6.0, 320, 1),
)
B0_STEM = 32
B0_HEAD = 1280
SE_RATIO = 0.25
#: total stride of every EfficientNet: the smallest input resolution.
MIN_RESOLUTION = 32


def round_channels(channels: int, multiplier: float = 1.0, divisor: int = 8) -> int:
    """timm's ``round_channels``: ``channels * multiplier`` to the nearest multiple of
    ``divisor``, never more than 10% below the unrounded value."""
    if not multiplier:
        return channels
    return make_divisible(channels * multiplier, divisor)


def _positive(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise SpecError(name, v, "must be a finite number > 0")
    return float(v)


def _check_common(resolution: Any, dropout: Any) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise SpecError("resolution", resolution, "must be an integer")
    if resolution < MIN_RESOLUTION:
        raise SpecError("resolution", resolution, f"is too small: EfficientNet's total stride is {MIN_RESOLUTION}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise SpecError("dropout", dropout, "must be in [0, 1)")


def efficientnet(
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    resolution: int = 224,
    dropout: float = 0.2,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
) -> NetSpec:
    """B0 scaled by ``width_mult`` (channels) and ``depth_mult`` (repeats), at ``resolution``.

    Stem width ``round_channels(32 * w)``; stage widths ``round_channels(c * w)``; stage depths
    ``ceil(r * d)`` (so any ``d > 1`` deepens every stage, as in timm); head width
    ``round_channels(1280 * w)``; ``dropout`` before the classifier.  The stride of each stage
    applies to its first block; the SE ratio is relative to each block's input width.

    With timm's multipliers this is timm's ``efficientnet_b0`` ... ``efficientnet_b7``
    (:data:`designspace.zoo`).  Raises :class:`SpecError` naming a bad argument.
    """
    w = _positive("width_mult", width_mult)
    d = _positive("depth_mult", depth_mult)
    _check_common(resolution, dropout)
    stages = tuple(
        StageSpec(
            block=block, depth=int(math.ceil(repeats * d)), width=round_channels(chs, w), stride=stride,
            se_ratio=SE_RATIO, kernel_size=k, expand_ratio=e,
        )
        for block, k, stride, e, chs, repeats in B0_STAGES
    )
    return NetSpec(
        stem=StemSpec(kind="simple", width=round_channels(B0_STEM, w)),
        stages=stages,
        head=HeadSpec(width=round_channels(B0_HEAD, w), dropout=float(dropout)),
        resolution=resolution,
        num_classes=num_classes,
        activation="silu",
        drop_path_rate=drop_path_rate,
    )


def efficientnet_compound(
    phi: float,
    alpha: float = 1.2,
    beta: float = 1.1,
    gamma: float = 1.15,
    base_resolution: int = 224,
    dropout: float = 0.2,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
) -> NetSpec:
    """Compound scaling (Tan & Le 2019, Eq. 3): depth ``alpha ** phi``, width ``beta ** phi``,
    resolution ``gamma ** phi`` times B0's, with the paper's grid-searched ``alpha=1.2,
    beta=1.1, gamma=1.15`` (``alpha * beta**2 * gamma**2 ~= 2``, so FLOPs grow ~``2 ** phi``).

    The resolution is ``base_resolution * gamma ** phi`` rounded half up to the nearest integer
    (then checked to be at least the network stride, 32).

    Note: the published B1..B7 coefficients (zoo entries ``efficientnet_b1`` ...) are hand-rounded
    by the authors, not exact powers: e.g. B1 is (w=1.0, d=1.1, 240px) while phi=1 gives
    (1.1, 1.2, 258px).  Use :func:`efficientnet` with the published numbers for the named models.
    """
    if isinstance(phi, bool) or not isinstance(phi, (int, float)) or not math.isfinite(phi) or phi < 0:
        raise SpecError("phi", phi, "must be a finite number >= 0")
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 1:
            raise SpecError(name, v, "must be a finite number >= 1 (Tan & Le 2019, Eq. 3)")
    if isinstance(base_resolution, bool) or not isinstance(base_resolution, int) or base_resolution < MIN_RESOLUTION:
        raise SpecError("base_resolution", base_resolution, f"must be an integer >= {MIN_RESOLUTION}")
    resolution = int(math.floor(base_resolution * gamma**phi + 0.5))
    return efficientnet(
        width_mult=beta**phi, depth_mult=alpha**phi, resolution=resolution, dropout=dropout,
        num_classes=num_classes, drop_path_rate=drop_path_rate,
    )
