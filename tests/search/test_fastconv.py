"""The CPU matrix-product rewrites of small-map convolutions equal PyTorch's convolution, forward
and backward (the oracle is F.conv2d itself), and leave the modules as they were."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from designspace.fastconv import _geometry, _matmul_conv, accelerated


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), g=st.sampled_from([1, 2, 4]), cig=st.integers(1, 5), cog=st.integers(1, 4),
       k=st.sampled_from([1, 3, 5]), hw=st.integers(1, 3), stride=st.sampled_from([1, 2]), bias=st.booleans(),
       cl=st.booleans())
def test_rewrites_equal_conv2d_forward_and_backward(n, g, cig, cog, k, hw, stride, bias, cl):
    conv = nn.Conv2d(g * cig, g * cog, k, stride, k // 2, groups=g, bias=bias).double()
    x = torch.randn(n, g * cig, hw, hw, dtype=torch.float64)
    if cl:
        x = x.to(memory_format=torch.channels_last)
    geo = _geometry(conv, x)
    if geo is None:
        return
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    ya = F.conv2d(a, conv.weight, conv.bias, stride, k // 2, groups=g)
    yb = _matmul_conv(conv, b, geo[0])
    assert yb.shape == ya.shape
    torch.testing.assert_close(yb, ya)
    grad = torch.randn_like(ya)
    wa = torch.autograd.grad(ya, [a, conv.weight], grad)
    wb = torch.autograd.grad(yb, [b, conv.weight], grad)
    for u, v in zip(wa, wb):
        torch.testing.assert_close(v, u)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), g=st.sampled_from([1, 2]), cig=st.integers(1, 4), cog=st.integers(1, 4),
       hw=st.integers(1, 9), stride=st.sampled_from([2, 3]), bias=st.booleans(), cl=st.booleans())
def test_strided_pointwise_is_the_pointwise_conv_of_the_subsampled_map(n, g, cig, cog, hw, stride, bias, cl):
    conv = nn.Conv2d(g * cig, g * cog, 1, stride, 0, groups=g, bias=bias).double()
    x = torch.randn(n, g * cig, hw, hw, dtype=torch.float64)
    if cl:
        x = x.to(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya = F.conv2d(a, conv.weight, conv.bias, stride, 0, groups=g)  # the oracle: PyTorch's own (NCHW, float64)
    with accelerated(conv):
        yb = conv(b)
    torch.testing.assert_close(yb, ya)
    grad = torch.randn_like(ya)
    for u, v in zip(torch.autograd.grad(ya, [a, conv.weight], grad), torch.autograd.grad(yb, [b, conv.weight], grad)):
        torch.testing.assert_close(v, u)


def test_the_shortcut_shape_that_crashes_onednn_trains_through_accelerated():
    """torch 2.14.1 on CPU: a channels_last strided 1x1 conv, 8 -> 136 channels on 56x56, crashes
    the process in backward; through accelerated() it runs (in a subprocess: a crash must fail
    this test, not the test run)."""
    import subprocess
    import sys

    code = """
import torch
from torch import nn
from designspace.fastconv import accelerated
cl = torch.channels_last
conv = nn.Conv2d(8, 136, 1, stride=2, bias=False).to(memory_format=cl)
x = torch.randn(8, 8, 56, 56).to(memory_format=cl).requires_grad_()
with accelerated(conv):
    conv(x).sum().backward()
print("ok", tuple(x.grad.shape), tuple(conv.weight.grad.shape))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok (8, 8, 56, 56) (136, 8, 1, 1)" in r.stdout, (r.returncode, r.stderr[-500:])


def test_geometry_covers_what_it_claims():
    x1 = torch.zeros(2, 8, 1, 1)
    x2 = torch.zeros(2, 8, 2, 2)
    assert _geometry(nn.Conv2d(8, 8, 1), x2)[0] == "pointwise"
    assert _geometry(nn.Conv2d(8, 8, 3, 1, 1), x1)[0] == "window"            # centre tap only
    assert _geometry(nn.Conv2d(8, 8, 3, 2, 1), x2)[0] == "window"            # strided 3x3 on 2x2
    assert _geometry(nn.Conv2d(8, 8, 3, 1, 1), x2) is None                   # 2x2 output: a real conv
    assert _geometry(nn.Conv2d(8, 8, 1, 2), x2) is None                      # strided 1x1


def test_accelerated_model_trains_the_same_and_is_restored():
    import designspace
    from designspace import NetSpec, StageSpec, StemSpec

    spec = NetSpec(StemSpec("simple", 8), (StageSpec("regnet", 1, 16, 2, group_width=8),
                                           StageSpec("regnet", 2, 32, 2, group_width=8),
                                           StageSpec("regnet", 2, 64, 2, group_width=16)),
                   resolution=16, num_classes=5, in_chans=1)  # stage 3 runs on 1x1 maps
    torch.manual_seed(0)
    a = designspace.build(spec).double()
    torch.manual_seed(0)
    b = designspace.build(spec).double()
    x = torch.randn(4, 1, 16, 16, dtype=torch.float64)
    la = a(x).square().sum()
    la.backward()
    with accelerated(b) as m:
        assert m is b and sum(1 for c in b.modules() if "forward" in c.__dict__) > 0
        lb = b(x).square().sum()
        lb.backward()
    torch.testing.assert_close(lb, la)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(q.grad, p.grad)
    assert not any("forward" in c.__dict__ for c in b.modules())
    assert list(a.state_dict()) == list(b.state_dict())
