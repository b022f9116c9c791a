"""Every named model is numerically timm's network, and its complexity is fvcore's.

Oracles: ``timm.create_model(name)`` (parameter count, logits with the same weights) and fvcore
on our built module (flops, acts).  One module-scoped fixture per model keeps each model built once.
"""
from __future__ import annotations

import pytest
import torch

import designspace
from designspace import zoo
from oracles import fvcore_count, timm_model

NAMES = sorted(zoo)
# Small input for the equality checks; big models are exact at any resolution that the stride allows.
RES = 64


def _res(name: str) -> int:
    spec = zoo[name]
    return max(RES, spec.stride * 2)


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    name = request.param
    torch.manual_seed(0)
    ours = designspace.create(name).eval()
    ref = timm_model(name).eval()
    return name, ours, ref


def test_zoo_is_not_empty():
    assert len(NAMES) >= 1


def test_param_count_equals_timm(pair):
    name, ours, ref = pair
    n_ours = sum(p.numel() for p in ours.parameters())
    n_ref = sum(p.numel() for p in ref.parameters())
    assert n_ours == n_ref, f"{name}: {n_ours} params, timm has {n_ref}"


def test_timm_weights_give_timm_logits(pair):
    name, ours, ref = pair
    # randomise BN statistics so a swapped running_mean/var would show
    g = torch.Generator().manual_seed(1)
    sd = {k: (torch.rand(v.shape, generator=g) + 0.5 if "running_var" in k else
              torch.randn(v.shape, generator=g) * 0.1 if "running_mean" in k else v)
          if v.is_floating_point() else v for k, v in ref.state_dict().items()}
    ref.load_state_dict(sd)
    ours.load_state_dict(designspace.timm_to_designspace(name, ref.state_dict()), strict=True)
    x = torch.randn(2, 3, _res(name), _res(name), generator=g)
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == b.shape
    diff = (a - b).abs().max().item()
    assert diff <= 1e-4, f"{name}: max |logit difference| = {diff:.2e}"


def test_count_equals_fvcore(pair):
    name, ours, _ = pair
    r = _res(name)
    flops, params, acts = fvcore_count(ours, r)
    c = designspace.count(name, resolution=r)
    assert (c.flops, c.params, c.acts) == (flops, params, acts), name
