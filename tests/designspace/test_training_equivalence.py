"""In train mode (batch statistics, backward pass) our networks are timm's: same loss, same
gradients for every parameter.  One named model per block kind; oracle: timm."""
from __future__ import annotations

import pytest
import torch

import designspace
from oracles import timm_model

MODELS = ["resnet18", "seresnet50", "resnext50_32x4d", "resnetrs50", "regnety_004", "efficientnet_b0", "tresnet_m"]


@pytest.mark.parametrize("name", MODELS)
def test_train_mode_gradients_equal_timm(name):
    torch.manual_seed(0)
    # timm leaves head dropout to its training script (drop_rate=0 by default); ours is in the spec
    ref = timm_model(name, drop_rate=designspace.zoo[name].head.dropout).train()
    ours = designspace.create(name).train()
    ours.load_state_dict(designspace.timm_to_designspace(name, ref.state_dict()), strict=True)
    x = torch.randn(4, 3, 64, 64)
    y = torch.randint(0, 1000, (4,))
    # same RNG state before each forward: dropout (EfficientNet's head) draws the same mask
    torch.manual_seed(1)
    loss_ours = torch.nn.functional.cross_entropy(ours(x), y)
    torch.manual_seed(1)
    loss_ref = torch.nn.functional.cross_entropy(ref(x), y)
    loss_ours.backward()
    loss_ref.backward()
    assert abs(loss_ours.item() - loss_ref.item()) <= 1e-5
    ref_grads = designspace.timm_to_designspace(name, {k: p.grad for k, p in ref.named_parameters()})
    ours_params = dict(ours.named_parameters())
    assert ref_grads.keys() == ours_params.keys()
    for k, g in ref_grads.items():
        scale = g.abs().max().item() + 1e-12
        diff = (ours_params[k].grad - g).abs().max().item()
        assert diff <= 1e-5 * max(1.0, scale), f"{name}: gradient of {k} differs by {diff:.2e}"
