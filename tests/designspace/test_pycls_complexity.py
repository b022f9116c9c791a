"""pycls' own configs and complexity figures (issue 28, point 4).

Oracle: ``tests/designspace/data/pycls/model_complexity.json``, pycls' ``dev/model_complexity.json``
(the figures behind its MODEL_ZOO tables, computed by pycls' ``complexity()``) with the text of
every config it names, copied from facebookresearch/pycls (the commit is in the file's
``source``).  Every config reads (``read_pycls``, the 14 ``MODEL.TYPE: resnet`` ones included),
and ``count(spec, convention="pycls")`` equals pycls' flops, params and acts exactly; the default
convention (fvcore's) keeps the same params and counts no bias additions or pool outputs.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import designspace
from designspace import SpecError, count, read_pycls

DATA = json.loads((Path(__file__).parent / "data" / "pycls" / "model_complexity.json").read_text())
CONFIGS = sorted(DATA["complexity"])


def test_the_data_names_its_source():
    assert DATA["source"].startswith("https://github.com/facebookresearch/pycls at commit " + DATA["commit"])
    assert len(CONFIGS) == 65 and sum("/resnet/" in c and "archive" in c for c in CONFIGS) == 14


@pytest.mark.parametrize("path", CONFIGS)
def test_pycls_convention_reproduces_pycls_figures(path):
    spec = read_pycls(DATA["configs"][path])
    want = DATA["complexity"][path]
    got = count(spec, convention="pycls")
    assert (got.flops, got.params, got.acts) == (want["flops"], want["params"], want["acts"])
    ours = count(spec)  # the default stays fvcore's: same params, no bias additions, no pool outputs
    assert ours.params == want["params"] and ours.flops <= want["flops"] and ours.acts <= want["acts"]
    if spec.stem.pool == "max":
        h = spec.resolution // 4
        assert want["acts"] - ours.acts == spec.stem.width * h * h  # the max-pool's outputs (200,704 at 224)


def test_pycls_resnet_configs_are_our_resnets():
    cfgs = DATA["configs"]
    assert read_pycls(cfgs["configs/archive/imagenet/resnet/R-50-1x64d_step_8gpu.yaml"]) == designspace.zoo["resnet50"]
    x50 = read_pycls(cfgs["configs/archive/imagenet/resnet/X-50-32x4d_step_8gpu.yaml"])
    assert x50 == designspace.zoo["resnext50_32x4d"]
    # the same network written as pycls' AnyNet reads to the same spec
    assert read_pycls(cfgs["configs/archive/imagenet/anynet/X-101-32x4d_step_1gpu.yaml"]) == \
        read_pycls(cfgs["configs/archive/imagenet/resnet/X-101-32x4d_step_1gpu.yaml"])
    r56 = read_pycls(cfgs["configs/archive/cifar/resnet/R-56_nds_1gpu.yaml"])
    assert r56.stem.kind == "cifar" and r56.depths == [9, 9, 9] and r56.widths == [16, 32, 64]


def test_pycls_resnet_refusals_are_named():
    with pytest.raises(SpecError, match=r"^RESNET\.STRIDE_1X1=True \(the stride on the first 1x1 conv"):
        read_pycls("MODEL:\n  TYPE: resnet\n  DEPTH: 50\nRESNET:\n  TRANS_FUN: bottleneck_transform\n")
    with pytest.raises(SpecError, match=r"^MODEL\.DEPTH=18 is not one of 50, 101, 152"):
        read_pycls("MODEL:\n  TYPE: resnet\n  DEPTH: 18\n")
    with pytest.raises(SpecError, match=r"^MODEL\.DEPTH=57 must be 6n \+ 2"):
        read_pycls("MODEL:\n  TYPE: resnet\n  DEPTH: 57\nTRAIN:\n  DATASET: cifar10\n")
    with pytest.raises(SpecError, match=r"^convention='flops' is not one of fvcore, pycls"):
        count("resnet50", convention="flops")


def test_pycls_convention_differs_only_by_bias_additions_and_pool_outputs():
    # ResNet-50: the classifier is its only layer with a bias (1,000 additions) and the stem
    # max-pool its only windowed pool (64 x 56 x 56 outputs at 224)
    a, b = count("resnet50"), count("resnet50", convention="pycls")
    assert (b.flops - a.flops, b.params - a.params, b.acts - a.acts) == (1000, 0, 64 * 56 * 56)
    # a RegNetX (no SE, no max-pool) differs by its classifier's biases only
    a, b = count("regnetx_002"), count("regnetx_002", convention="pycls")
    assert (b.flops - a.flops, b.params - a.params, b.acts - a.acts) == (1000, 0, 0)
