"""Load timm checkpoints into designspace modules.

Our modules share one layout (``stem``, ``stages.{i}.{j}``, ``head``) for every family; timm's
differ per family.  Each family has a documented list of ``(regex, replacement)`` rules that
rename a timm state_dict key to ours, applied in order (first match wins).  Shapes are identical,
so ``model.load_state_dict(timm_to_designspace(name, sd), strict=True)`` works.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Union

from .spec import SpecError

__all__ = ["timm_to_designspace", "TIMM_KEY_RULES"]

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
    *[rule for n in range(1, 5) for rule in (
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


def timm_to_designspace(name: str, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Rename the keys of a timm state_dict of named model ``name`` to our module's keys.

    Keys with no rule raise :class:`SpecError` naming the key (a checkpoint of another model).
    """
    from .zoo import zoo

    family = zoo.entry(name).family
    out: dict[str, Any] = {}
    for k, v in state_dict.items():
        new = map_key(family, k)
        if new is None:
            raise SpecError("state_dict", k, f"is not a key of a timm {family} checkpoint ({name})")
        out[new] = v
    return out
