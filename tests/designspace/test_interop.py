"""Every member of each family against timm's own constructors, and timm and pycls both ways.

Oracles: ``timm.models.resnet.ResNet``, ``timm.models.regnet.RegNet``,
``timm.models.tresnet.TResNet`` built directly from random configurations (parameter counts and
eval logits with timm's weights mapped in), ``timm.create_model`` for :func:`to_timm`, timm's
``model_cfgs`` (the published RegNet parameters, written as pycls YAML), fvcore for the counts.
"""
from __future__ import annotations

import warnings
from functools import partial

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as hs

import designspace
from designspace import SpecError, families, to_timm, zoo
from designspace.interop import family_of, read_pycls, timm_to_designspace, write_pycls
from oracles import fvcore_count

timm = pytest.importorskip("timm")
from timm.layers import get_attn  # noqa: E402
from timm.models.regnet import RegNet, RegNetCfg, model_cfgs  # noqa: E402
from timm.models.resnet import BasicBlock, Bottleneck, ResNet  # noqa: E402
from timm.models.tresnet import TResNet  # noqa: E402

RES = 64
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _same_network(spec, ref: torch.nn.Module, in_chans: int = 3, res: int = RES) -> None:
    """Parameters equal, timm's weights load key for key, equal eval logits; count = fvcore."""
    ours = designspace.build(spec).eval()
    ref = ref.eval()
    assert _params(ours) == _params(ref)
    ours.load_state_dict(timm_to_designspace(spec, ref.state_dict()), strict=True)
    x = torch.randn(2, in_chans, res, res)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)
    c = designspace.count(spec, res)
    assert (c.flops, c.params, c.acts) == fvcore_count(ours, res, in_chans)


# ----------------------------------------------------------------------------------- ResNet
@hs.composite
def resnet_configs(draw):
    block = draw(hs.sampled_from(["basic", "bottleneck"]))
    n = 4  # timm's ResNet.forward_features runs layer1..layer4
    layers = tuple(draw(hs.lists(hs.integers(1, 2), min_size=n, max_size=n)))
    planes = tuple(draw(hs.lists(hs.sampled_from([8, 16, 24, 32]), min_size=n, max_size=n)))
    groups, wpg = 1, 64
    if block == "bottleneck" and draw(hs.booleans()):
        groups, wpg = draw(hs.sampled_from([(2, 16), (4, 8), (8, 4), (2, 32)]))
    assume(all(p * wpg // 64 >= 1 for p in planes))  # timm too needs a channel per group
    stem = draw(hs.sampled_from(["resnet", "deep", "deep_tiered"]))
    stem_width = draw(hs.sampled_from([8, 16, 32])) if stem != "resnet" else 64
    return dict(block=block, layers=layers, planes=planes, groups=groups, wpg=wpg, stem=stem, stem_width=stem_width,
                avg=draw(hs.booleans()), conv_pool=draw(hs.booleans()),
                se=draw(hs.sampled_from([0.0, 1 / 16, 0.25])), ncls=draw(hs.sampled_from([5, 10])))


def _timm_resnet(c):
    args = {}
    if c["se"]:
        args["block_args"] = {"attn_layer": partial(get_attn("se"), rd_ratio=c["se"])}
    return ResNet(BasicBlock if c["block"] == "basic" else Bottleneck, c["layers"], num_classes=c["ncls"],
                  cardinality=c["groups"], base_width=c["wpg"], stem_width=c["stem_width"],
                  stem_type="" if c["stem"] == "resnet" else c["stem"], replace_stem_pool=c["conv_pool"], avg_down=c["avg"],
                  channels=c["planes"], **args)


def _our_resnet(c):
    return families.resnet(layers=c["layers"], block=c["block"], widths=c["planes"], groups=c["groups"],
                           width_per_group=c["wpg"], stem=c["stem"],
                           stem_width=c["stem_width"] if c["stem"] != "resnet" else None,
                           stem_pool="conv" if c["conv_pool"] else "max", shortcut="avgpool" if c["avg"] else "conv",
                           se_ratio=c["se"], resolution=RES, num_classes=c["ncls"])


@SLOW
@given(c=resnet_configs())
def test_any_timm_resnet_has_an_equal_spec(c):
    spec = _our_resnet(c)
    torch.manual_seed(0)
    _same_network(spec, _timm_resnet(c))
    name, kw = to_timm(spec)  # and back: timm.create_model builds the same network
    torch.manual_seed(1)
    _same_network(spec, timm.create_model(name, **kw))


@pytest.mark.parametrize("name", ["resnet10t", "resnet14t", "resnet26t"])
def test_the_deep_tiered_stem_is_timm_s_resnet_t(name):
    torch.manual_seed(0)
    ref = timm.create_model(name, num_classes=10)
    spec = zoo[name].replace(resolution=RES, num_classes=10)
    assert spec.stem.kind == "deep_tiered" and spec.stages[0].shortcut == "avgpool"
    _same_network(spec, ref)
    assert to_timm(spec)[0] == name
    # any stem width, as timm's ResNet(stem_type='deep_tiered', stem_width=...)
    torch.manual_seed(0)
    ref = ResNet(BasicBlock, (1, 1, 1, 1), stem_type="deep_tiered", stem_width=12, num_classes=10)
    _same_network(families.resnet(layers=(1, 1, 1, 1), block="basic", stem="deep_tiered", stem_width=12,
                                  resolution=RES, num_classes=10), ref)
    with pytest.raises(SpecError, match=r"^stem\.deep_width=3 must be an integer >= 4 for a deep_tiered stem"):
        designspace.NetSpec(designspace.StemSpec("deep_tiered", 6, deep_width=3, pool="max"),
                            (designspace.StageSpec("basic", 1, 8),), resolution=32)


def test_resnet_keyword_layouts_equal_the_published_ones():
    assert families.resnet(layers=(3, 4, 6, 3), block="bottleneck") == zoo["resnet50"]
    assert families.resnet(layers=(3, 4, 6, 3), block="bottleneck", stem="deep", shortcut="avgpool") == zoo["resnet50d"]
    assert families.resnet(50, width_mult=2.0).widths == [512, 1024, 2048, 4096]
    with pytest.raises(SpecError, match="^block=None is required with layers"):
        families.resnet(layers=(1, 1))
    with pytest.raises(SpecError, match="^layers=.* and depth are the same setting"):
        families.resnet(50, layers=(1, 1), block="basic")


def test_resnet_rs_scaling_rule():
    from designspace.families.resnet import RESNET_RS_LAYOUTS

    for d, layers in RESNET_RS_LAYOUTS.items():
        assert families.resnet_rs_layers(d) == layers
    for d in range(101, 402, 3):  # the paper's scaling study: depths 101-400
        lay = families.resnet_rs_layers(d)
        assert 3 * sum(lay) + 2 == d and lay[1] < lay[2]
    assert families.resnet_rs_layers(299) == (4, 32, 59, 4)  # nearest published: 270 = (4, 29, 53, 4)
    with pytest.raises(SpecError, match=r"^depth=300 is not a ResNet-RS depth.*3 \* blocks \+ 2"):
        families.resnet_rs(300)
    wide = families.resnet_rs(101, width_mult=1.5, resolution=160)
    assert wide.widths == [384, 768, 1536, 3072] and wide.stem == families.resnet_rs(101).stem
    # a ResNet-RS at a new depth and width is timm's ResNet with RS's settings
    spec = families.resnet_rs(layers=(1, 2, 1, 1), width_mult=0.25, resolution=RES, num_classes=10)
    torch.manual_seed(0)
    ref = timm.create_model("resnetrs50", layers=(1, 2, 1, 1), channels=(16, 32, 64, 128), num_classes=10)
    _same_network(spec, ref)


# ----------------------------------------------------------------------------------- RegNet
@SLOW
@given(w0=hs.integers(1, 8).map(lambda k: 8 * k), wa=hs.floats(4.0, 60.0), wm=hs.floats(1.5, 3.0),
       depth=hs.integers(4, 8), gs=hs.sampled_from([4, 8, 16, 24]),
       r=hs.sampled_from([0.25, 0.3, 0.5, 0.6, 0.75, 0.8, 1.0]), se=hs.sampled_from([0.0, 0.25]))
def test_any_timm_regnet_has_an_equal_spec(w0, wa, wm, depth, gs, r, se):
    cfg = RegNetCfg(depth=depth, w0=w0, wa=wa, wm=wm, group_size=gs, bottle_ratio=r, se_ratio=se, stem_width=16)
    from designspace.families.regnet import regnet_block_widths

    assume(len(set(regnet_block_widths(w0, wa, wm, depth)[1])) == 4)  # timm's RegNet has exactly 4 stages
    try:
        torch.manual_seed(0)
        ref = RegNet(cfg, num_classes=10)
    except (RuntimeError, ValueError, ZeroDivisionError, AssertionError):  # timm builds no network: say so
        with pytest.raises(SpecError, match="timm's RegNet cannot build"):
            families.regnet(w0, wa, wm, depth, gs, bottle_ratio=r, se_ratio=se, stem_width=16, num_classes=10,
                            resolution=RES)
        return
    spec = families.regnet(w0, wa, wm, depth, gs, bottle_ratio=r, se_ratio=se, stem_width=16, num_classes=10,
                           resolution=max(RES, 2 ** (len(ref.feature_info))))
    assume(spec.stride <= RES)
    _same_network(spec, ref)
    name, kw = to_timm(spec)
    torch.manual_seed(1)
    _same_network(spec, timm.create_model(name, **kw))


ISSUE_28_REGNETS = [
    # timm builds both (7,605,998 params for the first); to_timm refused them
    dict(w0=40, wa=60.0, wm=2.37, depth=12, group_width=16, bottle_ratio=1.5, se_ratio=0.1, stem_width=32),
    # w0=8, wm=1.457: exponents 0 and 1 both quantize to width 8 (one stage, two exponents)
    dict(w0=8, wa=2.832, wm=1.457, depth=11, group_width=8, bottle_ratio=0.75, se_ratio=0.25, stem_width=64),
]


@pytest.mark.parametrize("kw", ISSUE_28_REGNETS)
def test_to_timm_builds_the_issue_28_regnets(kw):
    cfg = RegNetCfg(depth=kw["depth"], w0=kw["w0"], wa=kw["wa"], wm=kw["wm"], group_size=kw["group_width"],
                    bottle_ratio=kw["bottle_ratio"], se_ratio=kw["se_ratio"], stem_width=kw["stem_width"])
    torch.manual_seed(0)
    ref = RegNet(cfg, num_classes=10)
    spec = families.regnet(**kw, num_classes=10, resolution=RES)
    _same_network(spec, ref)
    name, tkw = to_timm(spec)
    torch.manual_seed(1)
    _same_network(spec, timm.create_model(name, **tkw))
    if kw["w0"] == 40:
        assert _params(RegNet(cfg)) == designspace.count(families.regnet(**kw)).params == 7_605_998


def test_to_timm_builds_every_random_regnet_timm_builds():
    """A random sweep: every 4-stage RegNet that timm's RegNet(RegNetCfg(...)) builds comes back
    from to_timm as a timm model of the same parameter count and stage widths."""
    import random

    rng, n = random.Random(28), 0
    while n < 30:
        kw = dict(w0=8 * rng.randint(1, 12), wa=round(rng.uniform(0.5, 100), 3), wm=round(rng.uniform(1.2, 3.0), 3),
                  depth=rng.randint(4, 16), group_width=rng.choice([4, 8, 16, 24, 48]),
                  bottle_ratio=rng.choice([0.25, 0.5, 0.75, 1.0, 1.5]), se_ratio=rng.choice([0.0, 0.25]),
                  stem_width=rng.choice([16, 32]))
        cfg = RegNetCfg(depth=kw["depth"], w0=kw["w0"], wa=kw["wa"], wm=kw["wm"], group_size=kw["group_width"],
                        bottle_ratio=kw["bottle_ratio"], se_ratio=kw["se_ratio"], stem_width=kw["stem_width"])
        try:
            with torch.device("meta"):
                ref = RegNet(cfg)
        except (RuntimeError, ValueError, ZeroDivisionError, AssertionError):
            continue
        if len(ref.feature_info) != 5:  # stem + 4 stages, the RegNets timm's create_model makes
            continue
        n += 1
        spec = families.regnet(**kw)
        name, tkw = to_timm(spec)
        with torch.device("meta"):
            out = timm.create_model(name, **tkw)
        assert _params(out) == _params(ref) == designspace.count(spec).params, kw
        assert [i["num_chs"] for i in out.feature_info] == [i["num_chs"] for i in ref.feature_info], kw


def test_the_issue_example_regnet_at_bottle_ratio_0_3():
    cfg = RegNetCfg(depth=6, w0=96, wa=173.49, wm=1.874, group_size=136, bottle_ratio=0.3, se_ratio=0.25)
    ref = RegNet(cfg)
    spec = families.regnet(96, 173.49, 1.874, 6, 136, bottle_ratio=0.3, se_ratio=0.25)
    assert _params(ref) == designspace.count(spec).params == 4_447_353


def test_regnet_where_timm_makes_zero_groups_is_a_spec_error():
    # bottle_ratio 0.8: timm's arithmetic leaves a stage whose groups do not divide its bottleneck
    # (or are 0), so its conv cannot be built
    kw = dict(depth=8, w0=8, wa=8.0, wm=2.0, group_size=64, bottle_ratio=0.8)
    from designspace.families.regnet import regnet_block_widths

    assert len(set(regnet_block_widths(8, 8.0, 2.0, 8)[1])) == 4
    with pytest.raises((ValueError, RuntimeError, ZeroDivisionError)):
        RegNet(RegNetCfg(**kw))
    with pytest.raises(SpecError, match=r"^bottle_ratio=0\.8 with group_width=64 makes stage \d .*timm's RegNet cannot build"):
        families.regnet(8, 8.0, 2.0, 8, 64, bottle_ratio=0.8)


# ---------------------------------------------------------------------------------- TResNet
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=hs.lists(hs.integers(1, 2), min_size=4, max_size=4), wf=hs.sampled_from([0.25, 0.5, 0.75]))
def test_any_timm_tresnet_has_an_equal_spec(layers, wf):
    torch.manual_seed(0)
    ref = TResNet(layers=layers, width_factor=wf, num_classes=10)
    spec = families.tresnet(None, layers=tuple(layers), width_factor=wf, resolution=RES, num_classes=10)
    _same_network(spec, ref)
    name, kw = to_timm(spec)
    assert _params(timm.create_model(name, **kw)) == _params(ref)


# --------------------------------------------------------------------- to_timm, family, errors
@pytest.mark.parametrize("name", ["resnet50", "regnety_016", "efficientnet_b2", "tresnet_m", "resnetrs101"])
def test_named_models_go_to_timm_under_their_names(name):
    assert to_timm(zoo[name].replace(num_classes=10))[0] == name
    assert to_timm(zoo[name])[1]["num_classes"] == 1000


def test_what_timm_cannot_express_is_named():
    with pytest.raises(SpecError, match=r"^stem\.width=32 .*timm's 7x7 stem is always 64 wide"):
        to_timm(families.resnet(layers=(1, 1, 1, 1), block="basic", stem_width=32))
    with pytest.raises(SpecError, match="multipliers timm builds only through _gen_efficientnet"):
        to_timm(families.efficientnet(1.3, 1.7))
    vanilla = designspace.NetSpec(designspace.StemSpec("cifar", 8), (designspace.StageSpec("vanilla", 1, 8),),
                                  resolution=32)
    with pytest.raises(SpecError, match="is not the layout of a timm family"):
        to_timm(vanilla)
    with pytest.raises(SpecError, match="is not a key of a timm resnet checkpoint"):
        timm_to_designspace(families.resnet(18), {"blocks.0.conv.weight": torch.zeros(1)})
    assert family_of(families.resnet_rs(50)) == "resnet" and family_of(zoo["efficientnet_b0"]) == "efficientnet"


# ------------------------------------------------------------------------------------ pycls
PYCLS_REGNET = """MODEL:
  TYPE: regnet
  NUM_CLASSES: 1000
REGNET:
  SE_ON: {se}
  DEPTH: {depth}
  W0: {w0}
  WA: {wa}
  WM: {wm}
  GROUP_W: {g}
OPTIM:
  LR_POLICY: cos
  BASE_LR: 0.4
TRAIN:
  DATASET: imagenet
  IM_SIZE: 224
"""


@pytest.mark.parametrize("name", [n for n in zoo if n.startswith("regnet")])
def test_the_24_published_regnet_configs_read_as_the_zoo(name):
    c = model_cfgs[name]  # timm's copy of the published parameters (pycls configs/dds_baselines)
    text = PYCLS_REGNET.format(se=bool(c.se_ratio), depth=c.depth, w0=c.w0, wa=c.wa, wm=c.wm, g=c.group_size)
    assert read_pycls(text) == zoo[name]
    assert read_pycls(write_pycls(zoo[name])) == zoo[name]


def test_pycls_round_trips_and_refusals(tmp_path):
    for spec in (designspace.sample("anynetx_a", n=3, seed=1, flops="1M:40M", resolution=32).spec.tolist()
                 + designspace.sample("nds_vanilla", n=2, seed=1).spec.tolist()):
        s = designspace.NetSpec.from_json(spec)
        assert read_pycls(write_pycls(s)) == s
    for s in (zoo["resnet50"], zoo["efficientnet_b0"].replace(head=designspace.HeadSpec(1280, 0.0))):
        f = tmp_path / "c.yaml"
        f.write_text(write_pycls(s))
        assert read_pycls(str(f)) == s
    with pytest.raises(SpecError, match="pycls has no such block"):
        write_pycls(zoo["seresnet50"])
    with pytest.raises(SpecError, match=r"^MODEL\.TYPE='resnest' is not one of"):
        read_pycls("MODEL:\n  TYPE: resnest\n")


# ------------------------------------------------------------------ timm's model conventions
def test_classifier_head_and_features(tmp_path):
    net = designspace.build("resnet18")
    x = torch.randn(2, 3, 64, 64)
    feats = net.forward_features(x)
    torch.testing.assert_close(net.forward_head(feats), net(x))
    assert net.forward_head(feats, pre_logits=True).shape == (2, net.num_features) == (2, 512)
    net.reset_classifier(7)
    assert net(x).shape == (2, 7) and net.spec.num_classes == 7 and net.num_classes == 7
    net.reset_classifier(0)
    assert net(x).shape == (2, 512)
    f = designspace.build("regnetx_002", features_only=True, out_indices=(0, 2, 4))
    outs = f(x)
    assert [o.shape[1] for o in outs] == f.feature_info.channels() == [32, 56, 368]
    assert [64 // o.shape[-1] for o in outs] == f.feature_info.reduction() == [2, 8, 32]
    ref = timm.create_model("resnet18", features_only=True)
    ours = designspace.build("resnet18", features_only=True)
    # timm's levels: index 0 is the stem's activation before the max-pool
    assert ours.feature_info.channels() == ref.feature_info.channels()
    assert ours.feature_info.reduction() == ref.feature_info.reduction()


def test_pretrained_from_a_saved_timm_checkpoint(tmp_path):
    torch.manual_seed(3)
    ref = timm.create_model("regnetx_002").eval()
    path = tmp_path / "regnetx_002.pth"
    torch.save(ref.state_dict(), path)
    ours = designspace.build("regnetx_002", pretrained=str(path)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-4, rtol=1e-4)
    ten = designspace.build("regnetx_002", pretrained=str(path), num_classes=10)  # the classifier stays fresh
    torch.testing.assert_close(ten.stages[0][0].conv1.conv.weight, ours.stages[0][0].conv1.conv.weight)
    with pytest.raises(designspace.UsageError, match="is not a checkpoint file"):
        designspace.build("regnetx_002", pretrained=str(tmp_path / "missing.pth"))


@pytest.mark.parametrize("name", ["resnet18", "resnetrs50", "regnety_002", "efficientnet_b0", "tresnet_m"])
def test_script_export_and_onnx_for_every_family(name, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    net = designspace.build(designspace.zoo[name].replace(resolution=64)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = net(x)
        torch.testing.assert_close(torch.jit.script(net)(x), ref)
        torch.testing.assert_close(torch.export.export(net, (x,)).module()(x), ref)
    f = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(f), dynamo=False, input_names=["x"], output_names=["y"])
    out = onnxruntime.InferenceSession(str(f)).run(None, {"x": x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(out), ref, atol=1e-4, rtol=1e-4)
