"""The stem kinds.

* ``simple`` -- one 3x3 stride-2 conv-norm-act (RegNet, EfficientNet; pycls ``simple_stem_in``).
* ``resnet`` -- 7x7 stride-2 conv-norm-act, then the ``pool`` (He et al. 2016).
* ``deep`` -- three 3x3 conv-norm-acts (``deep_width``, ``deep_width``, ``width``), the first
  strided (ResNet-C/D, He et al. 2019; ResNet-RS, Bello et al. 2021), then the ``pool``.
* ``deep_tiered`` -- the ``deep`` stem with a narrower first conv, ``3 * (deep_width // 4)``
  wide (timm's ``stem_type='deep_tiered'`` of resnet10t/14t/26t/50t), then the ``pool``.
* ``s2d`` -- SpaceToDepth(4) then a 3x3 conv-norm-act (TResNet, Ridnik et al. 2021).
* ``cifar`` -- one 3x3 stride-1 conv-norm-act (pycls ``res_stem_cifar``, the stem of the NDS
  paper's CIFAR design spaces).

``pool`` (``none``, ``max``: 3x3 stride-2 max-pool, ``conv``: 3x3 stride-2 conv-norm-act, the
ResNet-RS stem) applies to the ``resnet``, ``deep`` and ``deep_tiered`` stems.
"""
from __future__ import annotations

from typing import Any

from ..errors import SpecError
from . import StemKind, register_stem


def _pool_stride(stem: Any) -> int:
    return 1 if stem.pool == "none" else 2


def _count_pool(cx: Any, stem: Any) -> None:
    if stem.pool == "max":
        cx.pool(3, 2, padding=1)
    elif stem.pool == "conv":
        cx.conv_norm(stem.width, 3, 2)


# ------------------------------------------------------------------------------ simple
def _build_simple(stem: Any, in_chans: int, act: Any, norm: Any) -> Any:
    from ..blocks.layers import ConvNormAct

    return ConvNormAct(in_chans, stem.width, 3, 2, norm_layer=norm, act_layer=act)


register_stem(StemKind(
    "simple", stride=lambda stem: 2, count=lambda cx, stem: cx.conv_norm(stem.width, 3, 2), build=_build_simple,
    doc="3x3 stride-2 conv-norm-act",
))


# ------------------------------------------------------------------------ resnet, deep
def _count_resnet(cx: Any, stem: Any) -> None:
    if stem.kind in ("deep", "deep_tiered"):
        first = 3 * (stem.deep_width // 4) if stem.kind == "deep_tiered" else stem.deep_width
        cx.conv_norm(first, 3, 2).conv_norm(stem.deep_width, 3).conv_norm(stem.width, 3)
    else:
        cx.conv_norm(stem.width, 7, 2)
    _count_pool(cx, stem)


def _build_resnet(stem: Any, in_chans: int, act: Any, norm: Any) -> Any:
    from ..blocks.stems import ResNetStem

    return ResNetStem(in_chans, stem.width, deep_width=stem.deep_width, pool=stem.pool, tiered=stem.kind == "deep_tiered",
                      norm_layer=norm, act_layer=act)


def _check_deep(stem: Any, path: str) -> None:
    if isinstance(stem.deep_width, bool) or not isinstance(stem.deep_width, int) or stem.deep_width < 1:
        raise SpecError(f"{path}.deep_width", stem.deep_width, "must be an integer >= 1 for a deep stem")


register_stem(StemKind(
    "resnet", stride=lambda stem: 2 * _pool_stride(stem), count=_count_resnet, build=_build_resnet, reads=("pool",),
    doc="7x7 stride-2 conv-norm-act, then the pool",
))
register_stem(StemKind(
    "deep", stride=lambda stem: 2 * _pool_stride(stem), count=_count_resnet, build=_build_resnet,
    reads=("deep_width", "pool"), check=_check_deep, doc="three 3x3 conv-norm-acts, the first strided, then the pool",
))


def _check_tiered(stem: Any, path: str) -> None:
    if isinstance(stem.deep_width, bool) or not isinstance(stem.deep_width, int) or stem.deep_width < 4:
        raise SpecError(f"{path}.deep_width", stem.deep_width, "must be an integer >= 4 for a deep_tiered stem "
                        "(its first conv is 3 * (deep_width // 4) wide)")


register_stem(StemKind(
    "deep_tiered", stride=lambda stem: 2 * _pool_stride(stem), count=_count_resnet, build=_build_resnet,
    reads=("deep_width", "pool"), check=_check_tiered,
    doc="three 3x3 conv-norm-acts (3 * (deep_width // 4), deep_width, width), the first strided, then the pool",
))


# --------------------------------------------------------------------------------- s2d
def _build_s2d(stem: Any, in_chans: int, act: Any, norm: Any) -> Any:
    from ..blocks.tresnet import SpaceToDepthStem, tresnet_stem_act

    # timm's TResNet stem uses leaky ReLU slope 1e-2 where its blocks use 1e-3
    return SpaceToDepthStem(in_chans, stem.width, norm_layer=norm, act_layer=tresnet_stem_act(act))


register_stem(StemKind(
    "s2d", stride=lambda stem: 4, count=lambda cx, stem: cx.space_to_depth(4).conv_norm(stem.width, 3),
    build=_build_s2d, input_multiple=4, doc="SpaceToDepth(4), then a 3x3 conv-norm-act (the input size must be a multiple of 4)",
))


# ------------------------------------------------------------------------------- cifar
def _build_cifar(stem: Any, in_chans: int, act: Any, norm: Any) -> Any:
    from ..blocks.layers import ConvNormAct

    return ConvNormAct(in_chans, stem.width, 3, 1, norm_layer=norm, act_layer=act)


register_stem(StemKind(
    "cifar", stride=lambda stem: 1, count=lambda cx, stem: cx.conv_norm(stem.width, 3, 1), build=_build_cifar,
    doc="3x3 stride-1 conv-norm-act (pycls res_stem_cifar)",
))
