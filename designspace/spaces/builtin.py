"""The built-in design spaces.

* **AnyNetX_A ... AnyNetX_E** (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020,
  Sec. 3.1-3.2): a simple stem (3x3, stride 2, width 32), four stages of X blocks (``regnet``
  blocks without SE), each stage stride 2 with depth ``d_i <= 16``, width ``w_i <= 1024`` a
  multiple of 8, bottleneck ratio ``b_i in {1, 2, 4}`` and group width ``g_i in {1, 2, ..., 32}``
  (powers of two: the paper's 16*128*3*6 values per stage).  B shares ``b`` across stages, C
  also shares ``g``, D adds non-decreasing widths, E non-decreasing depths.  Depths, ratios and
  group widths are uniform over their sets, widths log-uniform over the multiples of 8 (as
  pycls' samplers draw widths; uniform widths put most models far above the paper's 400MF
  regime); D and E sort the drawn widths/depths.  A group width larger than the
  bottleneck width is capped and the bottleneck width rounded to a multiple of it, as pycls'
  ``adjust_block_compatibility`` does.
* **RegNet, RegNetX, RegNetY** (Sec. 4): ``w0, wa, wm, depth, group_width`` (and ``b``) drawn as
  pycls' ``regnet_sampler`` draws them (depth uniform, w0/wa/wm log-uniform quantized to 8, 0.1
  and 0.001, group width a power of two), fed to :func:`designspace.families.regnet`; models
  whose quantized widths do not form 4 stages are outside the space (as in the paper, whose
  AnyNet and RegNet models all have 4 stages).  ``regnet`` is the Sec. 4 space (``d < 64,
  w0, wa < 256, 1.5 <= wm <= 3``, ``b in {1, 2, 4}``); ``regnetx`` is its refinement
  (``b = 1, 12 <= d <= 28, wm >= 2``, Sec. 4 / Fig. 9); ``regnety`` adds SE with ratio 0.25.
* **EfficientNet** (Tan & Le, ICML 2019, Eq. 3): compound coefficient ``phi`` and the
  depth/width coefficients ``alpha >= 1, beta >= 1``; ``gamma`` is set so that
  ``alpha * beta**2 * gamma**2 = 2`` (rounded to 4 decimals), draws with ``alpha * beta**2 > 2``
  are outside the space; the resolution is ``224 * gamma**phi``.
* **EfficientNet scaling** (Tan & Le, ICML 2019, Sec. 3.3 and Fig. 3/8): one base network
  (``base_width``, ``base_depth`` multipliers of B0 at ``base_resolution``) scaled by ``phi`` along
  one ``scaling`` method, each growing FLOPs by about ``2 ** phi``: ``compound`` (depth
  ``alpha**phi``, width ``beta**phi``, resolution ``gamma**phi``), ``width`` (``sqrt(2)**phi``),
  ``depth`` (``2**phi``) or ``resolution`` (``sqrt(2)**phi``).  The space's resolution, when
  set (``--resolution``, a study's data set), is the *base* resolution; every spec carries its
  own scaled one (:attr:`Space.scales_resolution`).
* **ResNet-RS** (Bello et al., NeurIPS 2021, Sec. 7): depth x width multiplier x resolution;
  the width multiplier scales every stage width (the stem is kept).
* **ResNet scaling** (Bello et al., NeurIPS 2021, Sec. 7: "depth scaling outperforms width
  scaling for longer epoch regimes", width scaling wins on short ones): one small ResNet-RS-style
  base (ResNet-D stem and shortcuts, SE 0.25, ``base_depth`` basic blocks per stage of
  ``base_width * 2**i`` planes) scaled by ``phi`` along one ``scaling`` method, each growing
  FLOPs by about ``2 ** phi``: ``depth`` (blocks per stage ``round(base_depth * 2**phi)``) or
  ``width`` (planes times ``sqrt(2)**phi``); the stem is kept, as in ``resnet_rs``.
* **ResNet / ResNeXt** (Radosavovic et al., "On Network Design Spaces for Visual Recognition",
  ICCV 2019, the ResNet and ResNeXt-A/B spaces): a ResNet stem (7x7, max-pool), four stages of
  bottleneck blocks with per-stage depth ``d_i <= 16`` (uniform) and output width ``w_i`` in
  64..2048 (multiples of 64, log-uniform); ResNet has ``b = 4`` and a dense 3x3; ResNeXt draws ``b_i in {1, 2, 4}`` and
  groups ``g_i in {1, 2, 4, 8, 16}`` per stage.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, ClassVar, Mapping

import numpy as np

from ..geometry import cifar_strides
from ..spec import NetSpec, SpecError, StageSpec, StemSpec
from .base import Batch, Infeasible, Space, SpaceError
from .domains import Choice, Domain, Float, Int
from .tables import TableJSON, anynet_tables, regnet_tables, table_complexity, table_spec, table_valid

__all__ = ["AnyNetX", "RegNet", "EfficientNet", "EfficientNetScaling", "ResNetRS", "ResNetScaling", "ResNeXt", "NDSVanilla", "BUILTIN"]

_REGNET_PAPER = "Radosavovic et al., Designing Network Design Spaces, CVPR 2020"
_NDS_PAPER = "Radosavovic et al., On Network Design Spaces for Visual Recognition, ICCV 2019"
POW2_GROUP_WIDTHS = (1, 2, 4, 8, 16, 32)


class _TableSpace(Space):
    """Spaces of networks of one block kind: evaluated in numpy (:mod:`.tables`)."""

    vectorised = True
    #: resolution when the space is not configured with one
    default_resolution: ClassVar[int] = 224

    def _tables(self, cols: Mapping[str, np.ndarray]):  # -> (ok, StageTable)
        raise NotImplementedError

    def _geometry_tables(self, cols: Mapping[str, np.ndarray]):  # -> (ok, StageTable)
        """:meth:`_tables` with the stem and strides of the space's geometry."""
        ok, t = self._tables(cols)
        if self.geometry == "cifar" and t.stride > 1 and t.stem.stride > 1:
            t.strides = cifar_strides(t.stem.stride, t.strides)
            t.stem_kind = "cifar"
        return ok, t

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        cols = {k: np.asarray([v]) for k, v in p.items()}
        ok, t = self._geometry_tables(cols)
        if not ok[0]:
            raise Infeasible(f"{dict(p)} is outside space {self.name}")
        return table_spec(t, 0, self.resolution or self.default_resolution, self.num_classes, self.in_chans)

    def evaluate(self, u: np.ndarray, cache: dict | None = None) -> Batch:
        cols = self.columns(u)
        ok, t = self._geometry_tables(cols)
        ok &= table_valid(t)
        res = self.resolution or self.default_resolution
        stride = t.stride
        if res < stride:
            raise SpecError("resolution", res, f"is too small for the network's total stride {stride}")
        flops, params, acts = table_complexity(t, res, self.num_classes, self.in_chans)
        n = len(ok)
        js = TableJSON(t, res, self.num_classes, self.in_chans)
        return Batch(_LazyRows(cols), ok, np.full(n, res, dtype=np.int64), flops, params, acts,
                     lambda i: table_spec(t, i, res, self.num_classes, self.in_chans), js)


class _LazyRows:
    """Row ``i`` of parameter columns as a dict of plain Python values, built on access."""

    def __init__(self, cols: Mapping[str, np.ndarray]):
        self.names = list(cols)
        self.cols = cols
        self.lists: list[list] | None = None

    def __len__(self) -> int:
        return len(self.cols[self.names[0]])

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self.lists is None:
            self.lists = [self.cols[k].tolist() for k in self.names]
        return {k: v[i] for k, v in zip(self.names, self.lists)}


@dataclass(frozen=True)
class AnyNetX(_TableSpace):
    variant: str = "a"
    num_stages: int = 4

    @cached_property
    def params(self) -> dict[str, Domain]:
        s = range(1, self.num_stages + 1)
        out: dict[str, Domain] = {f"d{i}": Int(1, 16) for i in s}
        out.update({f"w{i}": Int(8, 1024, step=8, log=True) for i in s})
        bs = Choice((1, 2, 4))
        gs = Choice(POW2_GROUP_WIDTHS)
        out.update({"b": bs} if self.variant in "bcde" else {f"b{i}": bs for i in s})
        out.update({"g": gs} if self.variant in "cde" else {f"g{i}": gs for i in s})
        return out

    def _per_stage(self, cols: Mapping[str, np.ndarray], key: str) -> np.ndarray:
        if key in cols:
            return np.repeat(np.asarray(cols[key]).reshape(-1, 1), self.num_stages, axis=1)
        return np.stack([np.asarray(cols[f"{key}{i}"]) for i in range(1, self.num_stages + 1)], axis=1)

    def canonical(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for key, variants in (("w", "de"), ("d", "e")):
            if self.variant in variants:
                m = np.sort(self._per_stage(cols, key), axis=1)
                for i in range(self.num_stages):
                    cols[f"{key}{i + 1}"] = m[:, i]
        return cols

    def _tables(self, cols):
        t = anynet_tables(*(self._per_stage(cols, k) for k in "dwbg"))
        return t.ok.copy(), t


@dataclass(frozen=True)
class NDSVanilla(_TableSpace):
    """The NDS paper's Vanilla design space (Radosavovic et al., ICCV 2019): plain, non-residual
    networks of ``vanilla`` blocks ([3x3 conv, BN, ReLU] x 2), so comparing it with a residual
    space shows what the shortcut buys.  Layout of pycls' V-56 (the Vanilla network of the NDS
    CIFAR experiments): a 3x3 stride-1 ``cifar`` stem of width 16, three stages at strides 1, 2,
    2.  Free parameters per stage: depth ``d_i`` in 1..16 and width ``w_i`` in 16..256 (multiples
    of 8, log-uniform), the per-stage domains the AnyNetX spaces use here; default resolution 32."""

    num_stages: int = 3
    stem_width: int = 16
    default_resolution: ClassVar[int] = 32

    @cached_property
    def params(self) -> dict[str, Domain]:
        s = range(1, self.num_stages + 1)
        out: dict[str, Domain] = {f"d{i}": Int(1, 16) for i in s}
        out.update({f"w{i}": Int(16, 256, step=8, log=True) for i in s})
        return out

    def _tables(self, cols):
        n = self.num_stages
        d = np.stack([np.asarray(cols[f"d{i}"]) for i in range(1, n + 1)], axis=1)
        w = np.stack([np.asarray(cols[f"w{i}"]) for i in range(1, n + 1)], axis=1)
        ones = np.ones_like(d)
        t = anynet_tables(d, w, ones, ones * 0, stem_width=self.stem_width, block="vanilla", stem="cifar",
                          strides=(1,) + (2,) * (n - 1))
        return t.ok.copy(), t


@dataclass(frozen=True)
class RegNet(_TableSpace):
    depth: Domain = Int(12, 28)
    w0: Domain = Int(8, 248, step=8, log=True)
    wa: Domain = Float(0.1, 255.9, step=0.1, log=True)
    wm: Domain = Float(2.0, 3.0, step=0.001, log=True)
    group_width: Domain = Choice(POW2_GROUP_WIDTHS)
    bottleneck_ratio: Domain | None = None  # None: b = 1
    se_ratio: float = 0.0
    num_stages: int = 4

    @cached_property
    def params(self) -> dict[str, Domain]:
        out: dict[str, Domain] = {"depth": self.depth, "w0": self.w0, "wa": self.wa, "wm": self.wm,
                                  "group_width": self.group_width}
        if self.bottleneck_ratio is not None:
            out["bottleneck_ratio"] = self.bottleneck_ratio
        return out

    def _tables(self, cols):
        b = cols["bottleneck_ratio"] if "bottleneck_ratio" in cols else 1
        return regnet_tables(np.asarray(cols["w0"]), np.asarray(cols["wa"], dtype=np.float64),
                             np.asarray(cols["wm"], dtype=np.float64), np.asarray(cols["depth"]),
                             np.asarray(cols["group_width"]), b, stages=self.num_stages, se_ratio=self.se_ratio)

    def family_kwargs(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """The :func:`designspace.families.regnet` call that this assignment stands for."""
        kw = {k: p[k] for k in ("w0", "wa", "wm", "depth", "group_width")}
        kw.update(bottleneck_ratio=float(p.get("bottleneck_ratio", 1)), se_ratio=self.se_ratio,
                  resolution=self.resolution or 224, num_classes=self.num_classes)
        return kw


@dataclass(frozen=True)
class EfficientNet(Space):
    phi: Domain = Float(0.0, 4.0, step=0.1)
    alpha: Domain = Float(1.0, 2.0, step=0.01)
    beta: Domain = Float(1.0, 1.41, step=0.01)
    base_resolution: int = 224
    dropout: float = 0.2

    @cached_property
    def params(self) -> dict[str, Domain]:
        return {"phi": self.phi, "alpha": self.alpha, "beta": self.beta}

    def canonical(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.resolution is not None:
            return cols
        a, b = np.asarray(cols["alpha"], dtype=np.float64), np.asarray(cols["beta"], dtype=np.float64)
        cols["gamma"] = np.round(np.sqrt(2.0 / np.maximum(a * b * b, 1.0)), 4)
        return cols

    def feasible(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        a, b = np.asarray(cols["alpha"], dtype=np.float64), np.asarray(cols["beta"], dtype=np.float64)
        return a * b * b <= 2.0

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        from .. import families

        phi, a, b = p["phi"], p["alpha"], p["beta"]
        if a * b * b > 2.0:
            raise Infeasible(f"alpha * beta**2 = {a * b * b:.4f} > 2 leaves no gamma >= 1")
        g = p.get("gamma", round(math.sqrt(2.0 / (a * b * b)), 4))
        if self.resolution is not None:
            return families.efficientnet(width_mult=b**phi, depth_mult=a**phi, resolution=self.resolution,
                                         dropout=self.dropout, num_classes=self.num_classes)
        return families.efficientnet_compound(phi, a, b, g, base_resolution=self.base_resolution,
                                              dropout=self.dropout, num_classes=self.num_classes)


#: the scaling methods of :class:`EfficientNetScaling`, compound first
SCALINGS = ("compound", "width", "depth", "resolution")


@dataclass(frozen=True)
class EfficientNetScaling(Space):
    scaling: Domain = Choice(SCALINGS)
    phi: Domain = Float(0.0, 2.0, step=0.25)
    base_width: float = 1.0
    base_depth: float = 1.0
    base_resolution: int = 224
    alpha: float = 1.2
    beta: float = 1.1
    gamma: float = 1.15
    dropout: float = 0.2
    scales_resolution = True  # the configured resolution is the base; specs carry their own

    def __post_init__(self) -> None:
        for k in ("base_width", "base_depth"):
            if not getattr(self, k) > 0:
                raise SpaceError(f"{k}={getattr(self, k)!r} must be > 0")
        for k in ("alpha", "beta", "gamma"):
            if not getattr(self, k) >= 1:
                raise SpaceError(f"{k}={getattr(self, k)!r} must be >= 1 (Tan & Le 2019, Eq. 3)")
        if not self.base_resolution >= 32:
            raise SpaceError(f"base_resolution={self.base_resolution!r} must be >= 32 (EfficientNet's total stride)")

    @cached_property
    def params(self) -> dict[str, Domain]:
        return {"scaling": self.scaling, "phi": self.phi}

    def multipliers(self, scaling: str, phi: float) -> tuple[float, float, int]:
        """(width multiplier, depth multiplier, resolution) of ``scaling`` at ``phi``."""
        w, d, r = self.base_width, self.base_depth, float(self.resolution or self.base_resolution)
        if scaling == "compound":
            w, d, r = w * self.beta**phi, d * self.alpha**phi, r * self.gamma**phi
        elif scaling == "width":
            w *= 2 ** (phi / 2)
        elif scaling == "depth":
            d *= 2**phi
        elif scaling == "resolution":
            r *= 2 ** (phi / 2)
        else:
            raise Infeasible(f"scaling={scaling!r} is not one of {', '.join(SCALINGS)}")
        return w, d, int(math.floor(r + 0.5))

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        from .. import families

        w, d, r = self.multipliers(p["scaling"], float(p["phi"]))
        return families.efficientnet(width_mult=w, depth_mult=d, resolution=r, dropout=self.dropout,
                                     num_classes=self.num_classes)


@dataclass(frozen=True)
class ResNetRS(Space):
    depth: Domain = Choice((50, 101, 152, 200, 270, 350, 420))
    width: Domain = Choice((0.25, 0.5, 1.0, 1.5, 2.0))
    resolutions: Domain = Choice((128, 160, 192, 224, 256, 320))

    @cached_property
    def params(self) -> dict[str, Domain]:
        out: dict[str, Domain] = {"depth": self.depth, "width": self.width}
        if self.resolution is None:
            out["resolution"] = self.resolutions
        return out

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        from .. import families

        res = self.resolution or p["resolution"]
        return families.resnet_rs(p["depth"], resolution=res, num_classes=self.num_classes, width_mult=float(p["width"]))


@dataclass(frozen=True)
class ResNetScaling(Space):
    """One base network, or ``bases`` random ones, scaled by ``phi`` in depth or width.

    ``bases = 0`` (the default): the base has ``base_depth`` blocks in each stage and
    ``base_width`` planes in the first.  ``bases = N``: N bases drawn once, from ``base_seed``,
    with per-stage depths uniform in ``BASE_DEPTHS`` and first-stage planes uniform in
    ``BASE_WIDTHS`` (distinct: a repeated draw is drawn again); the free parameter ``base`` (0..N-1) picks one, so a study with a random
    sampler and ``n_trials`` = the number of distinct networks trains every base at every
    (scaling, phi), and each base network is a unit of the analysis.  ``phi_step`` sets the grid
    of ``phi`` in [0, 2]."""

    scaling: Domain = Choice(("depth", "width"))
    base_depth: int = 2
    base_width: int = 16
    stem_width: int = 16
    se_ratio: float = 0.25
    bases: int = 0
    base_seed: int = 0
    phi_step: float = 0.5

    BASE_DEPTHS: ClassVar[tuple[int, ...]] = (1, 2)
    BASE_WIDTHS: ClassVar[tuple[int, ...]] = (6, 8, 10)

    def __post_init__(self) -> None:
        for k in ("base_depth", "base_width", "stem_width"):
            if not getattr(self, k) >= 1:
                raise SpaceError(f"{k}={getattr(self, k)!r} must be >= 1")
        if not 0 <= self.se_ratio < 1:
            raise SpaceError(f"se_ratio={self.se_ratio!r} must be in [0, 1)")
        most = len(self.BASE_DEPTHS) ** 4 * len(self.BASE_WIDTHS)
        if not 0 <= self.bases <= most:
            raise SpaceError(f"bases={self.bases!r} must be in 0..{most} (the distinct random bases; "
                             "0: the one base of base_depth, base_width)")
        if not (self.phi_step > 0 and abs(2.0 / self.phi_step - round(2.0 / self.phi_step)) < 1e-9):
            raise SpaceError(f"phi_step={self.phi_step!r} must divide 2 (e.g. 0.5, 1.0)")

    @cached_property
    def params(self) -> dict[str, Domain]:
        out: dict[str, Domain] = {"base": Int(0, self.bases - 1)} if self.bases else {}
        return {**out, "scaling": self.scaling, "phi": Float(0.0, 2.0, step=self.phi_step)}

    @cached_property
    def base_networks(self) -> tuple[tuple[tuple[int, ...], int], ...]:
        """The ``(per-stage depths, first-stage planes)`` of each base."""
        if not self.bases:
            return (((self.base_depth,) * 4, self.base_width),)
        rng = np.random.default_rng(self.base_seed)
        out: dict = {}  # distinct bases, in draw order
        while len(out) < self.bases:
            b = (tuple(int(d) for d in rng.choice(self.BASE_DEPTHS, 4)), int(rng.choice(self.BASE_WIDTHS)))
            out.setdefault(b, None)
        return tuple(out)

    def multipliers(self, scaling: str, phi: float, depths: tuple[int, ...] | None = None
                    ) -> tuple[tuple[int, ...], float]:
        """(blocks per stage, width multiplier) of ``scaling`` at ``phi``."""
        depths = depths or (self.base_depth,) * 4
        if scaling == "depth":
            return tuple(max(1, int(math.floor(d * 2**phi + 0.5))) for d in depths), 1.0
        if scaling == "width":
            return depths, 2 ** (phi / 2)
        raise Infeasible(f"scaling={scaling!r} is not one of depth, width")

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        from .. import families

        depths, width = self.base_networks[int(p.get("base", 0))]
        d, w = self.multipliers(p["scaling"], float(p["phi"]), depths)
        return families.resnet(layers=d, block="basic", width=width, width_mult=w,
                               variant="d", se_ratio=self.se_ratio, stem="resnet", stem_width=self.stem_width,
                               resolution=self.resolution or 224, num_classes=self.num_classes)


@dataclass(frozen=True)
class ResNeXt(Space):
    grouped: bool = False
    num_stages: int = 4

    @cached_property
    def params(self) -> dict[str, Domain]:
        s = range(1, self.num_stages + 1)
        out: dict[str, Domain] = {f"d{i}": Int(1, 16) for i in s}
        out.update({f"w{i}": Int(64, 2048, step=64, log=True) for i in s})
        if self.grouped:
            out.update({f"b{i}": Choice((1, 2, 4)) for i in s})
            out.update({f"g{i}": Choice((1, 2, 4, 8, 16)) for i in s})
        return out

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        stages = []
        for i in range(1, self.num_stages + 1):
            w, b, g = p[f"w{i}"], p.get(f"b{i}", 4), p.get(f"g{i}", 1)
            mid = w // b
            stages.append(StageSpec(block="bottleneck", depth=p[f"d{i}"], width=w, stride=1 if i == 1 else 2,
                                    bottleneck_ratio=float(b), group_width=0 if g == 1 else mid // g))
        return NetSpec(stem=StemSpec(kind="resnet", width=64, pool="max"), stages=tuple(stages),
                       resolution=self.resolution or 224, num_classes=self.num_classes)


def _anynet(v: str, what: str) -> AnyNetX:
    return AnyNetX(name=f"anynetx_{v}", title=f"AnyNetX{v.upper()}: 4 stages of X blocks, {what}",
                   reference=_REGNET_PAPER + ", Sec. 3", variant=v)


#: name -> space (default resolution 224 where the space does not sample it, 1000 classes)
BUILTIN: dict[str, Space] = {s.name: s for s in (
    _anynet("a", "per-stage d, w, b, g"),
    _anynet("b", "shared bottleneck ratio b"),
    _anynet("c", "shared b and group width g"),
    _anynet("d", "shared b, g; non-decreasing widths"),
    _anynet("e", "shared b, g; non-decreasing widths and depths"),
    RegNet(name="regnet", title="RegNet: w0, wa, wm, depth, group width, bottleneck ratio (4 stages)",
           reference=_REGNET_PAPER + ", Sec. 4", depth=Int(1, 63), wm=Float(1.5, 3.0, step=0.001, log=True),
           bottleneck_ratio=Choice((1, 2, 4))),
    RegNet(name="regnetx", title="RegNetX: b = 1, 12 <= d <= 28, 2 <= wm <= 3 (4 stages)",
           reference=_REGNET_PAPER + ", Sec. 4"),
    RegNet(name="regnety", title="RegNetY: RegNetX with squeeze-excitation (ratio 0.25)",
           reference=_REGNET_PAPER + ", Sec. 5", se_ratio=0.25),
    EfficientNet(name="efficientnet", title="EfficientNet compound scaling: phi, alpha, beta (gamma from a*b^2*g^2 = 2)",
                 reference="Tan & Le, EfficientNet, ICML 2019, Eq. 3"),
    EfficientNetScaling(name="efficientnet_scaling",
                        title="EfficientNet scaling of B0 by phi: compound vs width, depth or resolution alone",
                        reference="Tan & Le, EfficientNet, ICML 2019, Sec. 3.3, Fig. 3 and 8"),
    ResNetRS(name="resnet_rs", title="ResNet-RS: depth x width multiplier x resolution",
             reference="Bello et al., Revisiting ResNets, NeurIPS 2021, Sec. 7"),
    ResNetScaling(name="resnet_scaling", title="ResNet scaling of a small ResNet-RS-style base by phi: depth vs width",
                  reference="Bello et al., Revisiting ResNets, NeurIPS 2021, Sec. 7"),
    ResNeXt(name="resnet", title="ResNet: per-stage depth and width, bottleneck ratio 4, dense 3x3",
            reference=_NDS_PAPER),
    ResNeXt(name="resnext", title="ResNeXt: per-stage depth, width, bottleneck ratio and groups",
            reference=_NDS_PAPER, grouped=True),
    NDSVanilla(name="nds_vanilla", title="NDS Vanilla: 3 stages of plain (non-residual) blocks, per-stage d and w",
               reference=_NDS_PAPER + " (Vanilla design space; pycls V-56 layout)"),
)}
