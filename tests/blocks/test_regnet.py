"""designspace.blocks.regnet.RegNetBlock against timm's RegNet block (``timm.models.regnet.Bottleneck``).

Oracle: timm's block with the same arguments; with timm's weights (keys renamed
``downsample`` -> ``shortcut``) both give the same output, and the same parameter shapes.
"""
from __future__ import annotations

import pytest
import torch
from timm.models.regnet import Bottleneck as TimmBlock
from torch import nn

from designspace.blocks.layers import DropPath
from designspace.blocks.regnet import RegNetBlock
from designspace.rules import regnet_se_width

# (in_chs, out_chs, stride, bottleneck ratio b, group width, se_ratio, act)
CASES = [
    (32, 32, 1, 1.0, 8, 0.0, nn.ReLU),
    (32, 64, 2, 1.0, 16, 0.0, nn.ReLU),
    (24, 56, 2, 1.0, 8, 0.25, nn.ReLU),
    (56, 56, 1, 1.0, 56, 0.25, nn.ReLU),  # depthwise-free dense 3x3 (one group)
    (48, 96, 1, 2.0, 8, 0.25, nn.SiLU),   # shape change at stride 1 still projects
    (64, 64, 2, 4.0, 4, 0.0625, nn.ReLU),
]


def _randomize_bn(m: nn.Module, g: torch.Generator) -> None:
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.weight.data.copy_(torch.randn(mod.num_features, generator=g))


@pytest.mark.parametrize("case", CASES)
def test_block_equals_timm(case):
    in_chs, out_chs, stride, b, gw, se, act = case
    mid = int(out_chs / b)
    ref = TimmBlock(in_chs, out_chs, stride, bottle_ratio=1.0 / b, group_size=gw, se_ratio=se,
                    act_layer=act).eval()
    ours = RegNetBlock(in_chs, out_chs, stride, mid_chs=mid, groups=mid // gw, se_chs=regnet_se_width(in_chs, se, mid),
                       act_layer=act).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        _randomize_bn(ref, g)
    sd = {k.replace("downsample.", "shortcut."): v for k, v in ref.state_dict().items()}
    ours.load_state_dict(sd, strict=True)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    x = torch.randn(2, in_chs, 12, 12, generator=g)
    with torch.no_grad():
        a, r = ours(x), ref(x)
    assert a.shape == r.shape == (2, out_chs, 12 // stride, 12 // stride)
    assert (a - r).abs().max().item() <= 1e-5


@pytest.mark.parametrize("in_chs, ratio", [
    (24, 0.25), (56, 0.25), (30, 0.25), (10, 0.25), (368, 0.25),
    (8, 0.05), (3, 0.1),  # round() gives 0: timm falls back to its SE default
])
def test_se_width_is_timms(in_chs, ratio):
    # oracle: the SE that timm's RegNet block builds for this input width and ratio
    ref = TimmBlock(in_chs, 48, 1, bottle_ratio=1.0, group_size=8, se_ratio=ratio)
    assert regnet_se_width(in_chs, ratio, 48) == ref.se.fc1.out_channels
    block = RegNetBlock(in_chs, 48, 1, mid_chs=48, groups=6, se_chs=regnet_se_width(in_chs, ratio, 48))
    assert block.se.fc1.out_channels == ref.se.fc1.out_channels and block.se.fc1.in_channels == 48
    assert regnet_se_width(in_chs, 0.0, 48) == 0


def test_no_se_and_identity_shortcut_when_shape_kept():
    block = RegNetBlock(32, 32, 1, mid_chs=32, groups=4)
    assert block.se is None and block.shortcut is None


def test_drop_path_drops_the_branch_per_sample():
    torch.manual_seed(0)
    block = RegNetBlock(16, 16, 1, mid_chs=16, groups=2, drop_path=0.5)
    assert isinstance(block.drop_path, DropPath) and block.drop_path.rate == 0.5
    x = torch.randn(64, 16, 4, 4)
    with torch.no_grad():
        block.eval()
        branch = block.conv3(block.conv2(block.conv1(x)))
        assert torch.allclose(block(x), torch.relu(x + branch), atol=1e-6)  # eval: no dropping
        block.train()
        for m in block.modules():  # keep BN on running stats so only drop path changes
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        y = block(x)
    dropped = torch.tensor([torch.allclose(y[i], torch.relu(x[i]), atol=1e-6) for i in range(64)])
    kept = torch.tensor([torch.allclose(y[i], torch.relu(x[i] + 2 * branch[i]), atol=1e-5) for i in range(64)])
    assert bool((dropped ^ kept).all())  # each sample: branch dropped, or kept and scaled by 1/0.5
    assert 10 < int(dropped.sum()) < 54
