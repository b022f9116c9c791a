"""``Space.params_of``: the values of a space that build a given network (designspace/spaces/inverse.py).

The oracles: the space itself (its own draws must be found again, and what is found must rebuild
the spec), the zoo (named models), and Optuna's ``FixedTrial`` driving ``space.suggest`` (the path
a study takes).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import optuna
import pytest

from designspace import zoo
from designspace.geometry import apply_geometry
from designspace.spaces import SPACES, get_space

WITH_INVERSE = [n for n in SPACES if n != "efficientnet"]  # efficientnet: no inverse, too many points to enumerate


def _at(space, name):
    """Named model ``name`` as the space would build it (its geometry, classes, channels, resolution)."""
    net = apply_geometry(zoo[name], space.geometry)
    return net.replace(num_classes=space.num_classes, in_chans=space.in_chans,
                       resolution=space.resolution or net.resolution)


@pytest.mark.parametrize("name", WITH_INVERSE)
def test_every_drawn_network_is_found_again(name):
    space = get_space(name, resolution=32, num_classes=10)
    for s in space.sample(np.random.default_rng(7), 25):
        p = space.params_of(s.spec)
        assert p is not None, s.params
        assert list(p) == list(space.params) and space.contains(p) and space.spec_of(p) == s.spec


@pytest.mark.parametrize("space_name, model", [
    ("regnetx", "regnetx_002"), ("regnetx", "regnetx_004"), ("regnetx", "regnetx_008"),
    ("regnety", "regnety_002"), ("regnet", "regnetx_002"),
    ("anynetx_a", "regnetx_008"), ("anynetx_c", "regnetx_002"), ("anynetx_e", "regnetx_004"),
    ("resnet", "resnet50"), ("resnet_rs", "resnetrs50"), ("efficientnet_scaling", "efficientnet_b0"),
])
@pytest.mark.parametrize("resolution", [32, 224])
def test_named_models_of_a_space_are_its_points_through_optuna(space_name, model, resolution):
    space = get_space(space_name, resolution=resolution, num_classes=10, in_chans=1)
    net = _at(space, model)
    p = space.params_of(net)
    assert p is not None
    # the study's path: Optuna's FixedTrial answers the space's suggest_* calls with these values
    got = space.suggest(optuna.trial.FixedTrial(p))
    assert got == net


@pytest.mark.parametrize("space_name, model, why", [
    ("regnetx", "regnety_002", "squeeze-excitation"),
    ("regnetx", "regnetx_006", "group width 24 is not a power of two"),
    ("regnetx", "regnetx_032", "group width 48"),
    ("regnety", "regnetx_002", "no squeeze-excitation"),
    ("anynetx_e", "regnetx_008", "depths 1, 3, 7, 5 are not non-decreasing"),
    ("resnet_scaling", "resnet18", "plain stem, no SE, no ResNet-D"),
    ("resnet", "resnet18", "basic blocks"),
    ("efficientnet", "efficientnet_b0", "no inverse"),
])
def test_networks_outside_a_space_have_no_parameters(space_name, model, why):
    space = get_space(space_name, resolution=32, num_classes=10)
    assert space.params_of(_at(space, model)) is None, why


def test_a_network_whose_widths_no_linear_rule_makes_is_not_found():
    # RegNet widths grow stage by stage; the same network with its last stage narrower than the
    # third is an AnyNetX network but no RegNet (a neighbour one width wider still is one)
    space = get_space("regnetx", resolution=32, num_classes=10)
    net = _at(space, "regnetx_002")
    st = net.stages
    narrower = net.replace(stages=st[:3] + (dataclasses.replace(st[3], width=st[2].width - 8),))
    wider = net.replace(stages=st[:3] + (dataclasses.replace(st[3], width=st[3].width + 8),))
    assert space.params_of(narrower) is None
    assert space.params_of(wider) is not None
    anynet = get_space("anynetx_a", resolution=32, num_classes=10)
    assert anynet.spec_of(anynet.params_of(narrower)) == narrower
