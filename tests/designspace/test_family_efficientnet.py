"""EfficientNet family (Tan & Le, ICML 2019) against independent facts.

Oracles: timm (the multipliers its model functions pass, the paper's table that timm quotes, the
stage structure of its built models, its ``round_channels``), the paper's Table 1 and Table 2,
and fvcore on our built module for the analytic complexity.
"""
from __future__ import annotations

import re
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import designspace
from designspace import SpecError, zoo
from designspace.families import efficientnet, efficientnet_compound
from designspace.families.efficientnet import round_channels
from oracles import fvcore_count, timm_model

NAMES = [f"efficientnet_b{i}" for i in range(8)]

# Paper Table 1 (EfficientNet-B0): (operator, kernel, stride, expand, channels, layers)
TABLE1 = [
    ("ds", 3, 1, 1, 16, 1),
    ("mbconv", 3, 2, 6, 24, 2),
    ("mbconv", 5, 2, 6, 40, 2),
    ("mbconv", 3, 2, 6, 80, 3),
    ("mbconv", 5, 1, 6, 112, 3),
    ("mbconv", 5, 2, 6, 192, 4),
    ("mbconv", 3, 1, 6, 320, 1),
]
# Paper Table 2: (params in M, FLOPs in B), as printed (two significant digits)
TABLE2 = {
    "efficientnet_b0": (5.3, 0.39), "efficientnet_b1": (7.8, 0.70), "efficientnet_b2": (9.2, 1.0),
    "efficientnet_b3": (12, 1.8), "efficientnet_b4": (19, 4.2), "efficientnet_b5": (30, 9.9),
    "efficientnet_b6": (43, 19), "efficientnet_b7": (66, 37),
}


def _timm_paper_table() -> dict[str, tuple[float, float, int, float]]:
    """The (width, depth, resolution, dropout) table timm's ``_gen_efficientnet`` quotes from the
    TF reference implementation."""
    from timm.models.efficientnet import _gen_efficientnet

    rows = re.findall(r"'efficientnet-(b\d)': \(([\d.]+), ([\d.]+), (\d+), ([\d.]+)\)", _gen_efficientnet.__doc__)
    return {f"efficientnet_{b}": (float(w), float(d), int(r), float(p)) for b, w, d, r, p in rows}


def _timm_multipliers(name: str) -> tuple[float, float]:
    """(channel_multiplier, depth_multiplier) that timm's model function passes to its generator."""
    import timm.models.efficientnet as te

    with mock.patch.object(te, "_gen_efficientnet", lambda *a, **kw: kw):
        kw = getattr(te, name)()
    return kw["channel_multiplier"], kw["depth_multiplier"]


# --------------------------------------------------------------------------- zoo entries
def test_zoo_holds_b0_to_b7():
    assert sorted(n for n in zoo if n.startswith("efficientnet")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_zoo_params_are_the_published_table(name):
    p = zoo.entry(name).params
    assert (p["width_mult"], p["depth_mult"], p["resolution"], p["dropout"]) == _timm_paper_table()[name]


@pytest.mark.parametrize("name", NAMES)
def test_zoo_multipliers_are_the_ones_timm_builds(name):
    p = zoo.entry(name).params
    assert (p["width_mult"], p["depth_mult"]) == _timm_multipliers(name)


@pytest.mark.parametrize("name", NAMES)
def test_zoo_spec_has_the_stages_of_timms_model(name):
    spec, ref = zoo[name], timm_model(name)
    assert spec.stem.width == ref.conv_stem.out_channels
    assert spec.head.width == ref.conv_head.out_channels
    assert spec.activation == "silu" and isinstance(ref.bn1.act, torch.nn.SiLU)
    assert len(spec.stages) == len(ref.blocks)
    for st_, stage in zip(spec.stages, ref.blocks):
        first = stage[0]
        out = first.conv_pwl if hasattr(first, "conv_pwl") else first.conv_pw
        assert (st_.depth, st_.width) == (len(stage), out.out_channels)
        assert (st_.kernel_size, st_.stride) == (first.conv_dw.kernel_size[0], first.conv_dw.stride[0])
        assert st_.block == ("mbconv" if hasattr(first, "conv_pwl") else "ds")
        if st_.block == "mbconv":
            assert first.conv_pw.out_channels == st_.expand_ratio * first.conv_pw.in_channels


@pytest.mark.parametrize("name", NAMES)
def test_params_and_flops_are_the_papers_table2(name):
    # Table 2 prints two significant digits; B4/B5 FLOPs differ by up to 5% from the TF count
    params_m, flops_b = TABLE2[name]
    c = designspace.count(name)
    assert c.params / 1e6 == pytest.approx(params_m, rel=0.03)
    assert c.flops / 1e9 == pytest.approx(flops_b, rel=0.05)


def test_b0_is_table1_of_the_paper():
    spec = zoo["efficientnet_b0"]
    got = [(s.block, s.kernel_size, s.stride, s.expand_ratio, s.width, s.depth) for s in spec.stages]
    assert got == TABLE1
    assert (spec.stem.width, spec.head.width, spec.resolution) == (32, 1280, 224)
    assert all(s.se_ratio == 0.25 for s in spec.stages)


def test_family_call_with_published_params_is_the_zoo_entry():
    assert efficientnet(1.2, 1.4, 300, 0.3) == zoo["efficientnet_b3"]
    assert efficientnet(width_mult=2.0, depth_mult=3.1, resolution=600, dropout=0.5) == zoo["efficientnet_b7"]


def test_depth_is_ceil_of_scaled_repeats():
    spec = efficientnet(depth_mult=1.1)
    assert spec.depths == [2, 3, 3, 4, 4, 5, 2]  # ceil(1.1 * (1, 2, 2, 3, 3, 4, 1))


@settings(max_examples=60, deadline=None)
@given(chs=st.integers(1, 2048), mult=st.floats(0.05, 8.0))
def test_round_channels_is_timms(chs, mult):
    from timm.models._efficientnet_builder import round_channels as timm_round_channels

    assert round_channels(chs, mult) == timm_round_channels(chs, mult)


# ------------------------------------------------------------------------ compound scaling
def test_compound_phi_0_is_b0():
    assert efficientnet_compound(0) == zoo["efficientnet_b0"]


def test_compound_phi_1_uses_exact_powers():
    # 224 * 1.15 = 257.6 -> 258; B1's published (1.0, 1.1, 240) is hand-rounded, not this
    assert efficientnet_compound(1) == efficientnet(1.1, 1.2, 258)
    assert efficientnet_compound(1) != zoo["efficientnet_b1"]


def test_compound_resolution_rounds_half_up():
    # 32 * 1.25 = 40.0 exactly; 32 * 1.25**0.5 = 35.78 -> 36
    assert efficientnet_compound(1, gamma=1.25, base_resolution=32).resolution == 40
    assert efficientnet_compound(0.5, gamma=1.25, base_resolution=32).resolution == 36
    # 36 * 1.125 = 40.5 exactly -> 41 (half up, not Python's round-half-even)
    assert efficientnet_compound(1, gamma=1.125, base_resolution=36).resolution == 41


# ------------------------------------------------------------------- complexity = fvcore
@settings(max_examples=5, deadline=None)
@given(w=st.floats(0.1, 1.3), d=st.floats(0.1, 1.5), r=st.integers(32, 128))
def test_count_equals_fvcore_for_random_multipliers(w, d, r):
    spec = efficientnet(w, d, r, num_classes=10)
    assert tuple(designspace.count(spec)) == fvcore_count(designspace.build(spec), r)


@settings(max_examples=4, deadline=None)
@given(phi=st.floats(0.0, 2.0), base=st.integers(32, 64))
def test_count_equals_fvcore_for_random_compound_phi(phi, base):
    spec = efficientnet_compound(phi, base_resolution=base, num_classes=10)
    assert tuple(designspace.count(spec)) == fvcore_count(designspace.build(spec), spec.resolution)


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "fn, kwargs, field, value",
    [
        (efficientnet, {"width_mult": 0.0}, "width_mult", 0.0),
        (efficientnet, {"width_mult": -1.0}, "width_mult", -1.0),
        (efficientnet, {"width_mult": float("nan")}, "width_mult", None),
        (efficientnet, {"depth_mult": 0}, "depth_mult", 0),
        (efficientnet, {"depth_mult": -0.5}, "depth_mult", -0.5),
        (efficientnet, {"resolution": 16}, "resolution", 16),
        (efficientnet, {"resolution": 224.0}, "resolution", 224.0),
        (efficientnet, {"dropout": 1.0}, "dropout", 1.0),
        (efficientnet, {"dropout": -0.1}, "dropout", -0.1),
        (efficientnet, {"num_classes": -1}, "num_classes", -1),  # 0: timm's no classifier
        (efficientnet, {"drop_path_rate": 1.5}, "drop_path_rate", 1.5),
        (efficientnet_compound, {"phi": -1}, "phi", -1),
        (efficientnet_compound, {"phi": 1, "alpha": 0.9}, "alpha", 0.9),
        (efficientnet_compound, {"phi": 1, "gamma": 0}, "gamma", 0),
        (efficientnet_compound, {"phi": 1, "base_resolution": 8}, "base_resolution", 8),
        (efficientnet_compound, {"phi": 1, "dropout": 2.0}, "dropout", 2.0),
    ],
)
def test_bad_input_names_field_and_value(fn, kwargs, field, value):
    with pytest.raises(SpecError) as e:
        fn(**kwargs)
    assert e.value.path == field
    assert str(e.value).startswith(f"{field}=")
    if value is not None:
        assert e.value.value == value
