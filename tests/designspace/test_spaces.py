"""Design spaces: every emitted spec builds and has fvcore's complexity, values lie in the
declared domains, the numpy fast paths equal the family and designspace.count, domains have
the distributions they claim (scipy), Optuna's suggest draws the same parameters, TOML errors.

Oracles: fvcore on the built module (complexity), ``designspace.families.regnet`` (RegNet
tables), scipy.stats (distributions), optuna (suggest).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import designspace
from designspace import NetSpec, count, families
from designspace.spaces import SPACES, Choice, Float, Int, Regime, SpaceError, get_space, sample_records, spec_json
from designspace.families.regnet import regnet_stages
from designspace.spaces.custom import load_toml

NAMES = sorted(SPACES)


def _draws(name: str, n: int, seed: int = 0, resolution: int | None = None):
    sp = get_space(name, resolution=resolution)
    return sp, sample_records(sp, n, seed=seed, dedupe=False).records


@pytest.mark.parametrize("name", NAMES)
def test_records_lie_in_domains_and_match_count(name):
    sp, recs = _draws(name, 60, resolution=64)
    for r in recs:
        assert sp.contains(r), (name, r)
        spec = NetSpec.from_json(r["spec"])
        assert spec.to_json() == r["spec"] and spec.id == r["id"]
        c = count(spec)
        assert (c.flops, c.params, c.acts) == (r["flops"], r["params"], r["acts"]), name
        assert spec.resolution == r["resolution"]
        # the configured resolution is fixed, or the base that a scaling space grows
        assert spec.resolution >= 64 if sp.scales_resolution else spec.resolution == 64


@pytest.mark.parametrize("name", ["anynetx_a", "anynetx_e", "regnetx", "regnety", "regnet", "resnext"])
def test_fast_paths_equal_family_and_count(name):
    """The numpy tables (RegNet rule, AnyNet adjustment, complexity, JSON) equal the pure-Python
    family and counter on many draws, including draws the tables call outside the space."""
    sp = get_space(name, resolution=224)
    u = np.random.default_rng(7).random((3000, sp.dim))
    ev = sp.evaluate(u)
    checked = 0
    for i in range(len(ev.ok)):
        p = ev.rows[i]
        if name.startswith("regnet"):
            ws, ds, gs = regnet_stages(p["w0"], p["wa"], p["wm"], p["depth"], p["group_width"],
                                                p.get("bottleneck_ratio", 1))
            assert bool(ev.ok[i]) == (len(ws) == 4), p
            if ev.ok[i]:
                assert ev.spec(i) == families.regnet(**sp.family_kwargs(p)), p
        if ev.ok[i] and checked < 400:
            checked += 1
            spec = ev.spec(i)
            c = count(spec)
            assert (c.flops, c.params, c.acts) == (ev.flops[i], ev.params[i], ev.acts[i]), p
            if ev.json is not None:
                assert ev.json(i) == spec.to_json() == spec_json(spec)
    assert checked > 50


def test_anynet_refinements():
    """B shares b, C shares g, D sorts widths, E sorts depths (Radosavovic et al. 2020, Sec. 3)."""
    for v, shared, sorted_ in (("a", "", ""), ("b", "b", ""), ("c", "bg", ""), ("d", "bg", "w"), ("e", "bg", "wd")):
        sp = get_space(f"anynetx_{v}")
        for k in "bg":
            assert (k in sp.params) == (k in shared) and (f"{k}1" in sp.params) == (k not in shared)
        _, recs = _draws(f"anynetx_{v}", 200, seed=3)
        for r in recs:
            spec = NetSpec.from_json(r["spec"])
            assert len(spec.stages) == 4 and all(s.stride == 2 and s.block == "regnet" for s in spec.stages)
            assert spec.stem.width == 32
            for k in "wd":
                vals = [r[f"{k}{i}"] for i in range(1, 5)]
                if k in sorted_:
                    assert vals == sorted(vals)
            assert [s.depth for s in spec.stages] == [r[f"d{i}"] for i in range(1, 5)]
            for s in spec.stages:
                assert s.width <= 1024 and s.width % 8 == 0 and s.depth <= 16
        if not sorted_:
            assert any([r["w1"], r["w2"]] != sorted([r["w1"], r["w2"]]) for r in recs)


def test_group_width_capped_like_pycls():
    sp = get_space("anynetx_a")
    p = {"d1": 1, "d2": 1, "d3": 1, "d4": 1, "w1": 8, "w2": 40, "w3": 48, "w4": 1024,
         "b1": 4, "b2": 1, "b3": 2, "b4": 1, "g1": 32, "g2": 32, "g3": 16, "g4": 32}
    spec = sp.build(p)
    # w=8,b=4 -> bottleneck 2, g capped to 2; w=40,b=1,g=32 -> round(40/32)*32 = 32; w=48,b=2 -> 24 -> 32 (g=16)
    assert [(s.width, s.bottleneck_width, s.group_width) for s in spec.stages] == [
        (8, 2, 2), (32, 32, 32), (64, 32, 16), (1024, 1024, 32)]


def test_regnet_spaces_ranges():
    x, y, r = get_space("regnetx"), get_space("regnety"), get_space("regnet")
    assert (x.params["depth"].low, x.params["depth"].high) == (12, 28)
    assert (x.params["wm"].low, x.params["wm"].high) == (2.0, 3.0)
    assert (r.params["depth"].high, r.params["wm"].low) == (63, 1.5)
    assert r.params["bottleneck_ratio"].options == (1, 2, 4) and "bottleneck_ratio" not in x.params
    for rec in sample_records(y, 50, seed=1).records:
        spec = NetSpec.from_json(rec["spec"])
        assert len(spec.stages) == 4 and all(s.se_ratio == 0.25 for s in spec.stages)
        assert rec["w0"] < 256 and 0 < rec["wa"] < 256


def test_efficientnet_compound_constraint():
    sp = get_space("efficientnet")
    for r in sample_records(sp, 100, seed=2).records:
        prod = r["alpha"] * r["beta"] ** 2 * r["gamma"] ** 2
        assert abs(prod - 2) < 2e-3 and r["gamma"] >= 1
        assert r["resolution"] == math.floor(224 * r["gamma"] ** r["phi"] + 0.5)
        assert NetSpec.from_json(r["spec"]) == families.efficientnet_compound(r["phi"], r["alpha"], r["beta"], r["gamma"])


def test_efficientnet_scaling_methods():
    sp = get_space("efficientnet_scaling")
    base = families.efficientnet()
    for r in sample_records(sp, 60, seed=3, dedupe=False).records:
        spec, phi = NetSpec.from_json(r["spec"]), r["phi"]
        if r["scaling"] == "compound":  # oracle: the family's compound rule (Tan & Le, Eq. 3)
            assert spec == families.efficientnet_compound(phi)
        else:  # one dimension grows, the other two stay B0's
            w, d, res = {"width": (2 ** (phi / 2), 1.0, 224), "depth": (1.0, 2 ** phi, 224),
                         "resolution": (1.0, 1.0, int(224 * 2 ** (phi / 2) + 0.5))}[r["scaling"]]
            assert spec == families.efficientnet(width_mult=w, depth_mult=d, resolution=res)
        if phi == 0:
            assert spec == base
    # the configured resolution is the base one; options change the base network
    small = get_space("efficientnet_scaling", resolution=64, num_classes=10).with_options({"base_width": 0.5, "base_depth": 1})
    assert small.build({"scaling": "resolution", "phi": 2.0}) == families.efficientnet(0.5, 1.0, 128, num_classes=10)
    assert small.build({"scaling": "depth", "phi": 1.0}).resolution == 64


def test_resnet_scaling_depth_vs_width_at_matched_flops():
    sp = get_space("resnet_scaling", resolution=32, num_classes=10)
    base = sp.build({"scaling": "depth", "phi": 0.0})
    assert base == sp.build({"scaling": "width", "phi": 0.0})  # one common base
    assert [s.depth for s in base.stages] == [2] * 4 and [s.width for s in base.stages] == [16, 32, 64, 128]
    assert all(s.block == "basic" and s.se_ratio == 0.25 and s.shortcut == "avgpool" for s in base.stages)
    f0 = count(base).flops
    for phi in (0.5, 1.0, 1.5, 2.0):
        deep, wide = sp.build({"scaling": "depth", "phi": phi}), sp.build({"scaling": "width", "phi": phi})
        assert [s.depth for s in deep.stages] == [round(2 * 2 ** phi + 1e-9)] * 4
        assert [s.width for s in deep.stages] == [16, 32, 64, 128]
        assert [s.depth for s in wide.stages] == [2] * 4 and wide.stages[3].width == int(128 * 2 ** (phi / 2))
        assert deep.stem == wide.stem == base.stem  # the stem is kept
        # both grow flops by about 2**phi (depth rounds blocks, width rounds channels)
        for spec in (deep, wide):
            assert 0.8 < count(spec).flops / f0 / 2 ** phi < 1.2
    with pytest.raises(SpaceError, match=re.escape("base_depth=0 must be >= 1")):
        sp.with_options({"base_depth": 0})


def test_resnet_scaling_random_bases_each_scaled_over_the_whole_grid():
    """``bases = N``: N distinct random bases, the free ``base`` picks one; every base has one
    phi = 0 network shared by both methods; depth doubles each stage's blocks at phi = 1, width
    multiplies planes by sqrt(2); counts equal fvcore's at the cifar geometry."""
    from oracles import fvcore_count

    sp = get_space("resnet_scaling", resolution=32, num_classes=10, in_chans=1).with_options(
        {"bases": 6, "base_seed": 1, "phi_step": 1.0, "geometry": "cifar"})
    assert list(sp.params) == ["base", "scaling", "phi"] and len(set(sp.base_networks)) == 6
    assert sp.base_networks == sp.with_options({"phi_step": 0.5}).base_networks  # the seed alone fixes them
    assert sp.base_networks != sp.with_options({"base_seed": 2}).base_networks
    recs = sample_records(sp, 30, seed=0).records  # the whole finite space: 6 x (1 + 2 x 2) networks
    assert len({r["id"] for r in recs}) == 30
    for b, (depths, width) in enumerate(sp.base_networks):
        base = sp.spec_of({"base": b, "scaling": "depth", "phi": 0.0})
        assert base == sp.spec_of({"base": b, "scaling": "width", "phi": 0.0})
        assert [s.depth for s in base.stages] == list(depths) and base.stages[0].width == width
        deep = sp.spec_of({"base": b, "scaling": "depth", "phi": 1.0})
        wide = sp.spec_of({"base": b, "scaling": "width", "phi": 2.0})
        assert [s.depth for s in deep.stages] == [2 * d for d in depths]
        assert [s.width for s in wide.stages] == [2 * s.width for s in base.stages]
        assert base.stem.stride == 1 and base.stages[0].stride == 1  # the 32-px geometry
    spec = sp.spec_of({"base": 3, "scaling": "width", "phi": 1.0})
    c = count(spec)
    assert fvcore_count(designspace.build(spec), 32, in_chans=1) == (c.flops, c.params, c.acts)
    with pytest.raises(SpaceError, match=re.escape("bases=49 must be in 0..48")):
        sp.with_options({"bases": 49})
    with pytest.raises(SpaceError, match=re.escape("phi_step=0.3 must divide 2")):
        sp.with_options({"phi_step": 0.3})


@pytest.mark.parametrize("options, needle", [
    ({"base_widht": 0.5}, "base_widht=0.5 is not an option of space efficientnet_scaling"),
    ({"base_width": "half"}, "base_width='half' must be a float"),
    ({"base_width": 0}, "base_width=0.0 must be > 0"),
    ({"alpha": 0.9}, "alpha=0.9 must be >= 1"),
    ({"base_resolution": 16}, "base_resolution=16 must be >= 32"),
    ({"phi": 3}, "phi=3 is not an option"),  # domains are not options
])
def test_space_options_are_checked(options, needle):
    with pytest.raises(SpaceError, match=re.escape(needle)):
        get_space("efficientnet_scaling").with_options(options)


def test_resnet_rs_width_scales_stages():
    sp = get_space("resnet_rs")
    spec = sp.build({"depth": 50, "width": 0.5, "resolution": 160})
    ref = families.resnet_rs(50, resolution=160)
    assert [s.width for s in spec.stages] == [s.width // 2 for s in ref.stages]
    assert spec.stem == ref.stem and sp.build({"depth": 101, "width": 1.0, "resolution": 192}) == families.resnet_rs(101, resolution=192)


# ------------------------------------------------------------------------------ fvcore
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_space_builds_and_count_equals_fvcore(name, data):
    """Hypothesis across spaces: a spec drawn (seed, resolution) from every space builds with
    designspace.build and its recorded complexity equals fvcore's (small models only, for speed)."""
    from oracles import fvcore_count

    res = data.draw(st.sampled_from([32, 64]), label="resolution")
    seed = data.draw(st.integers(0, 2**20), label="seed")
    sp = get_space(name, resolution=res, num_classes=10)
    rec = sample_records(sp, 1, seed=seed, regime=Regime.of(params=":6M", flops=":1G")).records[0]
    assert sp.contains(rec)
    spec = NetSpec.from_json(rec["spec"])
    model = designspace.build(spec)
    assert fvcore_count(model, spec.resolution) == (rec["flops"], rec["params"], rec["acts"]), (name, rec)


# ------------------------------------------------------------------------------ domains
def test_domains_distributions_scipy():
    from scipy import stats

    u = np.random.default_rng(0).random(40_000)
    d = Int(1, 16)
    v = d.values(u)
    counts = np.bincount(v, minlength=17)[1:]
    assert stats.chisquare(counts).pvalue > 1e-3 and v.min() == 1 and v.max() == 16
    f = Float(0.5, 8.0, log=True).values(u)
    assert stats.kstest(np.log(f), stats.uniform(math.log(0.5), math.log(16)).cdf).pvalue > 1e-3
    g = Int(8, 1024, step=8, log=True).values(u)
    assert set(np.unique(g) % 8) == {0} and g.min() == 8 and g.max() == 1024
    assert np.mean(g <= 64) > 0.35  # log-uniform: about 3/7 of the mass below 64 (uniform: 6%)
    q = Float(0.1, 255.9, step=0.1, log=True).values(u)
    assert all(abs(x * 10 - round(x * 10)) < 1e-9 for x in q[:1000])
    c = Choice(("a", "b", "c")).values(u)
    assert stats.chisquare([np.sum(c == k) for k in "abc"]).pvalue > 1e-3


@pytest.mark.parametrize("name", ["regnetx", "anynetx_e", "efficientnet", "resnet_rs"])
def test_suggest_draws_same_parameters(name):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sp = get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    built = 0
    for _ in range(120):
        trial = study.ask()
        try:
            spec = sp.suggest(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        assert set(trial.params) == set(sp.params)
        p = trial.user_attrs["space_params"]
        assert sp.contains(p) and sp.build(p) == spec
        study.tell(trial, 0.0)
        built += 1
    assert built >= 5


def test_regime_admits_for_studies():
    reg = Regime.of(flops="360M:400M")
    c = count(designspace.zoo["regnetx_004"]) if "regnetx_004" in designspace.zoo else None
    assert reg.admits(224, type("C", (), {"flops": 380_000_000, "params": 1, "acts": 1}))
    assert not reg.admits(224, type("C", (), {"flops": 401_000_000, "params": 1, "acts": 1}))
    if c is not None:
        assert reg.admits(224, c) == (360e6 <= c.flops <= 400e6)


# ------------------------------------------------------------------------------ TOML
GOOD = """\
name = "t"
family = "regnet"
resolution = 32
num_classes = 10

[params.depth]
type = "int"
low = 6
high = 12

[params.wa]
type = "float"
low = 8.0
high = 32.0
log = true

[params.group_width]
type = "categorical"
choices = [8, 16]

[fixed]
w0 = 24
wm = 2.5

[constraints]
flops = ":50M"
"""


def test_toml_space(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(GOOD)
    sp = load_toml(f)
    assert list(sp.params) == ["depth", "wa", "group_width"] and sp.regime.flops == (None, 50e6)
    res = sample_records(sp, 30, seed=0, regime=sp.regime)
    for r in res.records:
        spec = NetSpec.from_json(r["spec"])
        assert spec == families.regnet(w0=24, wm=2.5, wa=r["wa"], depth=r["depth"], group_width=r["group_width"],
                                       resolution=32, num_classes=10)
        assert r["flops"] <= 50e6 and sp.contains(r)


@pytest.mark.parametrize("edit, line, key", [
    (("high = 12", "high = 4"), 9, "params.depth.high"),
    (('type = "float"', 'type = "double"'), 12, "params.wa.type"),
    (("log = true", "log = 1"), 15, "params.wa.log"),
    (("choices = [8, 16]", "choices = []"), 19, "params.group_width.choices"),
    (("w0 = 24", "w1 = 24"), 22, "fixed.w1"),
    (('flops = ":50M"', 'flops = "5M:1M"'), 26, "constraints.flops"),
    (('family = "regnet"', 'family = "vgg"'), 2, "family"),
    (("[params.depth]", "[params.params]"), 6, "params.params"),
])
def test_toml_errors_name_key_and_line(tmp_path, edit, line, key):
    f = tmp_path / "bad.toml"
    assert edit[0] in GOOD
    f.write_text(GOOD.replace(edit[0], edit[1], 1))
    with pytest.raises(SpaceError) as e:
        load_toml(f)
    msg = str(e.value)
    assert f"line {line}: {key}" in msg and str(f) in msg and "\n" not in msg


def test_toml_syntax_and_missing_file(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text(GOOD.replace("high = 12", "high = [12"))
    with pytest.raises(SpaceError, match=r"invalid TOML: .*line"):
        load_toml(f)
    with pytest.raises(SpaceError, match="cannot read"):
        load_toml(tmp_path / "none.toml")


def test_example_toml_files_load():
    import glob
    import os

    files = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "studies", "spaces", "*.toml")))
    assert files
    for path in files:
        sp = get_space(path)
        assert sample_records(sp, 20, seed=0, regime=sp.regime).accepted == 20


def test_unknown_space_suggests():
    with pytest.raises(SpaceError, match="did you mean .*regnetx"):
        get_space("regnetz")


@pytest.mark.parametrize("name", NAMES)
def test_space_sample_api(name):
    """``space.sample(rng, n)``: n samples inside the domains whose specs are ``build(params)``,
    reproducible for a seed."""
    sp = get_space(name, resolution=64)
    a = sp.sample(np.random.default_rng(5), 8)
    b = sp.sample(np.random.default_rng(5), 8)
    assert len(a) == 8 and [s.spec for s in a] == [s.spec for s in b]
    for s in a:
        assert sp.contains(s.params) and sp.build(s.params) == s.spec
