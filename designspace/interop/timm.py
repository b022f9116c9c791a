"""Load timm checkpoints into designspace modules.

Our modules share one layout (``stem``, ``stages.{i}.{j}``, ``head``) for every family; timm's
differ per family.  Each family has a documented list of ``(regex, replacement)`` rules that
rename a timm state_dict key to ours, applied in order (first match wins).  Shapes are identical,
so ``model.load_state_dict(timm_to_designspace(name, sd), strict=True)`` works.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Union

from ..errors import SpecError, require
from ..spec import NetSpec

__all__ = ["timm_to_designspace", "to_timm", "TIMM_KEY_RULES", "map_key", "family_of"]

#: timm ResNet/ResNet-D/RS (``timm.models.resnet.ResNet``) -> ours.  Stem: 7x7 ``conv1``+``bn1``
#: or deep ``conv1.{0,1,3,4,6}``+``bn1``, and RS's ``maxpool.{0,1}`` conv-bn; blocks:
#: ``layer{n}.{j}.conv{k}/bn{k}`` -> ``stages.{n-1}.{j}.conv{k}.conv/bn``, ``se.fc{1,2}`` as is,
#: ``downsample.{i}`` -> ``shortcut.{i}`` (same indices); ``fc`` -> ``head.fc``.
_RESNET_RULES: list[tuple[str, str]] = [
    (r"conv1\.weight", "stem.conv.conv.weight"),
    (r"bn1\.(.+)", r"stem.conv.bn.\1"),
    (r"conv1\.0\.weight", "stem.deep.0.conv.weight"),
    (r"conv1\.1\.(.+)", r"stem.deep.0.bn.\1"),
    (r"conv1\.3\.weight", "stem.deep.1.conv.weight"),
    (r"conv1\.4\.(.+)", r"stem.deep.1.bn.\1"),
    (r"conv1\.6\.weight", "stem.conv.conv.weight"),
    (r"maxpool\.0\.weight", "stem.pool.conv.weight"),
    (r"maxpool\.1\.(.+)", r"stem.pool.bn.\1"),
    *[rule for n in range(1, 9) for rule in (
        (rf"layer{n}\.(\d+)\.conv(\d)\.weight", rf"stages.{n - 1}.\1.conv\2.conv.weight"),
        (rf"layer{n}\.(\d+)\.bn(\d)\.(.+)", rf"stages.{n - 1}.\1.conv\2.bn.\3"),
        (rf"layer{n}\.(\d+)\.se\.(fc[12]\.(?:weight|bias))", rf"stages.{n - 1}.\1.se.\2"),
        (rf"layer{n}\.(\d+)\.downsample\.(\d)\.(.+)", rf"stages.{n - 1}.\1.shortcut.\2.\3"),
    )],
    (r"fc\.(weight|bias)", r"head.fc.\1"),
]

#: A replacement string (``re`` syntax) or a function of the match (for index arithmetic).
Replacement = Union[str, Callable[["re.Match[str]"], str]]

#: family -> [(timm key regex, our key replacement)], first match wins; every key must match one.
TIMM_KEY_RULES: dict[str, list[tuple[str, Replacement]]] = {
    "resnet": _RESNET_RULES,
    "resnet_rs": _RESNET_RULES,
    # timm RegNet: ``stem.{conv,bn}`` same keys; ``s{i}.b{j}.*`` -> ``stages.{i-1}.{j-1}.*`` (same
    # child names conv1/conv2/conv3 .conv/.bn and se.fc1/fc2) except the projection shortcut,
    # timm's ``downsample.{conv,bn}`` -> our ``shortcut.{conv,bn}``; ``head.fc`` same keys.
    "regnet": [
        (r"(stem\.(?:conv|bn)\..+)", r"\1"),
        (r"s(\d+)\.b(\d+)\.downsample\.(.+)", lambda m: f"stages.{int(m[1]) - 1}.{int(m[2]) - 1}.shortcut.{m[3]}"),
        (r"s(\d+)\.b(\d+)\.(.+)", lambda m: f"stages.{int(m[1]) - 1}.{int(m[2]) - 1}.{m[3]}"),
        (r"(head\.fc\.(?:weight|bias))", r"\1"),
    ],
    # our blocks use timm's child names; only prefixes and the SE convs differ
    "efficientnet": [
        (r"conv_stem\.(.*)", r"stem.conv.\1"),
        (r"bn1\.(.*)", r"stem.bn.\1"),
        (r"blocks\.(\d+\.\d+)\.se\.conv_reduce\.(.*)", r"stages.\1.se.fc1.\2"),
        (r"blocks\.(\d+\.\d+)\.se\.conv_expand\.(.*)", r"stages.\1.se.fc2.\2"),
        (r"blocks\.(\d+\.\d+)\.((?:conv_pw|conv_dw|conv_pwl|bn1|bn2|bn3)\..*)", r"stages.\1.\2"),
        (r"conv_head\.(.*)", r"head.conv.conv.\1"),
        (r"bn2\.(.*)", r"head.conv.bn.\1"),
        (r"classifier\.(.*)", r"head.fc.\1"),
    ],
    # timm TResNet: ``body.conv1`` (after ``body.s2d``) -> ``stem.conv``; ``body.layer{n}.{j}.*``
    # -> ``stages.{n-1}.{j}.*`` (same child names: conv{k}.conv/bn, se.fc{1,2}, downsample.{i});
    # BlurPool filters are non-persistent buffers in both, so they have no keys.
    "tresnet": [
        (r"body\.conv1\.((?:conv|bn)\..+)", r"stem.conv.\1"),
        (r"body\.layer(\d+)\.(\d+\..+)", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}"),
        (r"head\.fc\.(weight|bias)", r"head.fc.\1"),
    ],
}


def map_key(family: str, key: str) -> str | None:
    for pattern, repl in TIMM_KEY_RULES[family]:
        new, n = re.subn(f"^{pattern}$", repl, key)
        if n:
            return new
    return None


def family_of(spec: NetSpec) -> str:
    """The timm family whose module layout ``spec``'s network has: ``regnet``, ``resnet``
    (ResNet, ResNeXt, SE-ResNet, ResNet-D, ResNet-RS), ``efficientnet`` or ``tresnet``;
    :class:`SpecError` for a network of another shape (e.g. NDS Vanilla, which timm has not)."""
    blocks = {st.block for st in spec.stages}
    stem = spec.stem.kind
    if stem == "s2d" and blocks <= {"tresnet_basic", "tresnet_bottleneck"}:
        return "tresnet"
    if stem == "simple" and blocks <= {"ds", "mbconv"} and spec.head.width:
        return "efficientnet"
    if stem == "simple" and blocks == {"regnet"} and not spec.head.width:
        return "regnet"
    if stem in ("resnet", "deep", "deep_tiered") and blocks <= {"basic", "bottleneck"} and not spec.head.width:
        return "resnet"
    raise SpecError("spec", f"{stem} stem with {', '.join(sorted(blocks))} blocks",
                    "is not the layout of a timm family (regnet, resnet, efficientnet, tresnet)")


def timm_to_designspace(spec_or_name: Any, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Rename the keys of a timm state_dict to our module's keys, for a named model or any spec
    of a family timm has (:func:`family_of`): ``model.load_state_dict(timm_to_designspace(spec,
    sd), strict=True)``.  Keys with no rule raise :class:`SpecError` naming the key (a
    checkpoint of another family)."""
    from ..zoo import zoo

    if isinstance(spec_or_name, str):
        family = zoo.entry(spec_or_name).family
        family = "resnet" if family == "resnet_rs" else family
        what = spec_or_name
    elif isinstance(spec_or_name, NetSpec):
        family, what = family_of(spec_or_name), f"spec {spec_or_name.id}"
    else:
        raise SpecError("spec_or_name", spec_or_name, "is neither a named model nor a NetSpec")
    out: dict[str, Any] = {}
    for k, v in state_dict.items():
        new = map_key(family, k)
        if new is None:
            raise SpecError("state_dict", k, f"is not a key of a timm {family} checkpoint ({what})")
        out[new] = v
    return out


# ---------------------------------------------------------------------------------- to_timm
def to_timm(spec: NetSpec) -> tuple[str, dict[str, Any]]:
    """``(model_name, kwargs)`` such that ``timm.create_model(model_name, **kwargs)`` builds
    ``spec``'s network (same parameters; with :func:`timm_to_designspace`, the same logits), for
    RegNet, ResNet/ResNeXt/SE-ResNet/ResNet-D/ResNet-RS, EfficientNet and TResNet.  A named model
    comes back under its own name.  A spec timm cannot express gets a :class:`SpecError` that
    names what is missing (e.g. a 7x7 stem that is not 64 wide, an EfficientNet at other
    multipliers than timm's named ones).  Imports timm (``pip install 'designspace[timm]'``)."""
    require("timm", extra="timm", what="to_timm")
    from ..zoo import zoo

    common: dict[str, Any] = {"num_classes": spec.num_classes, "in_chans": spec.in_chans}
    if spec.drop_path_rate:
        common["drop_path_rate"] = spec.drop_path_rate
    if spec.head.dropout:
        common["drop_rate"] = spec.head.dropout
    if spec.head.pool != "avg":
        common["global_pool"] = spec.head.pool
    for name in zoo:  # a named model (at any classes, channels, drop rates): its own name
        z = zoo[name]
        if z.head.width != spec.head.width or z.stages != spec.stages or z.stem != spec.stem:
            continue
        if z.activation == spec.activation:
            return name, common
    family = family_of(spec)
    return {"regnet": _regnet, "resnet": _resnet, "efficientnet": _efficientnet, "tresnet": _tresnet}[family](spec, common)


def _need(ok: bool, what: str, value: Any, why: str) -> None:
    if not ok:
        raise SpecError(what, value, f"{why}: timm cannot express this network")


def _regnet(spec: NetSpec, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from ..families.regnet import regnet_params

    _need(spec.activation == "relu", "activation", spec.activation, "timm's RegNet uses relu")
    _need(len(spec.stages) == 4, "stages", len(spec.stages), "timm's RegNet has exactly 4 stages")
    p = regnet_params(spec)
    kw = dict(w0=p["w0"], wa=p["wa"], wm=p["wm"], depth=p["depth"], group_size=p["group_width"],
              bottle_ratio=p["bottle_ratio"], se_ratio=p["se_ratio"], stem_width=p["stem_width"])
    return ("regnety_002" if p["se_ratio"] else "regnetx_002"), {**kw, **common}


def _resnet(spec: NetSpec, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from functools import partial

    from timm.layers import get_attn
    from timm.models.resnet import BasicBlock, Bottleneck

    st, stem = spec.stages, spec.stem
    _need(spec.activation == "relu", "activation", spec.activation, "timm's ResNet uses relu")
    _need(len(st) == 4, "stages", len(st), "timm's ResNet runs exactly 4 stages (layer1..layer4)")
    kinds = {s.block for s in st}
    _need(len(kinds) == 1, "stages", [s.block for s in st], "timm's ResNet has one block kind")
    block = st[0].block
    _need([s.stride for s in st] == [1] + [2] * (len(st) - 1), "stages", [s.stride for s in st],
          "timm's ResNet strides its stages 1, 2, 2, ...")
    for f in ("shortcut", "se_ratio"):
        _need(len({getattr(s, f) for s in st}) == 1, f"stages.{f}", [getattr(s, f) for s in st],
              "timm's ResNet has one value for every stage")
    kw: dict[str, Any] = {"block": BasicBlock if block == "basic" else Bottleneck, "layers": tuple(s.depth for s in st)}
    if block == "basic":
        planes = [s.width for s in st]
    else:
        _need(all(s.width % 4 == 0 for s in st), "stages.width", [s.width for s in st],
              "timm's Bottleneck outputs 4 x planes")
        planes = [s.width // 4 for s in st]
        groups = {s.groups for s in st}
        _need(len(groups) == 1, "stages.groups", sorted(groups), "timm's ResNet has one cardinality")
        g = groups.pop()
        fits = [b for b in range(1, 1025) if all((p * b // 64) * g == s.bottleneck_width for p, s in zip(planes, st))]
        _need(bool(fits), "stages.bottleneck_ratio", [s.bottleneck_ratio for s in st],
              "no base_width gives these inner widths as floor(planes * base_width / 64) * cardinality")
        bw = 64 if 64 in fits else fits[0]
        kw.update(cardinality=g, base_width=bw)
    kw["channels"] = tuple(planes)
    if stem.kind in ("deep", "deep_tiered"):
        _need(stem.width == 2 * stem.deep_width, "stem.width", stem.width, "timm's deep stem ends at 2 x stem_width")
        kw.update(stem_type=stem.kind, stem_width=stem.deep_width)
    else:
        _need(stem.width == 64, "stem.width", stem.width, "timm's 7x7 stem is always 64 wide")
    _need(stem.pool in ("max", "conv"), "stem.pool", stem.pool, "timm's ResNet stem ends in a max-pool or a strided conv")
    if stem.pool == "conv":
        kw["replace_stem_pool"] = True
    if st[0].shortcut == "avgpool":
        kw["avg_down"] = True
    r = st[0].se_ratio
    if r:
        kw["block_args"] = {"attn_layer": "se" if r == 1 / 16 else partial(get_attn("se"), rd_ratio=r)}
    return "resnet50", {**kw, **common}


def _efficientnet(spec: NetSpec, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from .. import families

    named = {"efficientnet_b0": (1.0, 1.0), "efficientnet_b1": (1.0, 1.1), "efficientnet_b2": (1.1, 1.2),
             "efficientnet_b3": (1.2, 1.4), "efficientnet_b4": (1.4, 1.8), "efficientnet_b5": (1.6, 2.2),
             "efficientnet_b6": (1.8, 2.6), "efficientnet_b7": (2.0, 3.1), "efficientnet_b8": (2.2, 3.6)}
    for name, (w, d) in named.items():
        ref = families.efficientnet(w, d, resolution=spec.resolution, dropout=spec.head.dropout,
                                    num_classes=spec.num_classes, drop_path_rate=spec.drop_path_rate)
        if ref.replace(in_chans=spec.in_chans) == spec:
            return name, common
    raise SpecError("spec", f"EfficientNet stem {spec.stem.width}, depths {spec.depths}",
                    "has multipliers timm builds only through _gen_efficientnet, not create_model: timm's "
                    "create_model names are b0-b8 (width, depth) = (1.0, 1.0) ... (2.2, 3.6); timm cannot express "
                    "this network by name")


def _tresnet(spec: NetSpec, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    from .. import families

    layers = tuple(s.depth for s in spec.stages)
    _need(len(layers) == 4, "stages", len(layers), "timm's TResNet has 4 stages")
    wf = spec.stem.width / 64
    ref = families.tresnet(None, layers=layers, width_factor=wf, resolution=spec.resolution,
                           num_classes=spec.num_classes, drop_path_rate=spec.drop_path_rate, in_chans=spec.in_chans)
    _need(ref == spec, "spec", spec.id, "the stages are not TResNet's layout for these layers and width factor")
    return "tresnet_m", {"layers": layers, "width_factor": wf, **common}
