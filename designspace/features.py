"""Feature levels of a network (timm's ``feature_info``) and timm's ``FeatureInfo`` interface.

A level is the output of the last module at each reduction (output stride), as timm's models
report them: a ResNet's stem gives its level before the max-pool (timm's ``act1``, stride 2),
EfficientNet gives its 5 levels (strides 2, 4, 8, 16, 32: stages 0, 1, 2, 4, 6), a RegNet its
stem and 4 stages.  A TResNet's space-to-depth stem goes from stride 1 to 4 at once; timm still
lists a level at stride 2 as a placeholder with no module (``module=''``), so its 4 stages are
levels 1-4: we keep that placeholder, so that indices mean the same levels as in timm; it is left
out of the default ``out_indices`` and cannot be asked for (timm fails on it too).  Pure Python:
no torch.
"""
from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING, Any, Sequence, Union

from .errors import SpecError

if TYPE_CHECKING:  # pragma: no cover
    from .spec import NetSpec

__all__ = ["FeatureInfo", "feature_levels", "resolve_out_indices", "placeholders"]

Index = Union[int, Sequence[int], None]


def stem_splits(spec: "NetSpec") -> bool:
    """True where the stem's convs and its pool are two levels (ResNet stems with a pool)."""
    return spec.stem.kind in ("resnet", "deep", "deep_tiered") and spec.stem.pool != "none"


def feature_levels(spec: "NetSpec") -> list[dict[str, Any]]:
    """``[{num_chs, reduction, module}]``, one per reduction, the last module at it."""
    out: list[dict[str, Any]] = []
    if spec.stem.kind == "s2d":  # timm's placeholder for the /2 map a space-to-depth stem never makes
        out.append({"num_chs": spec.stem.width, "reduction": 2, "module": ""})
    if stem_splits(spec):
        out.append({"num_chs": spec.stem.width, "reduction": 2, "module": "stem.conv"})
    else:
        out.append({"num_chs": spec.stem.width, "reduction": spec.stem.stride, "module": "stem"})
    red = spec.stem.stride
    for i, st in enumerate(spec.stages):
        red *= st.stride
        level = {"num_chs": st.width, "reduction": red, "module": f"stages.{i}"}
        if out and out[-1]["reduction"] == red:
            out[-1] = level
        else:
            out.append(level)
    return out


def resolve_out_indices(out_indices: Any, n: int, placeholders: Sequence[int] = ()) -> tuple[int, ...]:
    """timm's ``out_indices``: a sequence of level indices (negative counts from the end), or an
    int ``k`` for the last ``k`` levels; ``None`` for every level but the ``placeholders``
    (levels without a module, TResNet's level 0).  :class:`SpecError` naming a bad one, or one
    that asks for a placeholder."""
    if out_indices is None:
        return tuple(i for i in range(n) if i not in placeholders)
    if isinstance(out_indices, int) and not isinstance(out_indices, bool):
        if not 1 <= out_indices <= n:
            raise SpecError("out_indices", out_indices, f"as a count of last levels must be in 1..{n}")
        got = tuple(range(n - out_indices, n))
    elif isinstance(out_indices, (str, bytes)) or not isinstance(out_indices, Sequence) or not out_indices:
        raise SpecError("out_indices", out_indices, f"must be level indices in 0..{n - 1} or a count of last levels")
    else:
        for i in out_indices:
            if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
                raise SpecError("out_indices", out_indices,
                                f"must hold level indices in 0..{n - 1} (this network has {n} levels)")
        got = tuple(i % n for i in out_indices)
    hole = sorted(set(got) & set(placeholders))
    if hole:
        raise SpecError("out_indices", out_indices, f"asks for level {hole[0]}, a placeholder without a feature map "
                        "(timm's level at stride 2 of a space-to-depth stem, which goes from stride 1 to 4 at once); "
                        f"ask for levels {', '.join(str(i) for i in range(n) if i not in placeholders)}")
    return got


def placeholders(levels: Sequence[dict[str, Any]]) -> tuple[int, ...]:
    """Indices of the levels without a module (timm's placeholders)."""
    return tuple(i for i, d in enumerate(levels) if not d["module"])


class FeatureInfo:
    """timm's ``FeatureInfo``: the levels and the ``out_indices`` a feature network returns.
    ``channels()``, ``reduction()``, ``module_name()`` give one value per returned level (or at
    ``idx``); ``get_dicts()``, ``from_other(out_indices)``; ``[i]`` and ``len`` index all levels
    (as timm's)."""

    def __init__(self, feature_info: list[dict[str, Any]], out_indices: Any = None):
        self.info = [dict(d, index=i) for i, d in enumerate(feature_info)]
        self.out_indices = resolve_out_indices(out_indices, len(self.info), placeholders(self.info))

    def from_other(self, out_indices: Any) -> "FeatureInfo":
        return FeatureInfo(deepcopy(self.info), out_indices)

    def get(self, key: str, idx: Index = None) -> Any:
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, (tuple, list)):
            return [self.info[i][key] for i in idx]
        return self.info[idx][key]

    def get_dicts(self, keys: Sequence[str] | None = None, idx: Index = None) -> Any:
        pick = (lambda d: d) if keys is None else (lambda d: {k: d[k] for k in keys})
        if idx is None:
            return [pick(self.info[i]) for i in self.out_indices]
        if isinstance(idx, (tuple, list)):
            return [pick(self.info[i]) for i in idx]
        return pick(self.info[idx])

    def channels(self, idx: Index = None) -> Any:
        return self.get("num_chs", idx)

    def reduction(self, idx: Index = None) -> Any:
        return self.get("reduction", idx)

    def module_name(self, idx: Index = None) -> Any:
        return self.get("module", idx)

    def __getitem__(self, item: int) -> dict[str, Any]:
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)

    def __repr__(self) -> str:
        return f"FeatureInfo(channels={self.channels()}, reduction={self.reduction()}, out_indices={self.out_indices})"
