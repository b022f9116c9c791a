"""ResNet family: ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016),
ResNet-C/D (He et al., "Bag of Tricks for Image Classification with CNNs", CVPR 2019), ResNeXt
(Xie et al., "Aggregated Residual Transformations for Deep Neural Networks", CVPR 2017),
SE-ResNet (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018) and ResNet-RS (Bello et al.,
"Revisiting ResNets: Improved Training and Scaling Strategies", NeurIPS 2021).

Pure functions from published parameters to a :class:`NetSpec`; the layouts are timm's
(``timm.models.resnet``), which are the papers' tables.
"""
from __future__ import annotations

from ..spec import HeadSpec, NetSpec, SpecError, StageSpec, StemSpec

__all__ = ["resnet", "resnet_rs", "RESNET_LAYOUTS", "RESNET_RS_LAYOUTS", "RESNET_RS_RESOLUTIONS"]

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
#: variant -> (deep stem, avg-pool shortcut).  "b": torchvision/v1.5; "c": deep stem;
#: "d": deep stem and avg-pool downsample (Bag of Tricks, Fig. 2).
_VARIANTS = {"b": (False, False), "c": (True, False), "d": (True, True)}
_DEEP_WIDTH = 32


def _choice(name: str, value: object, table: dict) -> None:
    if type(value) is not type(next(iter(table))) or value not in table:
        raise SpecError(name, value, f"is not one of {', '.join(map(str, table))}")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(name, value, "must be a positive integer")
    return value


def _stages(
    block: str, depths: tuple[int, ...], se_ratio: float, groups: int, width_per_group: int, shortcut: str,
) -> tuple[StageSpec, ...]:
    stages = []
    for i, (planes, d) in enumerate(zip(_PLANES, depths)):
        if block == "basic":
            width, mid = planes, planes
        else:
            # timm Bottleneck: width = floor(planes * base_width / 64) * cardinality, out = 4 * planes
            width, mid = 4 * planes, (planes * width_per_group // 64) * groups
        stages.append(StageSpec(
            block=block, depth=d, width=width, stride=1 if i == 0 else 2,
            bottleneck_ratio=width / mid, group_width=0 if groups == 1 else mid // groups,
            se_ratio=float(se_ratio), shortcut=shortcut,
        ))
    return tuple(stages)


def _se_ratio(se_ratio: object) -> float:
    if isinstance(se_ratio, bool) or not isinstance(se_ratio, (int, float)) or not 0.0 <= se_ratio < 1.0:
        raise SpecError("se_ratio", se_ratio, "must be a number in [0, 1)")
    return float(se_ratio)


def resnet(
    depth: int,
    variant: str = "b",
    se_ratio: float = 0.0,
    groups: int = 1,
    width_per_group: int = 64,
    resolution: int = 224,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
) -> NetSpec:
    """ResNet-``depth`` (18, 26, 34, 50, 101, 152, 200).

    ``variant``: ``"b"`` 7x7 stem + strided 1x1 shortcut; ``"c"`` deep 3x3 stem (32, 32, 64);
    ``"d"`` deep stem + avg-pool shortcut.  ``se_ratio`` > 0 adds SE (Hu et al.) to every block,
    reduction relative to the block output (SE-ResNet: 1/16).  ``groups`` and ``width_per_group``
    make it a ResNeXt-``depth`` ``groups``x``width_per_group``d (bottleneck depths only): the
    bottleneck width of stage i is ``floor(64 * 2**i * width_per_group / 64) * groups``.
    """
    _choice("depth", depth, RESNET_LAYOUTS)
    _choice("variant", variant, _VARIANTS)
    se = _se_ratio(se_ratio)
    _positive_int("groups", groups)
    _positive_int("width_per_group", width_per_group)
    block, depths = RESNET_LAYOUTS[depth]
    if block == "basic" and groups != 1:
        raise SpecError("groups", groups, f"must be 1: ResNet-{depth} uses basic blocks (no grouped conv)")
    if block == "basic" and width_per_group != 64:
        raise SpecError("width_per_group", width_per_group, f"must be 64: ResNet-{depth} uses basic blocks")
    deep, avg = _VARIANTS[variant]
    stem = StemSpec(kind="deep" if deep else "resnet", width=64, deep_width=_DEEP_WIDTH if deep else 0, pool="max")
    return NetSpec(
        stem=stem,
        stages=_stages(block, depths, se, groups, width_per_group, "avgpool" if avg else "conv"),
        head=HeadSpec(),
        resolution=resolution,
        num_classes=num_classes,
        drop_path_rate=drop_path_rate,
    )


def resnet_rs(
    depth: int,
    resolution: int | None = None,
    num_classes: int = 1000,
    drop_path_rate: float = 0.0,
) -> NetSpec:
    """ResNet-RS-``depth`` (50, 101, 152, 200, 270, 350, 420), Bello et al. 2021, Sec. 4.1:
    ResNet-D (deep stem, avg-pool shortcut) whose stem max-pool is a strided 3x3 conv, with SE
    (ratio 0.25) in every bottleneck.  ``resolution`` defaults to the released weights'
    training resolution (:data:`RESNET_RS_RESOLUTIONS`)."""
    _choice("depth", depth, RESNET_RS_LAYOUTS)
    return NetSpec(
        stem=StemSpec(kind="deep", width=64, deep_width=_DEEP_WIDTH, pool="conv"),
        stages=_stages("bottleneck", RESNET_RS_LAYOUTS[depth], 0.25, 1, 64, "avgpool"),
        head=HeadSpec(),
        resolution=RESNET_RS_RESOLUTIONS[depth] if resolution is None else resolution,
        num_classes=num_classes,
        drop_path_rate=drop_path_rate,
    )
