"""TResNet layers and blocks against independent oracles: explicit indexing (SpaceToDepth), scipy
binomial filtering (BlurPool) and timm's own TResNet blocks with the same weights."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from torch import nn

from designspace.blocks.tresnet import (
    BlurPool, SpaceToDepth, SpaceToDepthStem, TResNetBasic, TResNetBottleneck, tresnet_stem_act,
)
from designspace.rules import tresnet_se_width as se_width


def _randomize_bn(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = torch.rand(m.weight.shape, generator=g) + 0.5
            m.bias.data = torch.randn(m.bias.shape, generator=g) * 0.1
            m.running_mean = torch.randn(m.running_mean.shape, generator=g) * 0.1
            m.running_var = torch.rand(m.running_var.shape, generator=g) + 0.5


# ------------------------------------------------------------------------------ SpaceToDepth
def test_space_to_depth_equals_explicit_indexing():
    x = torch.randn(2, 3, 8, 12)
    y = SpaceToDepth(4)(x)
    assert y.shape == (2, 48, 2, 3)
    expected = torch.empty_like(y)
    for n in range(2):
        for c in range(3):
            for i in range(4):
                for j in range(4):
                    for yy in range(2):
                        for xx in range(3):
                            expected[n, (i * 4 + j) * 3 + c, yy, xx] = x[n, c, 4 * yy + i, 4 * xx + j]
    assert torch.equal(y, expected)


def test_space_to_depth_matches_timm():
    from timm.layers import SpaceToDepth as TimmS2D

    x = torch.randn(1, 5, 16, 8)
    assert torch.equal(SpaceToDepth(4)(x), TimmS2D(4)(x))


@pytest.mark.parametrize("shape", [(1, 3, 10, 8), (1, 3, 8, 6)])
def test_space_to_depth_rejects_indivisible_input(shape):
    with pytest.raises(ValueError, match="not divisible by block_size=4"):
        SpaceToDepth(4)(torch.zeros(shape))


@pytest.mark.parametrize("bad", [0, -2, 2.0, True])
def test_space_to_depth_rejects_bad_block_size(bad):
    with pytest.raises(ValueError, match="block_size"):
        SpaceToDepth(bad)


# ---------------------------------------------------------------------------------- BlurPool
@pytest.mark.parametrize("size", [(7, 7), (8, 6), (2, 5)])
def test_blurpool_equals_scipy_binomial_filter(size):
    # crafted input: an impulse, a ramp and a checkerboard (the alias the blur must remove)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    chans = [np.zeros((h, w)), yy * 0.5 + xx, ((yy + xx) % 2) * 2.0 - 1.0]
    chans[0][h // 2, w // 2] = 16.0
    x = np.stack(chans)[None].astype(np.float64)
    k1 = np.array([1.0, 2.0, 1.0]) / 4.0
    kernel = np.outer(k1, k1)
    # torch 'reflect' padding (edge not repeated) is scipy's 'mirror' mode
    expected = np.stack([scipy.ndimage.correlate(c, kernel, mode="mirror")[::2, ::2] for c in x[0]])[None]
    bp = BlurPool(3).double()
    y = bp(torch.from_numpy(x)).numpy()
    assert y.shape == expected.shape == (1, 3, (h + 1) // 2, (w + 1) // 2)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    # the checkerboard (Nyquist frequency) is removed on the interior
    if h >= 5 and w >= 5:
        np.testing.assert_allclose(y[0, 2, 1:-1, 1:-1], 0.0, atol=1e-12)


def test_blurpool_filter_is_a_buffer_not_a_parameter():
    bp = BlurPool(4)
    assert list(bp.parameters()) == []
    assert "filt" in dict(bp.named_buffers())
    assert bp.state_dict() == {}  # non-persistent: timm checkpoints have no such key
    expected = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    assert bp.filt.shape == (4, 1, 3, 3)
    assert torch.equal(bp.filt[2, 0], expected)
    assert bp.double().filt.dtype == torch.float64


def test_blurpool_matches_timm():
    from timm.layers import BlurPool2d

    x = torch.randn(2, 6, 9, 10)
    assert torch.allclose(BlurPool(6)(x), BlurPool2d(6, 3, 2)(x), atol=0, rtol=0)


@pytest.mark.parametrize("kw,field", [({"channels": 0}, "channels"), ({"channels": 3, "filt_size": 1}, "filt_size"),
                                      ({"channels": 3, "stride": 0}, "stride")])
def test_blurpool_rejects_bad_arguments(kw, field):
    with pytest.raises(ValueError, match=field):
        BlurPool(**kw)


# ------------------------------------------------------------------------- blocks vs timm's
def _timm_downsample(in_chs, out_chs, stride):
    from timm.layers import ConvNormAct

    if stride == 1 and in_chs == out_chs:
        return None
    layers = [nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)] if stride == 2 else []
    layers.append(ConvNormAct(in_chs, out_chs, kernel_size=1, stride=1, apply_act=False))
    return nn.Sequential(*layers)


CASES = [
    # (kind, in_chs, planes, stride, use_se, anti_alias, input size)
    ("basic", 16, 16, 1, True, True, 8),
    ("basic", 16, 32, 2, True, True, 9),
    ("basic", 8, 24, 1, False, False, 6),
    ("bottleneck", 32, 16, 2, True, True, 7),
    ("bottleneck", 64, 16, 1, True, True, 5),
    ("bottleneck", 24, 8, 2, False, False, 6),
]


@pytest.mark.parametrize("kind,in_chs,planes,stride,use_se,aa,size", CASES)
def test_blocks_equal_timm_blocks(kind, in_chs, planes, stride, use_se, aa, size):
    from timm.layers import BlurPool2d
    from timm.models.tresnet import BasicBlock, Bottleneck

    torch.manual_seed(0)
    ds = _timm_downsample(in_chs, planes * (1 if kind == "basic" else 4), stride)
    aa_layer = BlurPool2d if aa else None
    if kind == "basic":
        ref = BasicBlock(in_chs, planes, stride, downsample=ds, use_se=use_se, aa_layer=aa_layer)
        ours = TResNetBasic(in_chs, planes, stride, se_chs=se_width(planes, 0.25 if use_se else 0.0), anti_alias=aa)
    else:
        ref = Bottleneck(in_chs, planes, stride, downsample=ds, use_se=use_se, aa_layer=aa_layer)
        ours = TResNetBottleneck(in_chs, 4 * planes, stride, mid_chs=planes,
                                 se_chs=se_width(4 * planes, 0.125 if use_se else 0.0), anti_alias=aa)
    _randomize_bn(ref)
    ref.eval(), ours.eval()
    ours.load_state_dict(ref.state_dict(), strict=True)  # same child names, same shapes
    x = torch.randn(2, in_chs, size, size)
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= 1e-5


def test_stem_uses_timm_slopes():
    stem = SpaceToDepthStem(3, 8, act_layer=tresnet_stem_act(nn.ReLU))
    assert isinstance(stem.conv.act, nn.ReLU)
    from functools import partial

    stem = SpaceToDepthStem(3, 8, act_layer=tresnet_stem_act(partial(nn.LeakyReLU, negative_slope=1e-3)))
    assert isinstance(stem.conv.act, nn.LeakyReLU) and stem.conv.act.negative_slope == 1e-2
    assert stem(torch.zeros(1, 3, 16, 8)).shape == (1, 8, 4, 2)


@pytest.mark.parametrize("kw,field", [
    ({"stride": 3}, "stride"), ({"se_chs": -1}, "se_chs"), ({"se_chs": 8.0}, "se_chs"), ({"shortcut": "pool"}, "shortcut"),
    ({"in_chs": 0}, "in_chs"),
])
def test_blocks_reject_bad_arguments(kw, field):
    args = {"in_chs": 8, "out_chs": 16, "stride": 1, **kw}
    with pytest.raises(ValueError, match=field):
        TResNetBasic(args.pop("in_chs"), args.pop("out_chs"), **args)


def test_bottleneck_rejects_bad_mid_chs():
    with pytest.raises(ValueError, match="mid_chs=0"):
        TResNetBottleneck(8, 16, mid_chs=0)


@pytest.mark.parametrize("planes", [16, 64, 76, 83, 256, 332, 608])
def test_se_width_rule_is_timms(planes):
    # oracle: the SE widths timm's TResNet blocks build (basic: ratio 1/4 of planes, bottleneck:
    # 1/8 of the 4 * planes output, both at least 64)
    from timm.models.tresnet import BasicBlock, Bottleneck

    basic = BasicBlock(planes, planes, 1, use_se=True, aa_layer=None)
    bottle = Bottleneck(4 * planes, planes, 1, use_se=True, aa_layer=None)
    assert se_width(planes, 0.25) == basic.se.fc1.out_channels
    assert se_width(4 * planes, 0.125) == bottle.se.fc1.out_channels
    assert se_width(1000, 0.29) == 290 and se_width(100, 0.0) == 0
