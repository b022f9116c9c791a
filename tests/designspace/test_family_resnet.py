"""designspace.families.resnet / resnet_rs against timm's ResNet builders.

Oracles: the structure of ``timm.create_model(name)`` (built on the meta device: blocks per
stage, widths, groups, SE widths, shortcut and stem kinds, default resolution), and fvcore on our
built module for the analytic complexity of random family members and random residual specs.
"""
from __future__ import annotations

import pytest
import timm
import torch
from hypothesis import HealthCheck, given, settings, strategies as hs
from timm.layers import SEModule
from torch import nn

from designspace import NetSpec, SpecError, StageSpec, StemSpec, count, zoo
from designspace import build
from designspace.families import resnet, resnet_rs
from designspace.zoo import entries
from oracles import fvcore_count

OURS = [n for n, e in entries.items() if e.family in ("resnet", "resnet_rs")]

# timm models outside the zoo, with the family parameters that should reproduce them
EXTRA = {
    "resnet26": dict(depth=26),
    "resnet200": dict(depth=200),
    "resnet18d": dict(depth=18, variant="d"),
    "resnet34d": dict(depth=34, variant="d"),
    "resnet50c": dict(depth=50, variant="c"),
    "resnet101d": dict(depth=101, variant="d"),
    "resnet200d": dict(depth=200, variant="d"),
    "seresnet34": dict(depth=34, se_ratio=1 / 16),
    "seresnext50_32x4d": dict(depth=50, groups=32, width_per_group=4, se_ratio=1 / 16),
    "resnext101_32x8d": dict(depth=101, groups=32, width_per_group=8),
    "wide_resnet50_2": dict(depth=50, width_per_group=128),
}


def _timm_meta(name: str, **kw) -> nn.Module:
    return timm.create_model(name, pretrained=False, device="meta", **kw)


def _assert_structure(spec: NetSpec, m: nn.Module) -> None:
    """Our spec describes timm's built network, field by field."""
    deep = isinstance(m.conv1, nn.Sequential)
    tiered = deep and m.conv1[0].out_channels != m.conv1[3].out_channels  # timm's deep_tiered (resnet*t)
    assert spec.stem.kind == ("deep_tiered" if tiered else "deep" if deep else "resnet")
    assert spec.stem.deep_width == (m.conv1[3].out_channels if deep else 0)
    if tiered:
        assert m.conv1[0].out_channels == 3 * (spec.stem.deep_width // 4)
    assert spec.stem.width == m.bn1.num_features
    assert spec.stem.pool == ("conv" if isinstance(m.maxpool, nn.Sequential) else "max")
    layers = [m.layer1, m.layer2, m.layer3, m.layer4]
    assert spec.depths == [len(layer) for layer in layers]
    for st, layer in zip(spec.stages, layers):
        b = layer[0]
        basic = type(b).__name__ == "BasicBlock"
        assert st.block == ("basic" if basic else "bottleneck")
        assert st.width == (b.conv2 if basic else b.conv3).out_channels
        assert st.stride == b.conv1.stride[0] * b.conv2.stride[0]
        if not basic:
            assert st.bottleneck_width == b.conv2.out_channels
            assert st.groups == b.conv2.groups
        assert (st.se_ratio > 0) == (b.se is not None)
        if b.se is not None:
            rd = SEModule(st.width, rd_ratio=st.se_ratio).fc1.out_channels
            assert rd == b.se.fc1.out_channels
        if b.downsample is not None:  # timm's avg-pool downsample is (pool or identity, conv, bn)
            assert st.shortcut == ("avgpool" if len(b.downsample) == 3 else "conv")
            assert isinstance(b.downsample[0], nn.AvgPool2d) == (st.shortcut == "avgpool" and st.stride > 1)
        else:
            assert st.stride == 1 and st.width == (spec.stem.width if st is spec.stages[0] else None)
    assert spec.num_classes == m.fc.out_features


@pytest.mark.parametrize("name", OURS)
def test_zoo_entry_is_timms_structure(name):
    m = _timm_meta(name)
    spec = zoo[name]
    _assert_structure(spec, m)
    assert spec.resolution == m.pretrained_cfg["input_size"][-1]


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_family_reproduces_timm_models_outside_the_zoo(name):
    _assert_structure(resnet(**EXTRA[name]), _timm_meta(name))


@pytest.mark.parametrize("name,params", [
    ("resnet50d", dict(depth=50, variant="d")),
    ("seresnet50", dict(depth=50, se_ratio=0.0625)),
    ("resnext50_32x4d", dict(depth=50, groups=32, width_per_group=4)),
])
def test_published_parameters_give_the_zoo_entry(name, params):
    assert resnet(**params) == zoo[name]


def test_resnext_group_width_doubles_per_stage():
    # 32x4d: 32 groups of 4 channels in stage 1, the bottleneck doubling with the width
    spec = zoo["resnext50_32x4d"]
    assert [st.group_width for st in spec.stages] == [4, 8, 16, 32]
    assert [st.bottleneck_width for st in spec.stages] == [128, 256, 512, 1024]


@pytest.mark.parametrize("depth", [50, 101, 152, 200, 270, 350, 420])
def test_resnet_rs_default_resolution_is_timms(depth):
    cfg = _timm_meta(f"resnetrs{depth}").pretrained_cfg
    assert resnet_rs(depth).resolution == cfg["input_size"][-1]
    assert resnet_rs(depth, resolution=224).resolution == 224


def test_drop_path_rates_follow_timms_linear_rule():
    ours = build(resnet(34, drop_path_rate=0.2))
    ref = _timm_meta("resnet34", drop_path_rate=0.2)
    ref_rates = [0.0 if b.drop_path is None else b.drop_path.drop_prob
                 for layer in (ref.layer1, ref.layer2, ref.layer3, ref.layer4) for b in layer]
    assert [b.drop_path.rate for stage in ours.stages for b in stage] == ref_rates


# ----------------------------------------------------------------- complexity vs fvcore
def _check_against_fvcore(spec: NetSpec, batch: int = 2) -> None:
    model = build(spec)
    r = spec.resolution
    assert tuple(count(spec)) == fvcore_count(model, r)
    with torch.no_grad():
        out = model.eval()(torch.randn(batch, 3, r, r))
    assert out.shape == (batch, spec.num_classes)
    assert torch.isfinite(out).all()


_SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(
    depth=hs.sampled_from([18, 26, 34, 50]),
    variant=hs.sampled_from(["b", "c", "d"]),
    se=hs.one_of(hs.just(0.0), hs.floats(0.01, 0.9)),
    groups=hs.sampled_from([1, 2, 8, 32]),
    wpg=hs.sampled_from([4, 16, 24, 64]),
    resolution=hs.integers(32, 96),
    num_classes=hs.integers(1, 20),
)
def test_random_resnet_count_equals_fvcore(depth, variant, se, groups, wpg, resolution, num_classes):
    if depth in (18, 34):
        groups, wpg = 1, 64
    spec = resnet(depth, variant=variant, se_ratio=se, groups=groups, width_per_group=wpg,
                  resolution=resolution, num_classes=num_classes)
    _check_against_fvcore(spec)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=hs.sampled_from([50, 101]), resolution=hs.integers(32, 64), num_classes=hs.integers(1, 20))
def test_random_resnet_rs_count_equals_fvcore(depth, resolution, num_classes):
    _check_against_fvcore(resnet_rs(depth, resolution=resolution, num_classes=num_classes))


@hs.composite
def residual_specs(draw) -> NetSpec:
    kind = draw(hs.sampled_from(["resnet", "deep"]))
    stem = StemSpec(kind=kind, width=draw(hs.integers(4, 32)),
                    deep_width=draw(hs.integers(4, 24)) if kind == "deep" else 0,
                    pool=draw(hs.sampled_from(["none", "max", "conv"])))
    stages = []
    for _ in range(draw(hs.integers(1, 3))):
        block = draw(hs.sampled_from(["basic", "bottleneck"]))
        mid = draw(hs.integers(1, 12)) * 4
        ratio = draw(hs.sampled_from([1, 2, 4])) if block == "bottleneck" else 1
        gw = draw(hs.sampled_from([0] + [d for d in (1, 2, 4, 8, 16) if mid % d == 0])) if block == "bottleneck" else 0
        stages.append(StageSpec(
            block=block, depth=draw(hs.integers(1, 2)), width=mid * ratio, stride=draw(hs.sampled_from([1, 2])),
            bottleneck_ratio=float(ratio), group_width=gw,
            se_ratio=draw(hs.one_of(hs.just(0.0), hs.floats(0.05, 0.95))),
            shortcut=draw(hs.sampled_from(["conv", "avgpool"])),
        ))
    stride = stem.stride
    for st in stages:
        stride *= st.stride
    resolution = draw(hs.integers(max(32, stride), 96))
    return NetSpec(stem=stem, stages=tuple(stages), resolution=resolution, num_classes=draw(hs.integers(1, 12)))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=residual_specs())
def test_random_residual_spec_count_equals_fvcore(spec):
    _check_against_fvcore(spec)


# ------------------------------------------------------------------------- bad input
def test_unknown_depth_is_named():
    with pytest.raises(SpecError, match="depth=19"):
        resnet(depth=19)


def test_depth_as_string_is_named():
    with pytest.raises(SpecError, match="depth='50'"):
        resnet(depth="50")


def test_unknown_variant_is_named():
    with pytest.raises(SpecError, match="variant='e'"):
        resnet(50, variant="e")


def test_se_ratio_out_of_range_is_named():
    with pytest.raises(SpecError, match="se_ratio=1.5"):
        resnet(50, se_ratio=1.5)


def test_non_positive_groups_is_named():
    with pytest.raises(SpecError, match="groups=0"):
        resnet(50, groups=0)


def test_groups_on_basic_blocks_is_named():
    with pytest.raises(SpecError, match="groups=32"):
        resnet(18, groups=32)


def test_width_per_group_on_basic_blocks_is_named():
    with pytest.raises(SpecError, match="width_per_group=4"):
        resnet(34, width_per_group=4)


def test_resolution_below_total_stride_is_named():
    with pytest.raises(SpecError, match="resolution=16"):
        resnet(50, resolution=16)


def test_unknown_rs_depth_is_named():
    with pytest.raises(SpecError, match="depth=51"):
        resnet_rs(depth=51)


def test_rs_bad_num_classes_is_named():
    with pytest.raises(SpecError, match="num_classes=-1"):
        resnet_rs(50, num_classes=-1)


def _one_stage(**stage) -> NetSpec:
    return NetSpec(stem=StemSpec(kind="resnet", width=16, pool="max"),
                   stages=(StageSpec(depth=1, width=32, stride=2, **stage),), resolution=32)


@pytest.mark.parametrize("stage,field", [
    (dict(block="basic", group_width=4), "group_width=4"),
    (dict(block="basic", bottleneck_ratio=2.0), "bottleneck_ratio=2.0"),
    (dict(block="bottleneck", kernel_size=5), "kernel_size=5"),
    (dict(block="bottleneck", expand_ratio=4.0), "expand_ratio=4.0"),
    (dict(block="bottleneck", anti_alias=True), "anti_alias=True"),
])
def test_fields_the_blocks_cannot_honour_are_rejected_by_the_spec(stage, field):
    # validation runs before anything is counted or built
    with pytest.raises(SpecError, match=r"^stages\[0\]\." + field):
        _one_stage(**stage)
