"""MBConv and depthwise-separable blocks against timm's ``InvertedResidual`` and
``DepthwiseSeparableConv`` (same weights -> same outputs), and their counters against fvcore."""
from __future__ import annotations

from functools import partial

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from designspace.blocks.mbconv import DepthwiseSeparable, MBConv
from designspace.complexity import Counter
from designspace.kinds import block_kind
from designspace.rules import ds_se_width, make_divisible, mbconv_widths

count_ds, count_mbconv = block_kind("ds").count, block_kind("mbconv").count
from designspace.spec import StageSpec
from oracles import fvcore_count


def _timm_blocks():
    from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual, SqueezeExcite

    return DepthwiseSeparableConv, InvertedResidual, SqueezeExcite


def _load_from_timm(ours: nn.Module, ref: nn.Module) -> None:
    """Copy timm's weights into ours (same child names except the SE convs), randomising BN."""
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, v in ref.state_dict().items():
        if v.is_floating_point():
            v = torch.rand(v.shape, generator=g) + 0.5 if "running_var" in k else torch.randn(v.shape, generator=g) * 0.2
        sd[k.replace("se.conv_reduce", "se.fc1").replace("se.conv_expand", "se.fc2")] = v
    ref.load_state_dict({k: v for k, v in zip(ref.state_dict(), sd.values())})
    ours.load_state_dict(sd, strict=True)


def _same_output(ours: nn.Module, ref: nn.Module, in_chs: int, res: int = 9) -> None:
    _load_from_timm(ours, ref)
    ours.eval(), ref.eval()
    x = torch.randn(2, in_chs, res, res, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= 1e-5


# ------------------------------------------------------------------ equal to timm's blocks
@pytest.mark.parametrize("in_chs, out_chs, k, stride", [(32, 16, 3, 1), (16, 16, 3, 1), (24, 40, 5, 2), (16, 16, 5, 2)])
def test_depthwise_separable_is_timms(in_chs, out_chs, k, stride):
    DS, _, SE = _timm_blocks()
    se = ds_se_width(in_chs, 0.25)
    ours = DepthwiseSeparable(in_chs, out_chs, kernel_size=k, stride=stride, se_chs=se, act_layer=nn.SiLU)
    ref = DS(in_chs, out_chs, dw_kernel_size=k, stride=stride, act_layer=nn.SiLU, se_layer=partial(SE, rd_ratio=0.25))
    assert ours.has_skip == ref.has_skip == (stride == 1 and in_chs == out_chs)
    _same_output(ours, ref, in_chs)


@pytest.mark.parametrize(
    "in_chs, out_chs, k, stride, e, se_ratio",
    [(16, 24, 3, 2, 6.0, 0.25), (24, 24, 3, 1, 6.0, 0.25), (40, 40, 5, 1, 6.0, 0.25), (20, 36, 5, 2, 4.5, 0.3),
     (24, 24, 3, 1, 1.0, 0.0)],
)
def test_mbconv_is_timms_inverted_residual(in_chs, out_chs, k, stride, e, se_ratio):
    _, IR, SE = _timm_blocks()
    mid, se = mbconv_widths(in_chs, e, se_ratio)
    ours = MBConv(in_chs, out_chs, mid_chs=mid, kernel_size=k, stride=stride, se_chs=se, act_layer=nn.SiLU)
    # timm's builder divides the SE ratio by the expansion (se_from_exp=False, EfficientNet)
    se_layer = partial(SE, rd_ratio=se_ratio / e) if se_ratio else None
    ref = IR(in_chs, out_chs, dw_kernel_size=k, stride=stride, exp_ratio=e, act_layer=nn.SiLU, se_layer=se_layer)
    assert ours.has_skip == ref.has_skip == (stride == 1 and in_chs == out_chs)
    _same_output(ours, ref, in_chs)


def test_skip_adds_the_input():
    block = MBConv(8, 8, mid_chs=16, se_chs=2).eval()
    for p in block.bn3.parameters():
        nn.init.zeros_(p)  # the residual branch outputs zeros: the block is the identity
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        assert torch.equal(block(x), x)


def test_drop_path_only_in_training_and_only_with_skip():
    torch.manual_seed(0)
    block = DepthwiseSeparable(8, 8, se_chs=2, drop_path=0.5)
    x = torch.randn(64, 8, 4, 4)
    with torch.no_grad():
        block.train()
        dropped = [bool(torch.equal(y, x0)) for y, x0 in zip(block(x), x)]
        assert 0 < sum(dropped) < 64  # some samples kept only the shortcut
        block.eval()
        assert torch.equal(block(x), block(x))
        no_skip = DepthwiseSeparable(8, 16, se_chs=2, drop_path=0.5).train()
        assert torch.equal(no_skip(x), no_skip(x))  # without a shortcut there is nothing to drop


@pytest.mark.parametrize("kw", [{"in_chs": 0}, {"out_chs": -1}, {"se_chs": -1}, {"mid_chs": 0}])
def test_bad_widths_raise_naming_the_argument(kw):
    args = {"in_chs": 8, "out_chs": 8, "mid_chs": 16, "se_chs": 2, **kw}
    with pytest.raises(ValueError, match=f"{next(iter(kw))}="):
        MBConv(args.pop("in_chs"), args.pop("out_chs"), **args)


# -------------------------------------------------------------------- widths: timm's rules
@settings(max_examples=100, deadline=None)
@given(v=st.floats(1.0, 5000.0), divisor=st.sampled_from([4, 8, 16]))
def test_make_divisible_is_timms(v, divisor):
    from timm.layers import make_divisible as timm_make_divisible

    assert make_divisible(v, divisor) == timm_make_divisible(v, divisor)


@settings(max_examples=40, deadline=None)
@given(in_chs=st.integers(1, 64).map(lambda n: 8 * n), e=st.sampled_from([1.0, 3.0, 4.0, 6.0]))
def test_se_width_is_a_quarter_of_the_input_width(in_chs, e):
    # widths that are multiples of 8 (all EfficientNets): the SE keeps in/4, whatever the expansion
    assert mbconv_widths(in_chs, e, 0.25) == (int(in_chs * e), in_chs // 4)
    assert ds_se_width(in_chs, 0.25) == in_chs // 4


def test_no_se_when_ratio_is_zero():
    assert ds_se_width(32, 0.0) == 0 and mbconv_widths(32, 6.0, 0.0)[1] == 0
    assert isinstance(MBConv(8, 8, mid_chs=16, se_chs=0).se, nn.Identity)


# ------------------------------------------------------------------- counters vs fvcore
@settings(max_examples=12, deadline=None)
@given(
    in_chs=st.integers(1, 48), out_chs=st.integers(1, 48), k=st.sampled_from([1, 3, 5, 7]), stride=st.sampled_from([1, 2]),
    e=st.sampled_from([1.0, 2.5, 4.0, 6.0]), se_ratio=st.sampled_from([0.0, 0.1, 0.25, 0.5]), res=st.integers(1, 17),
    kind=st.sampled_from(["ds", "mbconv"]),
)
def test_block_counters_equal_fvcore(in_chs, out_chs, k, stride, e, se_ratio, res, kind):
    st_ = StageSpec(block=kind, depth=1, width=out_chs, kernel_size=k, expand_ratio=e, se_ratio=se_ratio)
    if kind == "ds":
        block = DepthwiseSeparable(in_chs, out_chs, kernel_size=k, stride=stride, se_chs=ds_se_width(in_chs, se_ratio))
        counter = count_ds
    else:
        mid, se = mbconv_widths(in_chs, e, se_ratio)
        block = MBConv(in_chs, out_chs, mid_chs=mid, kernel_size=k, stride=stride, se_chs=se)
        counter = count_mbconv
    cx = Counter(in_chs, res, res)
    counter(cx, st_, stride)
    assert (cx.flops, cx.params, cx.acts) == fvcore_count(block, res, in_chans=in_chs)
