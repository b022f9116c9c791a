"""Load timm checkpoints into designspace modules.

Our modules share one layout (``stem``, ``stages.{i}.{j}``, ``head``) for every family; timm's
differ per family.  Each family has a documented list of ``(regex, replacement)`` rules that
rename a timm state_dict key to ours, applied in order (first match wins).  Shapes are identical,
so ``model.load_state_dict(timm_to_designspace(name, sd), strict=True)`` works.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .spec import SpecError

__all__ = ["timm_to_designspace", "TIMM_KEY_RULES"]

#: family -> [(timm key regex, our key replacement)], first match wins; every key must match one.
TIMM_KEY_RULES: dict[str, list[tuple[str, str]]] = {
    "resnet": [],        # filled by the ResNet slice
    "resnet_rs": [],     # filled by the ResNet slice
    "regnet": [],        # filled by the RegNet slice
    "efficientnet": [],  # filled by the EfficientNet slice
    "tresnet": [],       # filled by the TResNet slice
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
