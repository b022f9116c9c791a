"""designspace.blocks.residual and designspace.blocks.stems against timm's ResNet blocks (the reference implementation).

Every test loads timm's weights into our module through the documented key rules
(``designspace.interop``) and compares outputs in eval mode with randomised BN statistics.
"""
from __future__ import annotations

from functools import partial

import pytest
import torch
from hypothesis import given, settings, strategies as hs
from timm.layers import SEModule
from timm.models import resnet as tr

from designspace.blocks.residual import BasicBlock, Bottleneck, make_shortcut
from designspace.blocks.stems import ResNetStem
from designspace.rules import residual_se_width as se_width
from designspace.interop import map_key


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    """Random weights everywhere, BN statistics included, so any mis-mapped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, v in module.state_dict().items():
            if not v.is_floating_point():
                continue
            if "running_var" in k:
                v.copy_(torch.rand(v.shape, generator=g) + 0.5)
            else:
                v.copy_(torch.randn(v.shape, generator=g) * 0.2)


def _load_block(ours: torch.nn.Module, ref: torch.nn.Module) -> None:
    """Map a timm block's keys as if it were ``layer1.0`` of a ResNet, then strip our prefix."""
    sd = {}
    for k, v in ref.state_dict().items():
        new = map_key("resnet", f"layer1.0.{k}")
        assert new is not None, k
        sd[new.removeprefix("stages.0.0.")] = v
    ours.load_state_dict(sd, strict=True)


def _timm_downsample(in_chs: int, out_chs: int, stride: int, avg: bool) -> torch.nn.Module | None:
    if stride == 1 and in_chs == out_chs:
        return None
    fn = tr.downsample_avg if avg else tr.downsample_conv
    return fn(in_chs, out_chs, kernel_size=1, stride=stride, norm_layer=torch.nn.BatchNorm2d)


def _compare(ours: torch.nn.Module, ref: torch.nn.Module, in_chs: int, size: int) -> None:
    _randomise(ref)
    _load_block(ours, ref)
    ours.eval(), ref.eval()
    x = torch.randn(2, in_chs, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a, b = ours(x), ref(x.clone())
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("in_chs,planes,stride,card,base,se,avg,size", [
    (64, 64, 1, 1, 64, 0.0, False, 9),        # ResNet-50 stage 1, block 0 (1x1 projection, stride 1)
    (256, 128, 2, 1, 64, 0.0, False, 9),      # ResNet-50 stage 2, block 0, odd input size
    (256, 64, 1, 1, 64, 0.0, False, 8),       # identity shortcut
    (256, 128, 2, 32, 4, 0.0, False, 8),      # ResNeXt-50 32x4d
    (512, 128, 1, 1, 64, 1 / 16, False, 7),   # SE-ResNet-50, identity shortcut
    (256, 128, 2, 1, 64, 0.25, True, 7),      # ResNet-RS: SE 0.25 + avg-pool shortcut, odd size
    (64, 64, 1, 1, 64, 0.25, True, 8),        # avg-pool shortcut at stride 1 (no pool)
    (96, 40, 2, 5, 24, 0.3, True, 11),        # irregular: 5 groups of 15, SE rounding to 48
])
def test_bottleneck_equals_timm(in_chs, planes, stride, card, base, se, avg, size):
    attn = partial(SEModule, rd_ratio=se) if se else None
    ref = tr.Bottleneck(in_chs, planes, stride, _timm_downsample(in_chs, planes * 4, stride, avg),
                        cardinality=card, base_width=base, attn_layer=attn)
    mid = int(planes * base / 64) * card
    ours = Bottleneck(in_chs, planes * 4, stride, mid_chs=mid, groups=card, se_chs=se_width(planes * 4, se),
                      shortcut="avgpool" if avg else "conv")
    assert ours.conv2.conv.groups == ref.conv2.groups
    _compare(ours, ref, in_chs, size)


@pytest.mark.parametrize("in_chs,planes,stride,se,avg,size", [
    (64, 64, 1, 0.0, False, 8),     # ResNet-18 stage 1 (identity)
    (64, 128, 2, 0.0, False, 9),    # ResNet-18 stage 2 block 0, odd size
    (128, 256, 2, 1 / 16, True, 7), # SE + avg-pool shortcut
    (24, 40, 1, 0.5, False, 6),     # projection at stride 1
])
def test_basic_block_equals_timm(in_chs, planes, stride, se, avg, size):
    attn = partial(SEModule, rd_ratio=se) if se else None
    ref = tr.BasicBlock(in_chs, planes, stride, _timm_downsample(in_chs, planes, stride, avg), attn_layer=attn)
    ours = BasicBlock(in_chs, planes, stride, se_chs=se_width(planes, se), shortcut="avgpool" if avg else "conv")
    _compare(ours, ref, in_chs, size)


@pytest.mark.parametrize("stem_type,stem_width,replace_pool,size", [
    ("", 64, False, 33),        # 7x7 + max-pool (ResNet-B)
    ("deep", 32, False, 32),    # ResNet-C/D
    ("deep", 32, True, 35),     # ResNet-RS: strided conv replaces the max-pool
])
def test_resnet_stem_equals_timm(stem_type, stem_width, replace_pool, size):
    ref = tr.ResNet(tr.BasicBlock, (1, 1, 1, 1), stem_type=stem_type, stem_width=stem_width,
                    replace_stem_pool=replace_pool).eval()
    _randomise(ref)
    deep = "deep" in stem_type
    ours = ResNetStem(3, 64, deep_width=stem_width if deep else 0, pool="conv" if replace_pool else "max").eval()
    sd = {map_key("resnet", k).removeprefix("stem."): v for k, v in ref.state_dict().items()
          if k.split(".")[0] in ("conv1", "bn1", "maxpool")}
    ours.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        b = ref.maxpool(ref.act1(ref.bn1(ref.conv1(x))))
        a = ours(x)
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= 1e-5


def test_stem_without_pool_is_stride_two():
    out = ResNetStem(3, 16, pool="none")(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 16, 16, 16)


def test_stem_rejects_unknown_pool():
    with pytest.raises(ValueError, match="pool='avg'"):
        ResNetStem(3, 16, pool="avg")


@settings(max_examples=200, deadline=None)
@given(chs=hs.integers(1, 4096), ratio=hs.floats(0.001, 0.999))
def test_se_width_is_timms_rounding(chs, ratio):
    assert se_width(chs, ratio) == SEModule(chs, rd_ratio=ratio).fc1.out_channels


def test_identity_shortcut_when_shape_is_kept():
    assert make_shortcut(64, 64, 1, "avgpool") is None
    assert make_shortcut(64, 64, 1, "conv") is None
    assert make_shortcut(64, 64, 2, "conv") is not None


def test_shortcut_rejects_unknown_kind():
    with pytest.raises(ValueError, match="shortcut='max'"):
        make_shortcut(8, 16, 2, "max")


def test_drop_path_is_active_in_training_only():
    torch.manual_seed(0)
    blk = Bottleneck(32, 32, mid_chs=8, drop_path=0.5)
    _randomise(blk)
    x = torch.randn(16, 32, 4, 4)
    blk.train()
    # with rate 0.5 some samples lose their branch: their output is relu(x) exactly
    y = blk(x)
    dropped = [(y[i] - x[i].relu()).abs().max().item() == 0 for i in range(16)]
    assert any(dropped) and not all(dropped)
    blk.eval()
    assert torch.equal(blk(x), blk(x))
