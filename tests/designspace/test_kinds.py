"""The registry of block and stem kinds: a new kind is one module, and validation, build, count
(= fvcore), show and sampling all pick it up; the NDS Vanilla kind and space built that way."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from torch import nn

import designspace
from designspace import NetSpec, SpecError, StageSpec, StemSpec, count
from designspace.kinds import BlockKind, block_kind, block_kinds, register_block, unregister_block
from oracles import fvcore_count

THROWAWAY = '''
"""A throwaway kind: pointwise expand x2, depthwise kxk (strided), pointwise project; no skip."""
from designspace.kinds import BlockKind, register_block


def widths(st, in_chs):
    return {"mid": 2 * st.width}


def count(cx, st, stride):
    mid = widths(st, cx.c)["mid"]
    cx.conv_norm(mid, 1).conv_norm(mid, st.kernel_size, stride, groups=mid).conv_norm(st.width, 1)


def build(st, in_chs, stride, ctx):
    from torch import nn
    from designspace.blocks.layers import ConvNormAct

    mid = widths(st, in_chs)["mid"]
    return nn.Sequential(ConvNormAct(in_chs, mid, 1, norm_layer=ctx.norm, act_layer=ctx.act),
                         ConvNormAct(mid, mid, st.kernel_size, stride, groups=mid, norm_layer=ctx.norm, act_layer=ctx.act),
                         ConvNormAct(mid, st.width, 1, norm_layer=ctx.norm, act_layer=None))


KIND = register_block(BlockKind("throwaway_dw", reads=("kernel_size",), widths=widths, count=count, build=build,
                                show=("kernel_size",)))
'''


@pytest.fixture
def throwaway(tmp_path):
    path = tmp_path / "throwaway_kind.py"
    path.write_text(THROWAWAY)
    spec = importlib.util.spec_from_file_location("throwaway_kind", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # registers the kind
    yield mod
    unregister_block("throwaway_dw")


def _net(block: str, **stage) -> NetSpec:
    stages = (StageSpec(block=block, depth=2, width=16, stride=1, **stage),
              StageSpec(block=block, depth=1, width=24, stride=2, **stage))
    return NetSpec(stem=StemSpec("simple", 8), stages=stages, resolution=32, num_classes=5)


def test_a_throwaway_kind_through_the_registry_alone(throwaway, tmp_path):
    assert "throwaway_dw" in block_kinds()
    spec = _net("throwaway_dw", kernel_size=5)
    model = designspace.build(spec).eval()
    c = count(spec)
    assert (c.flops, c.params, c.acts) == fvcore_count(model, 32)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 5)
    # validation knows what the kind reads: an unread field must keep its default
    with pytest.raises(SpecError, match=r"^stages\[0\]\.se_ratio=0\.25 must be 0\.0 for throwaway_dw blocks"):
        _net("throwaway_dw", se_ratio=0.25)
    with pytest.raises(SpecError, match=r"kernel_size=4 must be odd"):
        _net("throwaway_dw", kernel_size=4)
    # JSON round trip and `designspace show` (in a child process that imports the module first)
    assert NetSpec.from_json(spec.to_json()) == spec
    f = tmp_path / "spec.json"
    f.write_text(spec.to_json())
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import throwaway_kind; "
            "from designspace.cli import main; sys.exit(main(['show', sys.argv[1]]))")
    r = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "throwaway_dw (k=5)" in r.stdout and f"flops={_human(c.flops)}" in r.stdout


def _human(n: int) -> str:
    from designspace.commands._table import human

    return human(n)


def test_unregistered_kind_is_a_spec_error(throwaway):
    unregister_block("throwaway_dw")
    with pytest.raises(SpecError, match=r"^stages\[0\]\.block='throwaway_dw' is not one of basic, bottleneck"):
        _net("throwaway_dw", kernel_size=5)


def test_registry_refuses_bad_kinds():
    k = block_kind("vanilla")
    with pytest.raises(ValueError, match="already registered"):
        register_block(k)
    with pytest.raises(ValueError, match="not stage fields"):
        BlockKind("x", reads=("colour",), widths=k.widths, count=k.count, build=k.build)
    with pytest.raises(TypeError):
        register_block("vanilla")  # type: ignore[arg-type]


def test_every_builtin_kind_refuses_the_fields_it_does_not_read():
    probe = {"bottleneck_ratio": 2.0, "group_width": 4, "se_ratio": 0.25, "kernel_size": 5, "expand_ratio": 4.0,
             "shortcut": "avgpool", "anti_alias": True}
    for name in block_kinds():
        for f, v in probe.items():
            if f in block_kind(name).reads:
                continue
            with pytest.raises(SpecError, match=rf"^stages\[0\]\.{f}=.* for {name} blocks \(they do not use it\)"):
                _net(name, **{f: v})


# ---------------------------------------------------------------------------- NDS Vanilla
def test_vanilla_block_is_pycls_vanilla():
    """pycls VanillaBlock: [3x3 conv (stride), BN, ReLU] x 2, no shortcut."""
    spec = NetSpec(stem=StemSpec("cifar", 16), stages=(StageSpec("vanilla", 1, 32, 2),), resolution=32, num_classes=10)
    net = designspace.build(spec)
    block = net.stages[0][0]
    layers = [m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU))]
    assert [type(m) for m in layers] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
    assert layers[0].stride == (2, 2) and layers[0].kernel_size == (3, 3) and layers[3].stride == (1, 1)
    x = torch.randn(2, 16, 8, 8)
    block.eval()
    with torch.no_grad():  # no residual: the output is the plain composition
        assert torch.equal(block(x), block.b(block.a(x)))
    assert net.stem.conv.stride == (1, 1) and spec.stride == 2


def test_nds_vanilla_space_counts_equal_fvcore():
    df = designspace.sample("nds_vanilla", n=6, seed=3, flops=(None, 60e6))
    assert len(df) == 6 and set(df.space) == {"nds_vanilla"}
    for _, row in df.iterrows():
        spec = NetSpec.from_json(row.spec)
        assert spec.stem.kind == "cifar" and [st.stride for st in spec.stages] == [1, 2, 2]
        assert all(st.block == "vanilla" for st in spec.stages)
        assert (row.flops, row.params, row.acts) == fvcore_count(designspace.build(spec), spec.resolution)
        assert json.loads(row.spec)["resolution"] == 32
