"""The 32-px (``cifar``) geometry: a stride-1 stem and total stride 8, for every built-in space
and every named baseline.  Oracles: the built torch module's own feature map (a forward pass),
fvcore for complexity, and pycls' CIFAR layout (3x3 stride-1 stem, first stage at stride 1)."""
from __future__ import annotations

import numpy as np
import pytest

import designspace
from designspace import NetSpec, zoo
from designspace.complexity import stage_maps
from designspace.geometry import apply_geometry
from designspace.spaces import SPACES, SpaceError, get_space, sample_records
from designspace.spaces.sampling import Regime

# spaces whose networks fit at 32 px (the others sample or scale their own resolution)
AT_32 = [n for n in SPACES if n not in ("efficientnet", "resnet_rs")]


def _last_map_from_torch(spec: NetSpec) -> tuple[int, int]:
    import torch

    model = designspace.build(spec).eval()
    with torch.no_grad():
        f = model.forward_features(torch.zeros(1, spec.in_chans, spec.resolution, spec.resolution))
    return int(f.shape[-2]), int(f.shape[-1])


@pytest.mark.parametrize("name", AT_32)
def test_every_space_at_32px_ends_on_4x4_and_counts_like_fvcore(name):
    from oracles import fvcore_count

    sp = get_space(name, resolution=32, num_classes=10, in_chans=1).with_options({"geometry": "cifar"})
    rec = sample_records(sp, 1, seed=5, regime=Regime.of(params=":6M", flops=":1G")).records[0]
    spec = NetSpec.from_json(rec["spec"])
    assert spec.stem.kind == "cifar" and spec.stem.stride == 1 and spec.stride <= 8
    last = _last_map_from_torch(spec)
    assert last == stage_maps(spec)[-1][1:] and min(last) >= 4  # (efficientnet_scaling may scale 32 px up)
    assert fvcore_count(designspace.build(spec), spec.resolution, in_chans=1) == (rec["flops"], rec["params"], rec["acts"])


def test_anynet_and_regnet_take_pycls_cifar_layout():
    sp = get_space("anynetx_e", resolution=32).with_options({"geometry": "cifar"})
    for s in sp.sample(np.random.default_rng(0), 20):
        assert [st.stride for st in s.spec.stages] == [1, 2, 2, 2]
        assert [m[1] for m in stage_maps(s.spec)] == [32, 32, 16, 8, 4]
        # the same draw at the default geometry: only stem and first stride differ
        ref = get_space("anynetx_e", resolution=32).spec_of(s.params)
        assert [st.width for st in ref.stages] == [st.width for st in s.spec.stages]
        assert ref.stem.width == s.spec.stem.width and ref.stem.stride == 2


@pytest.mark.parametrize("name", ["regnetx_002", "regnetx_004", "resnet18", "resnet50d", "efficientnet_b0", "tresnet_m"])
def test_named_baselines_at_32px(name):
    spec = apply_geometry(zoo[name].replace(resolution=32), "cifar")
    assert spec.stride == 8 and stage_maps(spec)[-1][1:] == (4, 4)
    assert apply_geometry(spec, "cifar") == spec  # idempotent
    assert apply_geometry(zoo[name], "imagenet") == zoo[name]


def test_baseline_geometry_matches_the_space_networks():
    """A study's baseline is built like the space's own networks: regnetx_002 through the
    regnetx space's cifar geometry equals the named model with the geometry applied."""
    p = {"w0": 24, "wa": 36.44, "wm": 2.49, "depth": 13, "group_width": 8}  # regnetx_002's parameters
    sp = get_space("regnetx", resolution=32).with_options({"geometry": "cifar"})
    assert sp.spec_of(p) == apply_geometry(zoo["regnetx_002"].replace(resolution=32), "cifar")


def test_bad_geometry_names_the_field():
    with pytest.raises(SpaceError, match="geometry='tiny' is not one of imagenet, cifar"):
        get_space("regnetx").with_options({"geometry": "tiny"})
    with pytest.raises(designspace.SpecError, match="geometry"):
        apply_geometry(zoo["resnet18"], "tiny")


def test_show_and_sample_print_each_stage_map(tmp_path):
    import subprocess
    import sys

    main = "import sys; from designspace.cli import main; sys.exit(main())"
    show = subprocess.run([sys.executable, "-c", main, "show", "regnetx_002", "--resolution", "32", "--geometry", "cifar"],
                          capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    rows = {line.split()[0]: line.split() for line in show.stdout.splitlines() if line.startswith(("stem", "stage"))}
    assert rows["stem"][2:7] == ["1", "32", "-", "1", "32x32"] and "4x4" in rows["stage4"]
    out = tmp_path / "s.jsonl"
    sample = subprocess.run([sys.executable, "-c", main, "sample", "--space", "anynetx_a", "--n", "3", "--resolution", "32",
                             "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert "stage4 1x1" in sample.stderr and "smaller than 4x4" in sample.stderr
    sample = subprocess.run([sys.executable, "-c", main, "sample", "--space", "anynetx_a", "--n", "3", "--resolution", "32",
                             "--geometry", "cifar", "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert "stem 32x32 stage1 32x32 stage2 16x16 stage3 8x8 stage4 4x4" in sample.stderr
    assert "smaller than 4x4" not in sample.stderr
    bad = subprocess.run([sys.executable, "-c", main, "sample", "--geometry", "tiny", "-o", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "designspace sample: error: --geometry='tiny' is not one of imagenet, cifar"]
