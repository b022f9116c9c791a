"""timm's model API on our networks, checked against timm itself (issue 28, points 1 and 2).

Oracles: ``timm.create_model`` with the same keywords (output shapes, parameter counts, feature
levels), timm's ``get_pretrained_cfg`` and ``resolve_data_config``, timm's ``list_models``,
timm's ``group_parameters``, fvcore for the counts of the new heads.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

import designspace
from designspace import SpecError, zoo
from designspace.interop import family_of, map_key
from oracles import fvcore_count

timm = pytest.importorskip("timm")
from timm.data import resolve_data_config  # noqa: E402
from timm.models import get_pretrained_cfg  # noqa: E402

RES = 64


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _x(n: int = 2) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(n, 3, RES, RES)


# ---------------------------------------------------------------- keywords: classes, pool, drops
@pytest.mark.parametrize("name", ["resnet18", "regnetx_002", "efficientnet_b0"])
@pytest.mark.parametrize("pool", ["avg", "max", "avgmax", "catavgmax", ""])
def test_num_classes_0_and_global_pool_as_timm(name, pool):
    kw = dict(num_classes=0, global_pool=pool)
    ours, ref = designspace.create(name, **kw).eval(), timm.create_model(name, **kw).eval()
    assert _params(ours) == _params(ref)
    with torch.no_grad():
        assert ours(_x()).shape == ref(_x()).shape
        # with timm's weights loaded the pooled features are timm's
        ours.load_state_dict(designspace.timm_to_designspace(name, ref.state_dict()), strict=True)
        torch.testing.assert_close(ours(_x()), ref(_x()), atol=1e-4, rtol=1e-4)
    if pool:
        c = designspace.count(ours.spec, RES)
        assert (c.flops, c.params, c.acts) == fvcore_count(ours, RES)


@pytest.mark.parametrize("name", ["efficientnet_b0", "regnetx_002", "resnet18"])
def test_forward_features_and_forward_head_are_timm_s_with_its_weights(name):
    # timm's EfficientNet ends forward_features with conv_head and bn2: the 1280-channel map it pools
    ref, ours = timm.create_model(name).eval(), designspace.create(name).eval()
    ours.load_state_dict(designspace.timm_to_designspace(name, ref.state_dict()), strict=True)
    with torch.no_grad():
        got, want = ours.forward_features(_x()), ref.forward_features(_x())
        assert got.shape == want.shape and got.shape[1] == ours.num_features == ref.num_features
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
        for pre_logits in (True, False):
            torch.testing.assert_close(ours.forward_head(got, pre_logits=pre_logits),
                                       ref.forward_head(want, pre_logits=pre_logits), atol=1e-4, rtol=1e-4)
        ours.set_grad_checkpointing()
        torch.testing.assert_close(ours.forward_features(_x()), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("pool", ["max", "catavgmax"])
def test_a_classifier_after_each_pool_is_timm_s(pool):
    ours = designspace.create("regnety_002", num_classes=7, global_pool=pool).eval()
    ref = timm.create_model("regnety_002", num_classes=7, global_pool=pool).eval()
    ours.load_state_dict(designspace.timm_to_designspace("regnety_002", ref.state_dict()), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(_x()), ref(_x()), atol=1e-4, rtol=1e-4)
    c = designspace.count(ours.spec, RES)
    assert (c.flops, c.params, c.acts) == fvcore_count(ours, RES)


def test_reset_classifier_with_a_pool_as_timm():
    ours, ref = designspace.create("resnet18").eval(), timm.create_model("resnet18").eval()
    ours.load_state_dict(designspace.timm_to_designspace("resnet18", ref.state_dict()), strict=True)
    for n, pool in ((7, "max"), (0, "catavgmax"), (0, ""), (5, "avgmax")):
        ours.reset_classifier(n, global_pool=pool)
        ref.reset_classifier(n, global_pool=pool)
        assert _params(ours) == _params(ref) and ours.num_classes == ref.num_classes == n
        assert ours.spec.head.pool == pool and ours.spec.num_classes == n
        with torch.no_grad():
            if n == 0:
                torch.testing.assert_close(ours(_x()), ref(_x()), atol=1e-4, rtol=1e-4)
            else:
                assert ours(_x()).shape == ref(_x()).shape
    with pytest.raises(SpecError, match=r"^head\.pool='' \(no pooling\) needs num_classes=0"):
        ours.reset_classifier(3, global_pool="")
    with pytest.raises(SpecError, match=r"^global_pool='sum' is not one of"):
        designspace.create("resnet18", global_pool="sum")


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_b0", "regnetx_002", "tresnet_m"])
def test_drop_rate_and_drop_path_rate_mean_timm_s(name):
    ours = designspace.create(name, drop_rate=0.25, drop_path_rate=0.1)
    ref = timm.create_model(name, drop_rate=0.25, drop_path_rate=0.1)
    assert ours.spec.head.dropout == 0.25 and ours.spec.drop_path_rate == 0.1
    assert ours.head.drop.p == 0.25
    assert [m.p for m in ref.modules() if isinstance(m, torch.nn.Dropout)] in ([], [0.25])
    assert getattr(ref, "drop_rate", 0.25) == 0.25
    # per-block stochastic depth rates (timm leaves out the blocks at rate 0)
    ours_dp = [m.rate for m in ours.modules() if type(m).__name__ == "DropPath" and m.rate]
    ref_dp = [m.drop_prob for m in ref.modules() if type(m).__name__ == "DropPath"]
    assert ours_dp == pytest.approx(ref_dp)
    with pytest.raises(SpecError, match=r"^drop_rate=1\.5 must be a number in \[0, 1\)"):
        designspace.create(name, drop_rate=1.5)


@pytest.mark.parametrize("name", ["regnetx_002", "resnet18", "efficientnet_b0"])
def test_to_timm_carries_the_pool_and_the_classes(name):
    spec = zoo[name].replace(num_classes=0, head=dataclasses.replace(zoo[name].head, pool="catavgmax"))
    tname, kw = designspace.to_timm(spec)
    assert kw["global_pool"] == "catavgmax" and kw["num_classes"] == 0
    with torch.device("meta"):
        assert _params(timm.create_model(tname, **kw)) == designspace.count(spec).params


def test_spec_ids_do_not_change_for_the_default_pool():
    spec = zoo["resnet18"]
    assert "pool" not in spec.to_dict()["head"]
    other = spec.replace(head=designspace.HeadSpec(pool="max"))
    assert other.to_dict()["head"]["pool"] == "max" and other.id != spec.id
    assert designspace.NetSpec.from_json(other.to_json()) == other


# ---------------------------------------------------------------------------- pretrained_cfg
@pytest.mark.parametrize("name", list(zoo))
def test_pretrained_cfg_is_timm_s_for_every_named_model(name):
    from designspace.pretrained import pretrained_cfg

    ref = get_pretrained_cfg(name).to_dict()
    spec = zoo[name]
    first = {"resnet": "stem.deep.0.conv" if spec.stem.kind.startswith("deep") else "stem.conv.conv",
             "resnet_rs": "stem.deep.0.conv", "regnet": "stem.conv", "efficientnet": "stem.conv",
             "tresnet": "stem.conv.conv"}[zoo.entry(name).family]
    ours = pretrained_cfg(spec, name, first_conv=first)
    for k in ("input_size", "test_input_size", "interpolation", "crop_pct", "test_crop_pct", "crop_mode", "mean", "std",
              "num_classes", "pool_size", "tag", "fixed_input_size"):
        assert ours.get(k) == ref.get(k), k
    # first_conv and classifier are timm's names mapped onto our modules
    fam = family_of(spec)
    assert map_key(fam, ref["first_conv"] + ".weight") == ours["first_conv"] + ".weight"
    assert map_key(fam, ref["classifier"] + ".weight") == ours["classifier"] + ".weight"
    assert resolve_data_config(pretrained_cfg=ours) == resolve_data_config(pretrained_cfg=ref)


@pytest.mark.parametrize("name", ["tresnet_m", "efficientnet_b1", "resnetrs50", "regnety_032"])
def test_resolve_data_config_of_a_created_model_is_timm_s(name):
    ours, ref = designspace.create(name, num_classes=10), timm.create_model(name, num_classes=10)
    assert resolve_data_config(model=ours) == resolve_data_config(model=ref)
    assert ours.default_cfg is ours.pretrained_cfg
    modules = dict(ours.named_modules())
    assert isinstance(modules[ours.pretrained_cfg["first_conv"]], torch.nn.Conv2d)
    assert isinstance(modules[ours.pretrained_cfg["classifier"]], torch.nn.Linear)


def test_any_spec_gets_a_sensible_pretrained_cfg():
    spec = designspace.families.regnet(24, 36.44, 2.49, 13, 8, resolution=96, num_classes=10, in_chans=1)
    net = designspace.build(spec)
    cfg = resolve_data_config(model=net)
    assert cfg["input_size"] == (1, 96, 96) and cfg["mean"] == (0.5,) and cfg["interpolation"] == "bicubic"
    assert net.pretrained_cfg["num_classes"] == 10 and net.pretrained_cfg["first_conv"] == "stem.conv"


# ------------------------------------------------------------- grad checkpointing, groups
def test_grad_checkpointing_gives_the_same_outputs_and_gradients_with_less_saved_memory():
    torch.manual_seed(0)
    net = designspace.build(zoo["resnet18"].replace(resolution=RES, num_classes=10))
    x = _x()

    def run(enable: bool) -> tuple[torch.Tensor, list[torch.Tensor], int]:
        net.set_grad_checkpointing(enable)
        net.zero_grad()
        saved = []

        def pack(t):
            saved.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = net(x)
        out.square().sum().backward()
        return out.detach(), [p.grad.clone() for p in net.parameters()], sum(saved)

    ref = timm.create_model("resnet18", num_classes=10)
    ref.set_grad_checkpointing(True)  # the same switch exists on timm's model
    out0, g0, mem0 = run(False)
    out1, g1, mem1 = run(True)
    torch.testing.assert_close(out1, out0)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b)
    assert mem1 < mem0 / 2
    assert torch.jit.script(net.eval()) is not None  # the switch keeps the model scriptable


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0"])
def test_group_matcher_groups_as_timm(name):
    from timm.models import group_parameters

    ours, ref = designspace.create(name), timm.create_model(name)
    for coarse in (False, True):
        og = group_parameters(ours, ours.group_matcher(coarse=coarse))
        rg = group_parameters(ref, ref.group_matcher(coarse=coarse))
        assert len(og) == len(rg)
        assert [sum(dict(ours.named_parameters())[n].numel() for n in g) for g in og.values()] == \
            [sum(dict(ref.named_parameters())[n].numel() for n in g) for g in rg.values()]
    from timm.optim import create_optimizer_v2

    opt = create_optimizer_v2(ours, "sgd", lr=0.1, layer_decay=0.5)
    assert max(g["lr_scale"] for g in opt.param_groups) == 1.0 and min(g["lr_scale"] for g in opt.param_groups) < 0.01


# --------------------------------------------------------------------------- feature levels
@pytest.mark.parametrize("name", ["efficientnet_b0", "resnet50", "resnetrs50", "regnetx_002", "resnet18", "tresnet_m"])
def test_feature_levels_and_out_indices_are_timm_s(name):
    ref = timm.create_model(name, features_only=True)
    ours = designspace.create(name, features_only=True)
    assert ours.feature_info.channels() == ref.feature_info.channels()
    assert ours.feature_info.reduction() == ref.feature_info.reduction()
    assert ours.feature_info.out_indices == ref.feature_info.out_indices  # the default: (1, 2, 3, 4) for TResNet
    assert len(ours.feature_info) == len(ref.feature_info)
    net = designspace.create(name)
    assert [(d["num_chs"], d["reduction"]) for d in net.feature_info] == [
        (d["num_chs"], d["reduction"]) for d in timm.create_model(name).feature_info]
    for idx in ((1, 2), (0, 3), (-1,), 2, 4):
        try:
            ref = timm.create_model(name, features_only=True, out_indices=idx).eval()
        except AssertionError:  # timm: "Return layers ({''}) are not present in model" (TResNet's level 0)
            with pytest.raises(SpecError, match=r"^out_indices=.* asks for level 0, a placeholder"):
                designspace.create(name, features_only=True, out_indices=idx)
            continue
        ours = designspace.create(name, features_only=True, out_indices=idx).eval()
        ours_out = ours(_x())
        assert [o.shape for o in ours_out] == [o.shape for o in ref(_x())]
        assert [o.shape[1] for o in ours_out] == ours.feature_info.channels() == ref.feature_info.channels()
        assert ours.feature_info.reduction() == ref.feature_info.reduction()
        n = len(ref.feature_info)
        assert ours.feature_info.out_indices == tuple(i % n for i in ref.feature_info.out_indices)
        assert ours.feature_info.module_name(0) in dict(ours.named_modules()) or ours.feature_info.module_name(0) == "stem"


@pytest.mark.parametrize("name, idx", [("efficientnet_b0", (1, 2)), ("tresnet_m", (1, 2)), ("tresnet_m", 2)])
def test_feature_maps_equal_timm_s_with_its_weights(name, idx):
    ref = timm.create_model(name, features_only=True, out_indices=idx).eval()
    full = timm.create_model(name).eval()
    want = ref.state_dict()  # timm's feature net: the full model's keys (TResNet's body.* flattened to body_*)
    ref.load_state_dict({k2: v for k, v in full.state_dict().items()
                         if (k2 := k if k in want else k.replace("body.", "body_", 1)) in want}, strict=True)
    ours = designspace.create(name, features_only=True, out_indices=idx).eval()
    sd = designspace.timm_to_designspace(name, full.state_dict())
    ours.load_state_dict({k: v for k, v in sd.items() if not k.startswith("head.")})
    with torch.no_grad():
        got, exp = ours(_x()), ref(_x())
        assert len(got) == len(exp) == len(ref.feature_info.out_indices)
        for a, b in zip(got, exp):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_bad_out_indices_are_named_before_building():
    with pytest.raises(SpecError, match=r"^out_indices=\(0, 7\) must hold level indices in 0\.\.4"):
        designspace.create("efficientnet_b0", features_only=True, out_indices=(0, 7))


# ------------------------------------------------------------------------------ list_models
@pytest.mark.parametrize("pattern", ["*", "regnet*", "*50*", "resnet*d", "efficientnet_b?", "regnety_0[01]*", "nothing*"])
def test_list_models_matches_timm_s(pattern):
    assert designspace.list_models(pattern) == [n for n in timm.list_models(pattern) if n in zoo]


def test_list_models_by_family_and_exclusion():
    assert designspace.list_models(family="tresnet") == ["tresnet_l", "tresnet_m", "tresnet_xl"]
    assert designspace.list_models("resnet*", family="resnet_rs")[:2] == ["resnetrs50", "resnetrs101"]
    assert designspace.list_models(["tresnet*", "*b7"], exclude="*xl") == ["efficientnet_b7", "tresnet_l", "tresnet_m"]
    assert set(designspace.list_models()) == set(zoo)
    with pytest.raises(SpecError, match=r"^family='vit' is not one of efficientnet, regnet, resnet, resnet_rs, tresnet"):
        designspace.list_models(family="vit")
