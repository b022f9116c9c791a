"""Named models as data: each is a call of a family generator with its published parameters.

``zoo["regnetx_032"]`` is the :class:`NetSpec` that ``families.regnet(**params)`` returns, so
every named model is a fixed point of its family.  ``timm`` names the reference implementation
the tests compare against (same parameter count, same logits with the same weights).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .spec import NetSpec, SpecError

__all__ = ["ZooEntry", "zoo", "entries", "list_models"]


@dataclass(frozen=True)
class ZooEntry:
    name: str
    family: str  # a function name in designspace.families
    params: dict[str, Any] = field(hash=False)
    timm: str  # reference model name in timm
    reference: str = ""  # paper

    def spec(self) -> NetSpec:
        from . import families

        return getattr(families, self.family)(**self.params)


# Each family's named models.  Parameters are the published ones (as timm defines them).
_RESNET: dict[str, dict[str, Any]] = {
    "resnet18": {"depth": 18},
    "resnet34": {"depth": 34},
    "resnet50": {"depth": 50},
    "resnet101": {"depth": 101},
    "resnet152": {"depth": 152},
    "resnet50d": {"depth": 50, "variant": "d"},  # He et al. 2019, Bag of Tricks
    "seresnet50": {"depth": 50, "se_ratio": 1 / 16},  # Hu et al. 2018, reduction 16
    "resnext50_32x4d": {"depth": 50, "groups": 32, "width_per_group": 4},  # Xie et al. 2017
    # timm's resnet*t: tiered deep stem (24-32-64) and avg-pool downsample; resolution = timm's
    # default_cfg input_size
    "resnet10t": {"layers": (1, 1, 1, 1), "block": "basic", "variant": "t", "resolution": 176},
    "resnet14t": {"layers": (1, 1, 1, 1), "block": "bottleneck", "variant": "t", "resolution": 176},
    "resnet26t": {"depth": 26, "variant": "t", "resolution": 256},
    "resnet50t": {"depth": 50, "variant": "t"},
}
_RESNET_RS: dict[str, dict[str, Any]] = {f"resnetrs{d}": {"depth": d} for d in (50, 101, 152, 200, 270, 350, 420)}
# RegNetX / RegNetY (Radosavovic et al. 2020, Tables 10-11 via pycls/timm model_cfgs): w0, wa, wm,
# depth, group width; RegNetY adds SE with ratio 0.25.  Bottleneck ratio 1, stem width 32.
_REGNET_X = {
    "002": (24, 36.44, 2.49, 13, 8),
    "004": (24, 24.48, 2.54, 22, 16),
    "006": (48, 36.97, 2.24, 16, 24),
    "008": (56, 35.73, 2.28, 16, 16),
    "016": (80, 34.01, 2.25, 18, 24),
    "032": (88, 26.31, 2.25, 25, 48),
    "040": (96, 38.65, 2.43, 23, 40),
    "064": (184, 60.83, 2.07, 17, 56),
    "080": (80, 49.56, 2.88, 23, 120),
    "120": (168, 73.36, 2.37, 19, 112),
    "160": (216, 55.59, 2.1, 22, 128),
    "320": (320, 69.86, 2.0, 23, 168),
}
_REGNET_Y = {
    "002": (24, 36.44, 2.49, 13, 8),
    "004": (48, 27.89, 2.09, 16, 8),
    "006": (48, 32.54, 2.32, 15, 16),
    "008": (56, 38.84, 2.4, 14, 16),
    "016": (48, 20.71, 2.65, 27, 24),
    "032": (80, 42.63, 2.66, 21, 24),
    "040": (96, 31.41, 2.24, 22, 64),
    "064": (112, 33.22, 2.27, 25, 72),
    "080": (192, 76.82, 2.19, 17, 56),
    "120": (168, 73.36, 2.37, 19, 112),
    "160": (200, 106.23, 2.48, 18, 112),
    "320": (232, 115.89, 2.53, 20, 232),
}
_REGNET: dict[str, dict[str, Any]] = {
    **{f"regnetx_{k}": dict(w0=w0, wa=wa, wm=wm, depth=d, group_width=g)
       for k, (w0, wa, wm, d, g) in _REGNET_X.items()},
    **{f"regnety_{k}": dict(w0=w0, wa=wa, wm=wm, depth=d, group_width=g, se_ratio=0.25)
       for k, (w0, wa, wm, d, g) in _REGNET_Y.items()},
}
# (width_mult, depth_mult, resolution, dropout) of Tan & Le 2019, as in timm's _gen_efficientnet
_EFFICIENTNET: dict[str, dict[str, Any]] = {
    "efficientnet_b0": {"width_mult": 1.0, "depth_mult": 1.0, "resolution": 224, "dropout": 0.2},
    "efficientnet_b1": {"width_mult": 1.0, "depth_mult": 1.1, "resolution": 240, "dropout": 0.2},
    "efficientnet_b2": {"width_mult": 1.1, "depth_mult": 1.2, "resolution": 260, "dropout": 0.3},
    "efficientnet_b3": {"width_mult": 1.2, "depth_mult": 1.4, "resolution": 300, "dropout": 0.3},
    "efficientnet_b4": {"width_mult": 1.4, "depth_mult": 1.8, "resolution": 380, "dropout": 0.4},
    "efficientnet_b5": {"width_mult": 1.6, "depth_mult": 2.2, "resolution": 456, "dropout": 0.4},
    "efficientnet_b6": {"width_mult": 1.8, "depth_mult": 2.6, "resolution": 528, "dropout": 0.5},
    "efficientnet_b7": {"width_mult": 2.0, "depth_mult": 3.1, "resolution": 600, "dropout": 0.5},
}
# (blocks per stage, width factor) of Ridnik et al. 2021 Table 1, as timm's tresnet_{m,l,xl};
# resolution = timm's default_cfg input_size
_TRESNET: dict[str, dict[str, Any]] = {
    "tresnet_m": {"layers": (3, 4, 11, 3), "width_factor": 1.0, "resolution": 224},
    "tresnet_l": {"layers": (4, 5, 18, 3), "width_factor": 1.2, "resolution": 224},
    "tresnet_xl": {"layers": (4, 5, 24, 3), "width_factor": 1.3, "resolution": 224},
}

_RESNET_PAPER = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016"
_RS_PAPER = "Bello et al., Revisiting ResNets: Improved Training and Scaling Strategies, NeurIPS 2021"
_REGNET_PAPER = "Radosavovic et al., Designing Network Design Spaces, CVPR 2020"
_EFFNET_PAPER = "Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs, ICML 2019"
_TRESNET_PAPER = "Ridnik et al., TResNet: High Performance GPU-Dedicated Architecture, WACV 2021"


def _entries() -> dict[str, ZooEntry]:
    out: dict[str, ZooEntry] = {}
    for family, table, paper in (
        ("resnet", _RESNET, _RESNET_PAPER),
        ("resnet_rs", _RESNET_RS, _RS_PAPER),
        ("regnet", _REGNET, _REGNET_PAPER),
        ("efficientnet", _EFFICIENTNET, _EFFNET_PAPER),
        ("tresnet", _TRESNET, _TRESNET_PAPER),
    ):
        for name, params in table.items():
            out[name] = ZooEntry(name, family, dict(params), timm=name, reference=paper)
    return out


entries: dict[str, ZooEntry] = _entries()


@lru_cache(maxsize=None)
def _spec(name: str) -> NetSpec:
    return entries[name].spec()


class _Zoo(Mapping[str, NetSpec]):
    """Read-only mapping: model name -> NetSpec."""

    def __getitem__(self, name: str) -> NetSpec:
        if name not in entries:
            import difflib

            close = difflib.get_close_matches(name, list(entries), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `designspace list` shows them all"
            raise SpecError("model", name, f"is not a named model{hint}")
        return _spec(name)

    def __iter__(self) -> Iterator[str]:
        return iter(entries)

    def __len__(self) -> int:
        return len(entries)

    def __contains__(self, name: object) -> bool:
        return name in entries

    def entry(self, name: str) -> ZooEntry:
        self[name]
        return entries[name]

    def __repr__(self) -> str:
        return f"<zoo of {len(self)} named models>"


zoo = _Zoo()


def list_models(pattern: str | Iterable[str] = "*", family: str | None = None, *,
                exclude: str | Iterable[str] = ()) -> list[str]:
    """Names of the named models matching ``pattern`` (shell wildcards, as timm's
    ``list_models``: ``"regnety_*"``, ``"*50*"``; several patterns: any of them), of ``family``
    if given (``resnet``, ``resnet_rs``, ``regnet``, ``efficientnet``, ``tresnet``), without
    those matching ``exclude``; sorted as timm sorts (numbers in names compared as numbers)."""
    import fnmatch
    import re

    def patterns(p: object, what: str) -> list[str]:
        ps = [p] if isinstance(p, str) else list(p) if isinstance(p, Iterable) else None  # type: ignore[arg-type]
        if ps is None or not all(isinstance(x, str) for x in ps):
            raise SpecError(what, p, "must be a wildcard pattern (a string) or a list of them")
        return ps

    inc, exc = patterns(pattern, "pattern"), patterns(exclude, "exclude")
    families = sorted({e.family for e in entries.values()})
    if family is not None and family not in families:
        raise SpecError("family", family, f"is not one of {', '.join(families)}")
    names = [n for n, e in entries.items() if family is None or e.family == family]
    names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in inc)
             and not any(fnmatch.fnmatchcase(n, p) for p in exc)]
    return sorted(names, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n.lower())])
