"""NetSpec -> torch.nn.Module (``designspace.build`` calls :func:`build` here).  The only designspace module that imports torch.

The built network has one layout for every family::

    Net
      stem            kind-specific (``blocks.stems`` / ``blocks.tresnet``)
      stages.{i}.{j}  block j of stage i
      head            optional 1x1 conv, global average pool, dropout, ``fc``

Each block kind has one adapter below that reads a :class:`StageSpec` and calls the block's
constructor with explicit arguments; blocks never see a spec.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from blocks.heads import ClassifierHead
from blocks.layers import ConvNormAct, ModuleFactory, get_act, get_norm

from .spec import NetSpec, StageSpec, StemSpec

__all__ = ["build", "Net"]


@dataclass(frozen=True)
class BlockContext:
    """What a block needs beyond its stage: activation/norm factories and its drop-path rate."""

    act: ModuleFactory
    norm: ModuleFactory
    act_name: str
    drop_path: float
    index_in_stage: int
    stage_index: int
    num_stages: int


# ------------------------------------------------------------------------------ stems
def _stem(stem: StemSpec, in_chans: int, act: ModuleFactory, norm: ModuleFactory) -> nn.Module:
    if stem.kind == "simple":
        return ConvNormAct(in_chans, stem.width, 3, 2, norm_layer=norm, act_layer=act)
    if stem.kind in ("resnet", "deep"):
        from blocks.stems import ResNetStem

        return ResNetStem(in_chans, stem.width, deep_width=stem.deep_width, pool=stem.pool, norm_layer=norm, act_layer=act)
    if stem.kind == "s2d":
        from blocks.tresnet import SpaceToDepthStem, tresnet_stem_act

        # timm's TResNet stem uses leaky ReLU slope 1e-2 where its blocks use 1e-3
        return SpaceToDepthStem(in_chans, stem.width, norm_layer=norm, act_layer=tresnet_stem_act(act))
    raise AssertionError(stem.kind)  # validated by the spec


# ----------------------------------------------------------------------------- blocks
def _basic(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.residual import BasicBlock

    from .complexity.residual import se_width

    return BasicBlock(
        in_chs, st.width, stride=stride, se_chs=se_width(st.width, st.se_ratio), shortcut=st.shortcut,
        norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


def _bottleneck(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.residual import Bottleneck

    from .complexity.residual import se_width

    return Bottleneck(
        in_chs, st.width, stride=stride, mid_chs=st.bottleneck_width, groups=st.groups,
        se_chs=se_width(st.width, st.se_ratio), shortcut=st.shortcut,
        norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


def _regnet(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.regnet import RegNetBlock

    from .complexity.regnet import regnet_se_width

    return RegNetBlock(
        in_chs, st.width, stride=stride, mid_chs=st.bottleneck_width, groups=st.groups,
        se_chs=regnet_se_width(in_chs, st.se_ratio, st.bottleneck_width), norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


def _ds(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.mbconv import DepthwiseSeparable

    from .complexity.mbconv import ds_se_width

    return DepthwiseSeparable(
        in_chs, st.width, kernel_size=st.kernel_size, stride=stride, se_chs=ds_se_width(in_chs, st.se_ratio),
        norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


def _mbconv(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.mbconv import MBConv

    from .complexity.mbconv import mbconv_widths

    mid, se = mbconv_widths(in_chs, st.expand_ratio, st.se_ratio)
    return MBConv(
        in_chs, st.width, mid_chs=mid, kernel_size=st.kernel_size, stride=stride, se_chs=se,
        norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


def _tresnet_basic(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.tresnet import TResNetBasic

    from .complexity.tresnet import se_width

    return TResNetBasic(
        in_chs, st.width, stride=stride, se_chs=se_width(st.width, st.se_ratio), anti_alias=st.anti_alias, shortcut=st.shortcut,
        norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


def _tresnet_bottleneck(st: StageSpec, in_chs: int, stride: int, ctx: BlockContext) -> nn.Module:
    from blocks.tresnet import TResNetBottleneck

    from .complexity.tresnet import se_width

    return TResNetBottleneck(
        in_chs, st.width, stride=stride, mid_chs=st.bottleneck_width, se_chs=se_width(st.width, st.se_ratio),
        anti_alias=st.anti_alias, shortcut=st.shortcut,
        norm_layer=ctx.norm, act_layer=ctx.act, drop_path=ctx.drop_path,
    )


_BLOCKS: dict[str, Callable[[StageSpec, int, int, BlockContext], nn.Module]] = {
    "basic": _basic,
    "bottleneck": _bottleneck,
    "regnet": _regnet,
    "ds": _ds,
    "mbconv": _mbconv,
    "tresnet_basic": _tresnet_basic,
    "tresnet_bottleneck": _tresnet_bottleneck,
}


# -------------------------------------------------------------------------------- net
class Net(nn.Module):
    """A network built from a :class:`NetSpec` (kept as ``self.spec``)."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        act, norm = get_act(spec.activation), get_norm(spec.norm)
        self.stem = _stem(spec.stem, spec.in_chans, act, norm)
        total = spec.depth
        chs, k = spec.stem.width, 0
        stages = []
        for i, st in enumerate(spec.stages):
            blocks = []
            for j in range(st.depth):
                ctx = BlockContext(
                    act=act, norm=norm, act_name=spec.activation,
                    drop_path=spec.drop_path_rate * k / max(total - 1, 1),
                    index_in_stage=j, stage_index=i, num_stages=len(spec.stages),
                )
                blocks.append(_BLOCKS[st.block](st, chs, st.stride if j == 0 else 1, ctx))
                chs, k = st.width, k + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(
            chs, spec.num_classes, width=spec.head.width, dropout=spec.head.dropout, norm_layer=norm, act_layer=act,
        )

        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """He-normal convs (fan-out), unit norms, N(0, 0.01) classifier, and each residual
        block's last norm scale at zero (pycls and timm do the same; short schedules need it)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if hasattr(m, "zero_init_last"):
                m.zero_init_last()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def build(spec: NetSpec | str, **overrides) -> Net:
    """Build a spec (or a zoo name) into a freshly initialised module.

    ``overrides`` replace top-level spec fields, e.g. ``build(spec, num_classes=10)``.
    """
    if isinstance(spec, str):
        from .zoo import zoo

        spec = zoo[spec]
    if overrides:
        spec = spec.replace(**overrides)
    return Net(spec)
