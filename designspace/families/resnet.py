"""ResNet family: ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016),
ResNet-C/D (He et al., "Bag of Tricks for Image Classification with CNNs", CVPR 2019), ResNeXt
(Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017),
SE-ResNet (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018) and ResNet-RS (Bello et al.,
"Revisiting ResNets: Improved Training and Scaling Strategies", NeurIPS 2021).

Every member, not only the published ones: any configuration ``timm.models.resnet.ResNet``
builds (block, per-stage layers, per-stage channels, cardinality, base width, 7x7 or deep stem
of any width, max-pool or strided-conv stem pool, avg-pool shortcuts, SE) has an equal spec
here, with the same parameter count and, with timm's weights mapped in, the same logits.  The
published layouts are data (:data:`RESNET_LAYOUTS`, :data:`RESNET_RS_LAYOUTS`); ``depth=`` is
the shorthand for them.

Widths follow timm: stage ``i`` has ``planes_i`` (64, 128, 256, 512 times ``width_mult`` by
default); a basic block outputs ``planes``, a bottleneck ``4 * planes`` with inner width
``floor(planes * width_per_group / 64) * groups``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from ..spec import HeadSpec, NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["resnet", "resnet_rs", "resnet_rs_layers", "RESNET_LAYOUTS", "RESNET_RS_LAYOUTS", "RESNET_RS_RESOLUTIONS"]

#: depth -> (block kind, blocks per stage); He et al. 2016, Table 1 (26 and 200 as in timm).
RESNET_LAYOUTS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    26: ("bottleneck", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
#: depth -> bottleneck blocks per stage; Bello et al. 2021, Table 7 (timm's resnetrs*).
RESNET_RS_LAYOUTS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
    270: (4, 29, 53, 4),
    350: (4, 36, 72, 4),
    420: (4, 44, 87, 4),
}
#: depth -> training resolution of the released ResNet-RS weights (timm's default_cfg input_size).
RESNET_RS_RESOLUTIONS: dict[int, int] = {50: 160, 101: 192, 152: 256, 200: 256, 270: 256, 350: 288, 420: 320}

#: stage "planes" (the basic block's width, a quarter of the bottleneck's output width)
_PLANES = (64, 128, 256, 512)
#: variant -> (stem, avg-pool shortcut).  "b": torchvision/v1.5; "c": deep stem;
#: "d": deep stem and avg-pool downsample (Bag of Tricks, Fig. 2); "t": timm's resnet*t, the
#: tiered deep stem (24-32-64) and avg-pool downsample.
_VARIANTS = {"b": ("resnet", False), "c": ("deep", False), "d": ("deep", True), "t": ("deep_tiered", True)}
_DEEP_WIDTH = 32
STEMS = ("resnet", "deep", "deep_tiered")
STEM_POOLS = ("max", "conv", "none")


def _choice(name: str, value: object, table: Any) -> None:
    keys = list(table)
    if type(value) is not type(keys[0]) or value not in keys:
        raise SpecError(name, value, f"is not one of {', '.join(map(str, keys))}")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(name, value, "must be a positive integer")
    return value


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SpecError(name, value, "must be a finite number > 0")
    return float(value)


def _layers(name: str, layers: object) -> tuple[int, ...]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not 1 <= len(layers) <= 8:
        raise SpecError(name, layers, "must be a sequence of 1 to 8 block counts (one per stage)")
    for i, d in enumerate(layers):
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise SpecError(f"{name}[{i}]", d, "must be a positive integer")
    return tuple(layers)


def _se_ratio(se_ratio: object) -> float:
    if isinstance(se_ratio, bool) or not isinstance(se_ratio, (int, float)) or not 0.0 <= se_ratio < 1.0:
        raise SpecError("se_ratio", se_ratio, "must be a number in [0, 1)")
    return float(se_ratio)


def _planes(n: int, width: object, widths: object, width_mult: object) -> tuple[int, ...]:
    """Per-stage planes: ``widths`` as given, else ``width * 2**i`` times ``width_mult``
    (timm's ``channels``; the multiplied widths are rounded to integers)."""
    m = _positive("width_mult", width_mult)
    if widths is not None:
        ws = _layers("widths", widths)
        if len(ws) != n:
            raise SpecError("widths", widths, f"has {len(ws)} entries for {n} stages")
        if width is not None:
            raise SpecError("width", width, "and widths are the same setting; give one")
    else:
        base = 64 if width is None else _positive_int("width", width)
        ws = tuple(base * 2 ** i for i in range(n))
    return tuple(max(1, int(round(w * m))) for w in ws)


def _stages(block: str, depths: Sequence[int], planes: Sequence[int], se_ratio: float, groups: int,
            width_per_group: int, shortcut: str) -> tuple[StageSpec, ...]:
    stages = []
    for i, (p, d) in enumerate(zip(planes, depths)):
        if block == "basic":
            width, mid = p, p
        else:
            # timm Bottleneck: width = floor(planes * base_width / 64) * cardinality, out = 4 * planes
            width, mid = 4 * p, (p * width_per_group // 64) * groups
            if mid < groups:
                raise SpecError("width_per_group", width_per_group, f"gives stage {i + 1} (planes {p}) an inner width "
                                f"of 0 channels per group")
        stages.append(StageSpec(
            block=block, depth=d, width=width, stride=1 if i == 0 else 2,
            bottleneck_ratio=width / mid, group_width=0 if groups == 1 else mid // groups,
            se_ratio=float(se_ratio), shortcut=shortcut,
        ))
    return tuple(stages)


def _stem(stem: str, stem_width: int | None, stem_pool: str) -> StemSpec:
    _choice("stem", stem, STEMS)
    _choice("stem_pool", stem_pool, STEM_POOLS)
    if stem in ("deep", "deep_tiered"):
        sw = _DEEP_WIDTH if stem_width is None else _positive_int("stem_width", stem_width)
        return StemSpec(kind=stem, width=2 * sw, deep_width=sw, pool=stem_pool)
    sw = 64 if stem_width is None else _positive_int("stem_width", stem_width)
    return StemSpec(kind="resnet", width=sw, pool=stem_pool)


def resnet(
    depth: int | None = None,
    variant: str = "b",
    se_ratio: float = 0.0,
    groups: int = 1,
    width_per_group: int = 64,
    resolution: int = 224,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
    *,
    layers: Sequence[int] | None = None,
    block: str | None = None,
    width: int | None = None,
    widths: Sequence[int] | None = None,
    width_mult: float = 1.0,
    stem: str | None = None,
    stem_width: int | None = None,
    stem_pool: str = "max",
    shortcut: str | None = None,
    dropout: float = 0.0,
    in_chans: int = 3,
) -> NetSpec:
    """A ResNet: ``depth`` (18, 26, 34, 50, 101, 152, 200) picks a published layout, or
    ``layers=(d1, d2, ...)`` with ``block="basic"|"bottleneck"`` any other.

    * widths: ``width`` (the first stage's planes, default 64, doubling per stage), or
      ``widths`` (planes per stage), times ``width_mult``;
    * ``groups`` and ``width_per_group`` make a ResNeXt (bottlenecks only): inner width
      ``floor(planes * width_per_group / 64) * groups``;
    * ``stem="resnet"`` (7x7, ``stem_width`` default 64), ``"deep"`` (3x3 convs of
      ``stem_width``, ``stem_width``, ``2 * stem_width``; default 32) or ``"deep_tiered"``
      (the first conv ``3 * (stem_width // 4)`` wide: timm's resnet*t), then ``stem_pool``
      (``max``, ``conv``: the strided 3x3 conv of ResNet-RS, or ``none``);
    * ``shortcut="conv"`` (strided 1x1) or ``"avgpool"`` (ResNet-D); ``variant`` ``"b"``,
      ``"c"`` (deep stem), ``"d"`` (deep stem + avg-pool shortcut) or ``"t"`` (tiered deep
      stem + avg-pool shortcut, timm's resnet10t/14t/26t/50t) sets both at once;
    * ``se_ratio`` > 0 adds SE (Hu et al.) to every block, reduction relative to the block
      output (SE-ResNet: 1/16); ``dropout`` before the classifier.

    timm's ``ResNet(block, layers, channels=planes, cardinality=groups, base_width=
    width_per_group, stem_type='deep' or '', stem_width, replace_stem_pool, avg_down,
    block_args=dict(attn_layer=SE))`` (``stem_type='deep_tiered'`` for the tiered stem) is the same network (timm's plain stem is always 64 wide).
    """
    if depth is not None and layers is not None:
        raise SpecError("layers", layers, "and depth are the same setting; give one")
    if depth is not None:
        _choice("depth", depth, RESNET_LAYOUTS)
        kind, depths = RESNET_LAYOUTS[depth]
        if block is not None and block != kind:
            raise SpecError("block", block, f"does not match ResNet-{depth}, which uses {kind} blocks")
        block, what = kind, f"ResNet-{depth}"
    elif layers is not None:
        depths = _layers("layers", layers)
        if block is None:
            raise SpecError("block", block, "is required with layers (basic or bottleneck)")
        _choice("block", block, ("basic", "bottleneck"))
        what = f"a {block}-block ResNet"
    else:
        raise SpecError("depth", depth, "or layers=(...) is required")
    _choice("variant", variant, _VARIANTS)
    se = _se_ratio(se_ratio)
    _positive_int("groups", groups)
    _positive_int("width_per_group", width_per_group)
    if block == "basic" and groups != 1:
        raise SpecError("groups", groups, f"must be 1: {what} uses basic blocks (no grouped conv)")
    if block == "basic" and width_per_group != 64:
        raise SpecError("width_per_group", width_per_group, f"must be 64: {what} uses basic blocks")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise SpecError("dropout", dropout, "must be in [0, 1)")
    stem_kind, avg = _VARIANTS[variant]
    stem_spec = _stem(stem if stem is not None else stem_kind, stem_width, stem_pool)
    if shortcut is None:
        shortcut = "avgpool" if avg else "conv"
    _choice("shortcut", shortcut, ("conv", "avgpool"))
    planes = _planes(len(depths), width, widths, width_mult)
    return NetSpec(
        stem=stem_spec,
        stages=_stages(block, depths, planes, se, groups, width_per_group, shortcut),
        head=HeadSpec(dropout=float(dropout)),
        resolution=resolution,
        num_classes=num_classes,
        in_chans=in_chans,
        drop_path_rate=drop_path_rate,
    )


def resnet_rs_layers(depth: int) -> tuple[int, int, int, int]:
    """Blocks per stage of ResNet-RS-``depth``: the published layout (Table 7), or for another
    depth ``D = 3 * blocks + 2`` (D >= 50), the rule that extends them: the nearest published
    depth gives the first and last stage and the split of the two middle stages (the stages the
    paper deepens, conv3_x and conv4_x), whose total grows or shrinks to make ``D``, rounded to
    whole blocks (stage 3 ``round(total * its published share)``, stage 2 the rest)."""
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise SpecError("depth", depth, "must be an integer")
    if depth in RESNET_RS_LAYOUTS:
        return RESNET_RS_LAYOUTS[depth]
    if depth < 50 or (depth - 2) % 3:
        valid = [d for d in range(max(50, depth - 3), depth + 4) if (d - 2) % 3 == 0]
        raise SpecError("depth", depth, "is not a ResNet-RS depth: it must be 3 * blocks + 2 and >= 50 (e.g. "
                        f"{', '.join(map(str, valid))}; published: {', '.join(map(str, RESNET_RS_LAYOUTS))})")
    ref = min(RESNET_RS_LAYOUTS, key=lambda d: (abs(d - depth), d))
    a, b, c, e = RESNET_RS_LAYOUTS[ref]
    inner = (depth - 2) // 3 - a - e
    if inner < 2:
        raise SpecError("depth", depth, "is too shallow for the ResNet-RS layout rule")
    s3 = min(inner - 1, max(1, round(inner * c / (b + c))))
    return (a, inner - s3, s3, e)


def resnet_rs(
    depth: int | None = None,
    resolution: int | None = None,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
    *,
    layers: Sequence[int] | None = None,
    width_mult: float = 1.0,
    in_chans: int = 3,
    dropout: float = 0.0,
) -> NetSpec:
    """ResNet-RS (Bello et al. 2021, Sec. 4.1): ResNet-D (deep 32-32-64 stem, avg-pool shortcut)
    whose stem max-pool is a strided 3x3 conv, with SE (ratio 0.25) in every bottleneck.

    ``depth`` uses :func:`resnet_rs_layers` (the 7 published layouts, or the documented rule
    for depths between and beyond them), or ``layers`` gives the blocks per stage.
    ``width_mult`` scales every stage's width (the stem is kept), as the paper's width scaling
    (Sec. 7, Fig. 3: depth 101-400 x width 1.0-2.0 x resolution 128-320).  ``resolution``
    defaults to the released weights' training resolution for a published depth, else 224."""
    if depth is not None and layers is not None:
        raise SpecError("layers", layers, "and depth are the same setting; give one")
    if layers is not None:
        depths = _layers("layers", layers)
    elif depth is not None:
        depths = resnet_rs_layers(depth)
    else:
        raise SpecError("depth", depth, "or layers=(...) is required")
    if resolution is None:
        resolution = RESNET_RS_RESOLUTIONS.get(depth, 224) if depth is not None else 224
    return resnet(layers=depths, block="bottleneck", se_ratio=0.25, resolution=resolution, num_classes=num_classes,
                  drop_path_rate=drop_path_rate, width_mult=width_mult, stem="deep", stem_width=_DEEP_WIDTH,
                  stem_pool="conv", shortcut="avgpool", in_chans=in_chans, dropout=dropout)
