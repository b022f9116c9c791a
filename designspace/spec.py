"""Network specs: one declarative, JSON-serialisable description for every architecture.

A :class:`NetSpec` is a stem, a sequence of stages and a head, plus the input resolution,
number of classes and the activation/norm used throughout.  Family generators
(:mod:`designspace.families`) emit specs; :func:`designspace.build` turns a spec into a
``torch.nn.Module`` and :func:`designspace.count` computes its complexity analytically.
Nothing downstream reads anything but the spec.

Conventions (the same as pycls' AnyNet, "Designing Network Design Spaces", Radosavovic et al. 2020):

* ``StageSpec.width`` is the output width of every block in the stage.
* ``StageSpec.bottleneck_ratio`` *b* divides the width: the bottleneck (inner) width of a
  ``bottleneck``/``regnet`` block is ``width / b``; it must be an integer.
* ``StageSpec.group_width`` is the number of channels per group of the grouped 3x3 conv;
  ``0`` means a dense conv (one group).  It must divide the bottleneck width.
* ``StageSpec.stride`` applies to the first block of the stage.

This module is pure Python: importing it never imports torch or numpy.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .errors import SpecError
from .kinds import STAGE_DEFAULTS, STEM_DEFAULTS, block_kind, block_kinds, stem_kind, stem_kinds

__all__ = [
    "SpecError",
    "StemSpec",
    "StageSpec",
    "HeadSpec",
    "NetSpec",
    "BLOCKS",
    "STEMS",
    "STEM_POOLS",
    "ACTIVATIONS",
    "NORMS",
    "SHORTCUTS",
    "GLOBAL_POOLS",
]


#: Block kinds understood by :func:`designspace.build` and :func:`designspace.count`: the names in
#: the registry (:mod:`designspace.kinds`), e.g.
#:
#: ``basic``       ResNet basic block (two 3x3 convs).
#: ``bottleneck``  ResNet/ResNeXt/ResNet-D/SE-ResNet/ResNet-RS bottleneck: 1x1, grouped 3x3
#:                 (stride), 1x1; SE after the last conv, reduction relative to the output width.
#: ``regnet``      RegNet X/Y (AnyNet "X block"): 1x1, grouped 3x3 (stride), SE, 1x1; the SE
#:                 reduction is relative to the block's input width (pycls/timm convention).
#: ``ds``          depthwise-separable block (EfficientNet stage 1): dw kxk, SE, pw 1x1.
#: ``mbconv``      inverted residual: pw expand, dw kxk (stride), SE, pw project.
#: ``tresnet_basic`` / ``tresnet_bottleneck``  TResNet blocks (anti-aliased downsampling, SE
#:                 placement and reduction as in Ridnik et al. 2021).
#: ``vanilla``     the NDS paper's plain block: [3x3 conv, BN, ReLU] x 2, no shortcut.
#:
#: ``BLOCKS`` is the tuple of names registered when this module was imported; kinds
#: registered later (:func:`designspace.kinds.register_block`) are valid too.
BLOCKS = block_kinds()

#: Stem kinds (:mod:`designspace.kinds.stems`): ``simple`` 3x3 stride-2 conv (RegNet,
#: EfficientNet); ``resnet`` 7x7 stride-2 conv; ``deep`` three 3x3 convs (ResNet-C/D/RS);
#: ``deep_tiered`` the same with a first conv ``3 * (deep_width // 4)`` wide (timm's resnet*t); ``s2d``
#: SpaceToDepth(4) + 3x3 conv (TResNet); ``cifar`` 3x3 stride-1 conv (NDS CIFAR spaces).
STEMS = stem_kinds()
#: What follows the convs of a ``resnet`` or ``deep`` stem: nothing, a 3x3 stride-2 max-pool,
#: or a 3x3 stride-2 conv (ResNet-RS).
STEM_POOLS = ("none", "max", "conv")
ACTIVATIONS = ("relu", "silu", "leaky_relu", "gelu", "hard_swish")
NORMS = ("batchnorm",)
#: Projection shortcut used when a block changes shape: strided 1x1 conv, or (ResNet-D)
#: 2x2 average pool followed by a 1x1 conv.
SHORTCUTS = ("conv", "avgpool")
#: timm's ``global_pool`` values (``timm.layers.SelectAdaptivePool2d``)
GLOBAL_POOLS = ("avg", "max", "avgmax", "catavgmax", "")


@dataclass(frozen=True)
class StemSpec:
    """The stem: the layers between the input image and the first stage."""

    #: stem kind (:data:`STEMS`, the registry of :mod:`designspace.kinds`)
    kind: str = "simple"
    #: output width (channels) of the stem
    width: int = 32
    #: width of the first two convs of a ``deep`` stem (ResNet-D/RS use 32; a ``deep_tiered``
    #: stem's first conv is ``3 * (deep_width // 4)``); 0 for other kinds
    deep_width: int = 0
    #: what follows a ``resnet``/``deep`` stem's convs (:data:`STEM_POOLS`); ``none`` for other kinds
    pool: str = "none"

    @property
    def stride(self) -> int:
        """Downsampling factor of the stem (its kind's rule, e.g. 4 for a ResNet stem with a pool)."""
        try:
            return stem_kind(self.kind).stride(self)
        except SpecError:
            return 1


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``depth`` blocks of one kind and one output ``width``.

    Each block kind reads only some of the optional fields (its ``reads`` in
    :mod:`designspace.kinds`); the others must keep their defaults."""

    #: block kind (:data:`BLOCKS`, the registry of :mod:`designspace.kinds`)
    block: str
    #: number of blocks in the stage (>= 1)
    depth: int
    #: output width (channels) of every block of the stage
    width: int
    #: stride of the stage's first block (1 or 2); the others have stride 1
    stride: int = 1
    #: *b*, the divisor of the width: the bottleneck (inner) width is ``width / b``, an integer
    #: (pycls' AnyNet convention; timm's ``bottle_ratio`` is ``1 / b``)
    bottleneck_ratio: float = 1.0
    #: channels per group of the 3x3 conv of bottleneck-style blocks; 0 = dense (one group); must
    #: divide the bottleneck width
    group_width: int = 0
    #: squeeze-excitation ratio in [0, 1); 0 = no SE.  What it is relative to (input, output or
    #: inner width) and how it is rounded is the block kind's rule (:mod:`designspace.rules`)
    se_ratio: float = 0.0
    #: kernel size of the depthwise conv of ``ds``/``mbconv`` blocks (odd)
    kernel_size: int = 3
    #: expansion ratio of ``mbconv`` blocks (inner width ``make_divisible(in * e)``)
    expand_ratio: float = 1.0
    #: projection shortcut when a block changes shape (:data:`SHORTCUTS`): ``conv`` (strided 1x1)
    #: or ``avgpool`` (ResNet-D: 2x2 average pool then 1x1)
    shortcut: str = "conv"
    #: anti-aliased downsampling (BlurPool after the strided conv's activation, TResNet)
    anti_alias: bool = False

    @property
    def bottleneck_width(self) -> int:
        """Inner width of bottleneck-style blocks: ``width / bottleneck_ratio``."""
        return int(round(self.width / self.bottleneck_ratio))

    @property
    def groups(self) -> int:
        """Number of groups of the 3x3 conv of bottleneck-style blocks."""
        return 1 if self.group_width == 0 else self.bottleneck_width // self.group_width


@dataclass(frozen=True)
class HeadSpec:
    """The classifier head: optional 1x1 conv-norm-act, global pool, dropout, linear."""

    #: width of a 1x1 conv-norm-act before pooling (EfficientNet's conv_head); 0 = none
    width: int = 0
    #: dropout probability before the linear classifier, in [0, 1) (timm's ``drop_rate``)
    dropout: float = 0.0
    #: global pooling (:data:`GLOBAL_POOLS`, timm's ``global_pool``): ``avg``, ``max``, ``avgmax``
    #: (their mean), ``catavgmax`` (both concatenated: twice the features) or ``''`` (none: the
    #: head returns the feature map, only with ``num_classes=0``, as in timm).  Written to JSON
    #: only when not ``avg``, so the ids of specs made before this field existed do not change.
    pool: str = "avg"


@dataclass(frozen=True)
class NetSpec:
    """A whole network: stem, stages, head, and what applies throughout.  Frozen, validated on
    construction (:class:`SpecError` naming the first bad field), JSON round-trip, stable :attr:`id`."""

    #: the stem (:class:`StemSpec`)
    stem: StemSpec
    #: the stages, in order (a tuple of :class:`StageSpec`; lists are accepted and converted)
    stages: tuple[StageSpec, ...]
    #: the classifier head (:class:`HeadSpec`)
    head: HeadSpec = field(default_factory=HeadSpec)
    #: input resolution (square images), at least the total stride
    resolution: int = 224
    #: classifier outputs; 0 = no classifier (the network returns its pooled features, timm's
    #: ``num_classes=0``)
    num_classes: int = 1000
    #: input channels (3 for RGB, 1 for grey images such as Fashion-MNIST)
    in_chans: int = 3
    #: activation used throughout (:data:`ACTIVATIONS`; TResNet: ``leaky_relu``)
    activation: str = "relu"
    #: normalisation layer (:data:`NORMS`)
    norm: str = "batchnorm"
    #: stochastic depth rate of the last block (linearly increasing from 0 over the blocks)
    drop_path_rate: float = 0.0

    def __post_init__(self) -> None:
        # Accept lists for convenience, but store tuples so specs stay hashable.
        if not isinstance(self.stages, tuple):
            object.__setattr__(self, "stages", tuple(self.stages))
        validate(self)

    # ------------------------------------------------------------------ derived
    @property
    def stride(self) -> int:
        """Total downsampling factor of the network."""
        s = self.stem.stride
        for st in self.stages:
            s *= st.stride
        return s

    @property
    def depth(self) -> int:
        return sum(st.depth for st in self.stages)

    @property
    def widths(self) -> list[int]:
        return [st.width for st in self.stages]

    @property
    def depths(self) -> list[int]:
        return [st.depth for st in self.stages]

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "stem": dataclasses.asdict(self.stem),
            "stages": [dataclasses.asdict(s) for s in self.stages],
            "head": head_dict(self.head),
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("stem", "stages", "head")},
        }

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys). ``NetSpec.from_json(s.to_json()) == s`` always holds."""
        if indent is None:
            return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @property
    def id(self) -> str:
        """Stable short hash (12 hex digits) of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "NetSpec":
        if not isinstance(d, Mapping):
            raise SpecError("", d, "is not a JSON object describing a NetSpec")
        d = dict(d)
        _check_keys(d, cls, "", required=("stem", "stages"))
        stem = _build(StemSpec, d.pop("stem"), "stem")
        stages_raw = d.pop("stages")
        if not isinstance(stages_raw, (list, tuple)):
            raise SpecError("stages", stages_raw, "must be a list of stage objects")
        stages = tuple(_build(StageSpec, s, f"stages[{i}]") for i, s in enumerate(stages_raw))
        head = _build(HeadSpec, d.pop("head", {}), "head")
        for k, v in d.items():
            _check_type(cls, k, v, k)
        return cls(stem=stem, stages=stages, head=head, **d)

    @classmethod
    def from_json(cls, s: str | bytes) -> "NetSpec":
        if not isinstance(s, (str, bytes, bytearray)):
            raise SpecError("json", s, "is not a JSON text (a str or bytes) describing a NetSpec")
        try:
            d = json.loads(s)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SpecError("json", _short(s), f"is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def replace(self, **changes: Any) -> "NetSpec":
        """A copy with top-level fields changed (validated again); an unknown field or a value of
        the wrong type raises :class:`SpecError` naming it."""
        for k, v in changes.items():
            if k not in _NET_FIELDS:
                raise SpecError(k, v, f"is not a field of NetSpec (fields: {', '.join(_NET_FIELDS)})")
            if k not in ("stem", "stages", "head"):
                _check_type(NetSpec, k, v, k)
        return dataclasses.replace(self, **changes)


def head_dict(head: HeadSpec) -> dict[str, Any]:
    """The head's JSON object: every field, except ``pool`` when it is the default ``avg`` (a
    field added later, left out so the ids of earlier specs stay the same)."""
    d = {"width": head.width, "dropout": head.dropout}
    if head.pool != "avg":
        d["pool"] = head.pool
    return d


_NET_FIELDS = ("stem", "stages", "head", "resolution", "num_classes", "in_chans", "activation", "norm", "drop_path_rate")


# ---------------------------------------------------------------------------- helpers
def _short(s: Any, n: int = 60) -> str:
    s = s.decode(errors="replace") if isinstance(s, bytes) else str(s)
    return s if len(s) <= n else s[: n - 3] + "..."


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
_TYPE_WORDS = {int: "must be an integer", float: "must be a number", str: "must be a string", bool: "must be true or false"}


def _field_type(cls: type, name: str) -> type | None:
    for f in fields(cls):
        if f.name == name:
            return _TYPES.get(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""))
    return None


def _check_type(cls: type, name: str, value: Any, path: str) -> None:
    t = _field_type(cls, name)
    if t is None:
        return
    if t is bool:
        ok = isinstance(value, bool)
    elif t is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif t is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, t)
    if not ok:
        raise SpecError(path, value, _TYPE_WORDS[t])


def _check_keys(d: Mapping[str, Any], cls: type, prefix: str, required: tuple[str, ...] = ()) -> None:
    names = {f.name for f in fields(cls)}
    for k in d:
        if k not in names:
            raise SpecError(f"{prefix}{k}", d[k], f"is not a field of {cls.__name__} (fields: {', '.join(sorted(names))})")
    for k in required:
        if k not in d:
            raise SpecError(f"{prefix}{k}", None, "is required")


def _build(cls: type, raw: Any, path: str) -> Any:
    if not isinstance(raw, Mapping):
        raise SpecError(path, raw, f"must be an object describing a {cls.__name__}")
    req = tuple(f.name for f in fields(cls) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    _check_keys(raw, cls, f"{path}.", required=req)
    kw = {}
    for k, v in raw.items():
        _check_type(cls, k, v, f"{path}.{k}")
        t = _field_type(cls, k)
        kw[k] = float(v) if t is float else v
    return cls(**kw)


def _require_int(path: str, v: Any, minimum: int | None = 1) -> None:
    if not isinstance(v, int) or isinstance(v, bool):
        raise SpecError(path, v, "must be an integer")
    if minimum is not None and v < minimum:
        raise SpecError(path, v, f"must be >= {minimum}")


def _require_choice(path: str, v: Any, choices: tuple[str, ...]) -> None:
    if v not in choices:
        raise SpecError(path, v, f"is not one of {', '.join(choices)}")


def _require_float(path: str, v: Any, lo: float, hi: float, hi_open: bool = True) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpecError(path, v, "must be a finite number")
    if v < lo or (v >= hi if hi_open else v > hi):
        raise SpecError(path, v, f"must be in [{lo}, {hi}{')' if hi_open else ']'}")


def validate(spec: NetSpec) -> None:
    """Check a spec; raise :class:`SpecError` naming the first bad field.  Runs in ``__init__``.

    Stem and block kinds come from the registry (:mod:`designspace.kinds`): a kind's unread
    fields must keep their defaults, and its own ``check`` runs last."""
    stem = spec.stem
    if not isinstance(stem, StemSpec):
        raise SpecError("stem", stem, "must be a StemSpec")
    skind = stem_kind(stem.kind, "stem.kind")
    _require_int("stem.width", stem.width)
    _require_choice("stem.pool", stem.pool, STEM_POOLS)
    _require_int("stem.deep_width", stem.deep_width, minimum=0)
    for name, default in STEM_DEFAULTS.items():
        if name not in skind.reads and getattr(stem, name) != default:
            if name == "deep_width":
                raise SpecError("stem.deep_width", stem.deep_width, f"applies only to a deep stem, not {stem.kind!r}")
            raise SpecError(f"stem.{name}", getattr(stem, name),
                            f"must be {default!r} for a {stem.kind} stem (it does not use it)")
    if skind.check is not None:
        skind.check(stem, "stem")

    if not isinstance(spec.head, HeadSpec):
        raise SpecError("head", spec.head, "must be a HeadSpec")
    _require_int("head.width", spec.head.width, minimum=0)
    _require_float("head.dropout", spec.head.dropout, 0.0, 1.0)
    if spec.head.pool not in GLOBAL_POOLS:
        raise SpecError("head.pool", spec.head.pool, f"is not one of {', '.join(map(repr, GLOBAL_POOLS))}")

    if len(spec.stages) == 0:
        raise SpecError("stages", list(spec.stages), "must hold at least one stage")
    for i, st in enumerate(spec.stages):
        p = f"stages[{i}]"
        if not isinstance(st, StageSpec):
            raise SpecError(p, st, "must be a StageSpec")
        kind = block_kind(st.block, f"{p}.block")
        _require_int(f"{p}.depth", st.depth)
        _require_int(f"{p}.width", st.width)
        _require_int(f"{p}.stride", st.stride)
        if st.stride not in (1, 2):
            raise SpecError(f"{p}.stride", st.stride, "must be 1 or 2")
        _require_int(f"{p}.kernel_size", st.kernel_size)
        if st.kernel_size % 2 == 0:
            raise SpecError(f"{p}.kernel_size", st.kernel_size, "must be odd")
        _require_float(f"{p}.se_ratio", st.se_ratio, 0.0, 1.0)
        _require_float(f"{p}.expand_ratio", st.expand_ratio, 1.0, 64.0, hi_open=False)
        _require_float(f"{p}.bottleneck_ratio", st.bottleneck_ratio, 1e-9, 64.0, hi_open=False)
        _require_int(f"{p}.group_width", st.group_width, minimum=0)
        _require_choice(f"{p}.shortcut", st.shortcut, SHORTCUTS)
        if not isinstance(st.anti_alias, bool):
            raise SpecError(f"{p}.anti_alias", st.anti_alias, "must be true or false")
        for name, fixed in STAGE_DEFAULTS.items():
            if name not in kind.reads and getattr(st, name) != fixed:
                raise SpecError(f"{p}.{name}", getattr(st, name), f"must be {fixed!r} for {st.block} blocks (they do not use it)")
        mid = st.width / st.bottleneck_ratio
        if abs(mid - round(mid)) > 1e-9 or round(mid) < 1:
            raise SpecError(f"{p}.bottleneck_ratio", st.bottleneck_ratio, f"does not divide width {st.width} into an integer bottleneck width")
        if st.group_width:
            mid_i = int(round(mid))
            if mid_i % st.group_width:
                what = f"width {st.width}" if mid_i == st.width else f"bottleneck width {mid_i}"
                raise SpecError(f"{p}.group_width", st.group_width, f"does not divide {what}")
        if kind.check is not None:
            kind.check(st, p)

    _require_int("resolution", spec.resolution)
    _require_int("num_classes", spec.num_classes, minimum=0)
    if spec.head.pool == "" and spec.num_classes:
        raise SpecError("head.pool", "", f"(no pooling) needs num_classes=0, not {spec.num_classes}: a linear "
                        "classifier reads pooled features (timm's rule)")
    _require_int("in_chans", spec.in_chans)
    _require_choice("activation", spec.activation, ACTIVATIONS)
    _require_choice("norm", spec.norm, NORMS)
    _require_float("drop_path_rate", spec.drop_path_rate, 0.0, 1.0)
    if spec.resolution < spec.stride:
        raise SpecError("resolution", spec.resolution, f"is too small for the network's total stride {spec.stride}")
    if spec.resolution % skind.input_multiple:
        raise SpecError("resolution", spec.resolution,
                        f"must be a multiple of {skind.input_multiple} for a {_STEM_NAMES.get(stem.kind, stem.kind)} stem")


_STEM_NAMES = {"s2d": "SpaceToDepth"}
