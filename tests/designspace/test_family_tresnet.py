"""TResNet family: zoo entries against facts read off timm's built models, complexity against
fvcore on random TResNet-style specs, and bad inputs."""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import designspace
from designspace import NetSpec, SpecError, StageSpec, StemSpec, families, zoo
from oracles import fvcore_count, timm_model

NAMES = ["tresnet_m", "tresnet_l", "tresnet_xl"]


def _timm_facts(name: str) -> dict:
    """Architecture facts read off timm's built module (not off its config)."""
    m = timm_model(name)
    stages = []
    for i in range(1, 5):
        layer = getattr(m.body, f"layer{i}")
        b0 = layer[0]
        bottleneck = hasattr(b0, "conv3")
        last = b0.conv3 if bottleneck else b0.conv2
        stages.append(dict(
            depth=len(layer),
            width=last.conv.out_channels,
            mid=b0.conv2.conv.out_channels,
            block="tresnet_bottleneck" if bottleneck else "tresnet_basic",
            stride=2 if b0.downsample is not None and isinstance(b0.downsample[0], torch.nn.AvgPool2d) else 1,
            anti_alias=getattr(b0.conv2 if bottleneck else b0.conv1, "aa", None) is not None,
            se_rd=b0.se.fc1.out_channels if b0.se is not None else 0,
        ))
    return dict(stem=m.body.conv1.conv.out_channels, stem_slope=m.body.conv1.bn.act.negative_slope,
                stages=stages, resolution=m.pretrained_cfg["input_size"][-1],
                num_classes=m.head.fc.out_features)


@pytest.mark.parametrize("name", NAMES)
def test_zoo_entry_matches_timm_module(name):
    spec, facts = zoo[name], _timm_facts(name)
    assert spec.stem.kind == "s2d" and spec.stem.width == facts["stem"]
    assert spec.resolution == facts["resolution"] and spec.num_classes == facts["num_classes"]
    assert spec.activation == "leaky_relu"
    assert len(spec.stages) == 4
    for st, f in zip(spec.stages, facts["stages"]):
        assert (st.block, st.depth, st.width, st.bottleneck_width, st.stride, st.anti_alias) == (
            f["block"], f["depth"], f["width"], f["mid"], f["stride"], f["anti_alias"])
        assert st.shortcut == "avgpool"
        assert designspace.rules.tresnet_se_width(st.width, st.se_ratio) == f["se_rd"]
    # the built stem reproduces timm's stem slope (1e-2, blocks 1e-3)
    ours = designspace.build(spec)
    assert ours.stem.conv.act.negative_slope == facts["stem_slope"] == 1e-2
    assert ours.stages[0][0].conv1.act.negative_slope == 1e-3


@pytest.mark.parametrize("size,name", [("m", "tresnet_m"), ("l", "tresnet_l"), ("XL", "tresnet_xl")])
def test_zoo_entries_are_family_fixed_points(size, name):
    assert families.tresnet(size) == zoo[name]
    e = zoo.entry(name)
    assert e.family == "tresnet" and e.timm == name
    assert families.tresnet(None, **e.params) == zoo[name]
    assert NetSpec.from_json(zoo[name].to_json()) == zoo[name]


def test_family_published_widths_and_depths():
    s = families.tresnet("l")
    assert s.widths == [76, 152, 1216, 2432] and s.depths == [4, 5, 18, 3]
    assert [st.se_ratio for st in s.stages] == [0.25, 0.25, 0.125, 0.0]
    assert s.stride == 32
    s = families.tresnet("m", layers=(1, 1, 1, 1), width_factor=0.5, resolution=64, num_classes=10, drop_path_rate=0.1)
    assert s.widths == [32, 64, 512, 1024] and s.depths == [1, 1, 1, 1]
    assert (s.resolution, s.num_classes, s.drop_path_rate) == (64, 10, 0.1)


def test_drop_path_rates_equal_timms():
    ours = designspace.build(families.tresnet("m", drop_path_rate=0.2))
    ref = timm_model("tresnet_m", drop_path_rate=0.2)
    a = [b.drop_path.rate for stage in ours.stages for b in stage]
    b = [getattr(blk.drop_path, "drop_prob", 0.0) for i in range(1, 5) for blk in getattr(ref.body, f"layer{i}")]
    assert a == pytest.approx(b, abs=1e-7)


@pytest.mark.parametrize("kw,path", [
    ({"size": "s"}, "size"),
    ({"size": 1}, "size"),
    ({"size": None}, "size"),
    ({"size": None, "layers": (1, 1, 1, 1)}, "size"),
    ({"layers": (3, 4, 11)}, "layers"),
    ({"layers": "3411"}, "layers"),
    ({"layers": (3, 0, 11, 3)}, "layers[1]"),
    ({"layers": (3, 4, 1.5, 3)}, "layers[2]"),
    ({"width_factor": 0.01}, "width_factor"),
    ({"width_factor": "1"}, "width_factor"),
    ({"width_factor": float("nan")}, "width_factor"),
    ({"resolution": 226}, "resolution"),
    ({"resolution": 16}, "resolution"),
    ({"drop_path_rate": 1.5}, "drop_path_rate"),
])
def test_family_rejects_bad_input(kw, path):
    with pytest.raises(SpecError) as e:
        families.tresnet(**kw)
    assert e.value.path == path
    assert str(e.value).startswith(f"{path}=")


@pytest.mark.parametrize("change,path", [
    ({"group_width": 8}, "group_width"), ({"kernel_size": 5}, "kernel_size"), ({"bottleneck_ratio": 2.0}, "bottleneck_ratio"),
])
def test_fields_tresnet_blocks_cannot_honour_are_rejected(change, path):
    # validation runs before anything is counted or built
    with pytest.raises(SpecError, match=rf"^stages\[0\]\.{path}="):
        NetSpec(stem=StemSpec("s2d", 16), stages=[StageSpec("tresnet_basic", 1, 32, **change)],
                resolution=32, activation="leaky_relu")


# --------------------------------------------------------------- complexity == fvcore (random)
@st.composite
def tresnet_specs(draw):
    n = draw(st.integers(1, 4))
    stages = []
    for _ in range(n):
        block = draw(st.sampled_from(["tresnet_basic", "tresnet_bottleneck"]))
        ratio = 1.0 if block == "tresnet_basic" else draw(st.sampled_from([1.0, 2.0, 4.0]))
        width = int(ratio) * draw(st.integers(1, 12)) * 4
        stages.append(StageSpec(
            block=block, depth=draw(st.integers(1, 2)), width=width, stride=draw(st.sampled_from([1, 2])),
            bottleneck_ratio=ratio, se_ratio=draw(st.sampled_from([0.0, 0.125, 0.25, 0.3, 0.9])),
            shortcut=draw(st.sampled_from(["avgpool", "conv"])), anti_alias=draw(st.booleans()),
        ))
    stride = 4 * 2 ** sum(s.stride == 2 for s in stages)
    res = draw(st.sampled_from([r for r in range(32, 97, 4) if r >= stride]))
    return NetSpec(stem=StemSpec("s2d", draw(st.integers(1, 6)) * 4), stages=stages, resolution=res,
                   num_classes=draw(st.integers(1, 20)), activation="leaky_relu")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=tresnet_specs())
def test_count_equals_fvcore_on_random_tresnet_specs(spec):
    torch.manual_seed(0)
    model = designspace.build(spec)
    c = designspace.count(spec)
    assert (c.flops, c.params, c.acts) == fvcore_count(model, spec.resolution)
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 3, spec.resolution, spec.resolution))
    assert out.shape == (1, spec.num_classes)
