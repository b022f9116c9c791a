"""designspace.families.regnet against timm's RegNet generator.

Oracles: ``timm.models.regnet.model_cfgs`` (the published parameters of every named RegNet),
timm's own ``generate_regnet`` + ``adjust_widths_groups_comp`` (per-block and per-stage widths,
computed with float32 torch tensors), and fvcore on our built module for the analytic complexity
of random family members and random AnyNet-style specs made of ``regnet`` blocks.
"""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as hs
from timm.models.regnet import adjust_widths_groups_comp, generate_regnet, model_cfgs

from designspace import NetSpec, SpecError, StageSpec, StemSpec, count, zoo
from designspace import build as build_net
from designspace.families import regnet
from designspace.families.regnet import regnet_block_widths, regnet_stages
from designspace.zoo import entries
from oracles import fvcore_count

OURS = [n for n, e in entries.items() if e.family == "regnet"]
EXPECTED = [f"regnet{v}_{s}" for v in "xy" for s in
            ("002", "004", "006", "008", "016", "032", "040", "064", "080", "120", "160", "320")]


def _timm_params(name: str) -> dict:
    c = model_cfgs[name]
    return dict(w0=c.w0, wa=c.wa, wm=c.wm, depth=c.depth, group_width=c.group_size,
                bottleneck_ratio=1.0 / c.bottle_ratio, se_ratio=c.se_ratio, stem_width=c.stem_width)


def _timm_stages(w0: int, wa: float, wm: float, depth: int, group_width: int, b: float = 1.0):
    """timm's RegNet._get_stage_args, the width part: generate, unique runs, adjust (bottle = 1/b)."""
    widths, num_stages, gs = generate_regnet(wa, w0, wm, depth, group_width)
    sw, sd = torch.unique(torch.tensor(widths), return_counts=True)
    sw, gs = adjust_widths_groups_comp(sw.tolist(), [1.0 / b] * num_stages, gs, 0.0)
    return sw, sd.tolist(), gs


def _ambiguous(w0: int, wa: float, wm: float, depth: int, q: int = 8) -> bool:
    """Whether a rounding step of the rule sits within float32 noise of a tie, where timm's result
    hangs on the last bit of MKL's float32 log/pow (not correctly rounded, CPU dependent)."""
    u, _ = regnet_block_widths(w0, wa, wm, depth, q)
    for x in u:
        e = math.log(x / w0) / math.log(wm)
        if abs(e - math.floor(e) - 0.5) < 1e-5:
            return True
        v = w0 * wm ** round(e) / q
        if abs(v - math.floor(v) - 0.5) < 1e-4:
            return True
    return False


# ------------------------------------------------------------------------ named models
def test_zoo_holds_every_published_regnet():
    assert sorted(OURS) == sorted(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_family_with_timm_cfg_is_zoo_entry(name):
    p = _timm_params(name)
    spec = regnet(**p)
    assert spec == zoo[name]
    assert [st.block for st in spec.stages] == ["regnet"] * 4
    assert [st.stride for st in spec.stages] == [2, 2, 2, 2]
    assert {st.se_ratio for st in spec.stages} == {0.25 if name.startswith("regnety") else 0.0}
    sw, sd, gs = _timm_stages(p["w0"], p["wa"], p["wm"], p["depth"], p["group_width"])
    assert (spec.widths, spec.depths, [st.group_width for st in spec.stages]) == (sw, sd, gs)


def test_regnetx_032_published_figures():
    spec = regnet(w0=88, wa=26.31, wm=2.25, depth=25, group_width=48)
    assert spec == zoo["regnetx_032"]
    c = count(spec)
    assert round(c.params / 1e6, 1) == 15.3 and round(c.flops / 1e9, 1) == 3.2


# ---------------------------------------------------------------- the rule against timm
_RULE = dict(
    w0=hs.integers(1, 64).map(lambda k: 8 * k),
    wa=hs.one_of(hs.floats(0.0, 256.0), hs.integers(0, 128).map(float),
                 hs.integers(0, 25600).map(lambda k: k / 100)),
    wm=hs.one_of(hs.floats(1.01, 4.0), hs.sampled_from([1.5, 2.0, 2.25, 2.5, 3.0, 4.0]),
                 hs.integers(101, 400).map(lambda k: k / 100)),
    depth=hs.integers(1, 40),
    group_width=hs.integers(1, 256),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(**_RULE, b=hs.sampled_from([1.0, 2.0, 4.0]))
def test_stages_equal_timm(w0, wa, wm, depth, group_width, b):
    assume(not _ambiguous(w0, wa, wm, depth))
    ours = regnet_stages(w0, wa, wm, depth, group_width, bottleneck_ratio=b)
    assert ours == tuple(_timm_stages(w0, wa, wm, depth, group_width, b))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(w0=_RULE["w0"], wa=_RULE["wa"], wm=_RULE["wm"], depth=_RULE["depth"])
def test_block_widths_equal_timm(w0, wa, wm, depth):
    u, w = regnet_block_widths(w0, wa, wm, depth)
    # the continuous widths are timm's float32 tensor, bit for bit
    assert u == (torch.arange(depth, dtype=torch.float32) * wa + w0).tolist()
    assert w[0] == w0 and all(x % 8 == 0 for x in w) and w == sorted(w)
    assume(not _ambiguous(w0, wa, wm, depth))
    assert w == generate_regnet(wa, w0, wm, depth, 8)[0]


def test_exact_tie_rounds_half_to_even():
    # u_1 / w0 = 12/8 = 1.5 = sqrt(2.25): log(u_1/w0)/log(wm) is exactly 1/2, which rounds to 0
    assert regnet_block_widths(8, 4.0, 2.25, 3)[1] == [8, 8, 16]
    assert regnet_block_widths(8, 8.0, 4.0, 2)[1] == [8, 8]  # 16/8 = 2 = sqrt(4)


def _timm_blocks(w0, wa, wm, depth, group_width, r):
    """timm's per-stage (width, depth, bottleneck, groups) for bottleneck multiplier ``r``:
    _get_stage_args' widths, then its Bottleneck's ``int(round(w * r))`` and ``// group_size``."""
    widths, num_stages, gs = generate_regnet(wa, w0, wm, depth, group_width)
    sw, sd = torch.unique(torch.tensor(widths), return_counts=True)
    tw, tg = adjust_widths_groups_comp(sw.tolist(), [r] * num_stages, gs, 0.0)
    mids = [int(round(w * r)) for w in tw]
    return tw, sd.tolist(), mids, [m // g for m, g in zip(mids, tg)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(w0=_RULE["w0"], wa=_RULE["wa"], wm=_RULE["wm"], depth=_RULE["depth"], group_width=_RULE["group_width"],
       r=hs.sampled_from([0.25, 0.3, 1 / 3, 0.5, 0.6, 2 / 3, 0.75, 0.8, 1.0, 1.5, 2.0, 4.0]))
def test_any_bottleneck_multiplier_is_timms(w0, wa, wm, depth, group_width, r):
    assume(not _ambiguous(w0, wa, wm, depth))
    tw, td, mids, groups = _timm_blocks(w0, wa, wm, depth, group_width, r)
    if not all(g >= 1 and m % g == 0 for m, g in zip(mids, groups)):  # timm's own network is invalid
        with pytest.raises(SpecError, match="timm's RegNet cannot build") as e:
            regnet(w0, wa, wm, depth, group_width, bottle_ratio=r, resolution=2 ** (len(tw) + 1))
        assert e.value.path == "bottle_ratio" and e.value.value == r
        return
    spec = regnet(w0, wa, wm, depth, group_width, bottle_ratio=r, resolution=2 ** (len(tw) + 1))
    assert spec.widths == tw and spec.depths == td
    assert [st.bottleneck_width for st in spec.stages] == mids and [st.groups for st in spec.stages] == groups
    if 1 / (1 / r) == r:  # the paper's divisor b = 1/r names the same network
        assert regnet(w0, wa, wm, depth, group_width, bottleneck_ratio=1 / r, resolution=2 ** (len(tw) + 1)) == spec


# ------------------------------------------------------------------- complexity = fvcore
_FV = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FV
@given(w0=hs.integers(1, 6).map(lambda k: 8 * k), wa=hs.floats(0.0, 40.0), wm=hs.floats(1.5, 3.0),
       depth=hs.integers(1, 7), group_width=hs.sampled_from([1, 4, 8, 16]),
       b=hs.sampled_from([1.0, 2.0]), se=hs.sampled_from([0.0, 0.25]), r=hs.integers(32, 96))
def test_count_equals_fvcore_family(w0, wa, wm, depth, group_width, b, se, r):
    assume(2 * 2 ** len(regnet_stages(w0, wa, wm, depth, group_width, b)[0]) <= r)
    spec = regnet(w0, wa, wm, depth, group_width, bottleneck_ratio=b, se_ratio=se, stem_width=16,
                  resolution=r, num_classes=10)
    c = count(spec)
    assert (c.flops, c.params, c.acts) == fvcore_count(build_net(spec), r)


@hs.composite
def _anynet_stage(draw) -> StageSpec:
    b = draw(hs.sampled_from([1.0, 2.0, 4.0, 0.5]))
    mid = 8 * draw(hs.integers(1, 8))
    gw = draw(hs.sampled_from([d for d in range(1, mid + 1) if mid % d == 0]))
    return StageSpec(block="regnet", depth=draw(hs.integers(1, 2)), width=int(mid * b),
                     stride=draw(hs.sampled_from([1, 2])), bottleneck_ratio=b, group_width=gw,
                     se_ratio=draw(hs.sampled_from([0.0, 0.0625, 0.25, 0.5])))


@_FV
@given(stages=hs.lists(_anynet_stage(), min_size=1, max_size=4), r=hs.integers(32, 96),
       act=hs.sampled_from(["relu", "silu"]))
def test_count_equals_fvcore_anynet(stages, r, act):
    spec = NetSpec(stem=StemSpec("simple", 16), stages=stages, resolution=r, num_classes=7, activation=act)
    c = count(spec)
    assert (c.flops, c.params, c.acts) == fvcore_count(build_net(spec), r)


# ----------------------------------------------------------------------------- bad input
_OK = dict(w0=88, wa=26.31, wm=2.25, depth=25, group_width=48)


@pytest.mark.parametrize("field, value", [
    ("w0", 0), ("w0", -8), ("w0", 12), ("w0", 8.0), ("w0", True),
    ("wa", -1.0), ("wa", float("nan")), ("wa", "26"), ("wa", 1e30),
    ("wm", 1.0), ("wm", 0.5), ("wm", float("inf")),
    ("depth", 0), ("depth", 2.5),
    ("group_width", 0), ("group_width", 1.5),
    ("bottleneck_ratio", 0.0), ("bottleneck_ratio", -1.0), ("bottleneck_ratio", 100.0),
    ("bottleneck_ratio", float("nan")),
    ("se_ratio", 1.0), ("se_ratio", -0.1),
    ("stem_width", 0),
    ("resolution", 16),
    ("num_classes", -1),  # 0 is timm's "no classifier"
    ("drop_path_rate", 1.5),
])
def test_bad_input_names_field_and_value(field, value):
    with pytest.raises(SpecError) as e:
        regnet(**{**_OK, field: value})
    assert e.value.path == field
    assert str(e.value).startswith(f"{field}={value!r}")


@pytest.mark.parametrize("kw, field", [
    (dict(q=0), "q"), (dict(q=8, w0=20), "w0"), (dict(depth=-1), "depth"),
])
def test_bad_input_block_widths(kw, field):
    args = {**dict(w0=24, wa=36.44, wm=2.49, depth=13), **kw}
    with pytest.raises(SpecError) as e:
        regnet_block_widths(**args)
    assert e.value.path == field and str(e.value).startswith(f"{field}={args[field]!r}")
