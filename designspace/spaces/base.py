"""The :class:`Space` protocol shared by the built-in spaces and the TOML ones.

A space is a set of named free parameters, each with a :mod:`domain <designspace.spaces.domains>`,
and a pure function from one assignment of them to a :class:`NetSpec`.  It is used two ways that
share this one definition:

* ``space.sample(rng, n)`` draws ``n`` assignments at once (vectorised with numpy: each domain
  maps a column of uniform numbers to values) and returns ``n`` :class:`Sample` s;
* ``space.suggest(trial)`` draws the same named parameters from the same domains through an
  Optuna trial and returns the spec.

Some assignments are outside a space although each value is inside its domain (a RegNet whose
quantized widths do not make 4 stages, EfficientNet coefficients with ``alpha * beta**2 > 2``).
``sample`` redraws them; ``suggest`` raises ``optuna.TrialPruned`` (the study records the trial
as pruned and the sampler learns to avoid the region).  Complexity regimes (``--flops`` ...) are
not part of a space: :func:`designspace.spaces.sample_records` enforces them by rejection, and a
study enforces them the same way, by pruning a trial whose spec is outside the regime
(``Regime.admits(spec.resolution, designspace.count(spec))``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping, NamedTuple

import numpy as np

from ..errors import InputError
from ..geometry import GEOMETRIES, apply_geometry
from ..spec import NetSpec
from .domains import Domain

__all__ = ["Space", "Sample", "Batch", "Infeasible", "SpaceError", "RESERVED"]

#: record columns that a free parameter may not be called
RESERVED = ("space", "id", "flops", "params", "acts", "spec")


class Infeasible(ValueError):
    """Parameters each inside their domain whose combination is outside the space."""


class SpaceError(InputError):
    """A space that cannot be used: unknown name, bad TOML file, unreachable regime."""


class Sample(NamedTuple):
    params: dict[str, Any]
    spec: NetSpec


class Batch(NamedTuple):
    """A batch of draws evaluated at once: ``rows[i]`` are the parameters, ``ok[i]`` whether they
    are inside the space, then per-row resolution and complexity (0 where not ok), and
    ``spec(i)`` builds row ``i``'s spec (lazily, so rejected rows cost no spec)."""

    rows: list
    ok: np.ndarray
    resolution: np.ndarray
    flops: np.ndarray
    params: np.ndarray
    acts: np.ndarray
    spec: Callable[[int], NetSpec]
    #: row ``i``'s canonical spec JSON without building the spec (``None``: via ``spec(i)``)
    json: Callable[[int], str] | None = None


@dataclass(frozen=True)
class Space:
    """Base class: subclasses set :attr:`params` and implement :meth:`build`.

    ``resolution`` (when not ``None``) fixes the input resolution of every spec, replacing a
    resolution the space would otherwise sample or derive; ``num_classes`` sets the classifier.
    A space whose class sets ``scales_resolution = True`` treats ``resolution`` as the *base*
    resolution that its scaling rule grows: its specs carry their own resolution, and a study
    trains each at that resolution.
    """

    scales_resolution: ClassVar[bool] = False

    name: str = ""
    title: str = ""
    reference: str = ""
    resolution: int | None = None
    num_classes: int = 1000
    #: input channels of every spec (1 for grey data such as Fashion-MNIST)
    in_chans: int = 3
    #: where the networks downsample (:mod:`designspace.geometry`): ``imagenet`` (the family's
    #: own stem and strides) or ``cifar`` (3x3 stride-1 stem, total stride 8: 4x4 at 32 px)
    geometry: str = "imagenet"

    # ------------------------------------------------------------------ to override
    @property
    def params(self) -> dict[str, Domain]:
        """The free parameters, in record-column order."""
        raise NotImplementedError

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        """The spec of one assignment; raises :class:`Infeasible` outside the space."""
        raise NotImplementedError

    def feasible(self, cols: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Vectorised pre-check of drawn columns (``None``: all feasible as far as known)."""
        return None

    def canonical(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Rewrite drawn columns into the values the spec uses (e.g. sorted per-stage widths)."""
        return cols

    # ------------------------------------------------------------------- shared
    def configure(self, resolution: int | None = None, num_classes: int | None = None,
                  in_chans: int | None = None) -> "Space":
        """A copy with the resolution fixed and/or another number of classes or input channels."""
        changes: dict[str, Any] = {}
        if resolution is not None:
            changes["resolution"] = resolution
        if num_classes is not None:
            changes["num_classes"] = num_classes
        if in_chans is not None:
            changes["in_chans"] = in_chans
        return dataclasses.replace(self, **changes) if changes else self

    def spec_of(self, p: Mapping[str, Any]) -> NetSpec:
        """:meth:`build`, at the space's input channels."""
        spec = apply_geometry(self.build(p), self.geometry)
        return spec if spec.in_chans == self.in_chans else spec.replace(in_chans=self.in_chans)

    def with_options(self, options: Mapping[str, Any]) -> "Space":
        """A copy with some of the space's scalar settings changed (e.g. ``base_width`` of
        ``efficientnet_scaling``, ``se_ratio`` of ``regnet``); raises :class:`SpaceError` naming
        an unknown option or a value of the wrong type.  Domains of the free parameters and the
        identity fields (name, resolution, classes) are not options."""
        fixed = ("name", "title", "reference", "resolution", "num_classes", "in_chans")
        allowed = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                   if f.name not in fixed and isinstance(getattr(self, f.name), (bool, int, float, str))}
        changes: dict[str, Any] = {}
        for k, v in options.items():
            if k not in allowed:
                raise SpaceError(f"{k}={v!r} is not an option of space {self.name} "
                                 f"(options: {', '.join(sorted(allowed)) or 'none'})")
            cur = allowed[k]
            numeric = isinstance(cur, float) and isinstance(v, int) and not isinstance(v, bool)
            if type(v) is not type(cur) and not numeric:
                kind = type(cur).__name__
                raise SpaceError(f"{k}={v!r} must be {'an' if kind == 'int' else 'a'} {kind}, like the default {cur!r}")
            if k == "geometry" and v not in GEOMETRIES:
                raise SpaceError(f"geometry={v!r} is not one of {', '.join(GEOMETRIES)}")
            changes[k] = float(v) if numeric else v
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def dim(self) -> int:
        return len(self.params)

    def columns(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Map a ``(n, dim)`` array of uniforms to parameter columns (canonical, not filtered)."""
        cols = {name: dom.values(u[:, j]) for j, (name, dom) in enumerate(self.params.items())}
        return self.canonical(cols)

    def rows(self, u: np.ndarray) -> Iterator[dict[str, Any] | None]:
        """One parameter dict per row of ``u`` (plain Python values); ``None`` where a
        vectorised pre-check already shows the row is outside the space."""
        cols = self.columns(u)
        mask = self.feasible(cols)
        names = list(cols)
        lists = [cols[k].tolist() for k in names]
        ok = mask.tolist() if mask is not None else None
        for i, vals in enumerate(zip(*lists)):
            yield dict(zip(names, vals)) if ok is None or ok[i] else None

    #: whether :meth:`evaluate` is vectorised (large batches are then cheap)
    vectorised = False

    def evaluate(self, u: np.ndarray, cache: dict | None = None) -> Batch:
        """Build and count the specs of a batch of uniforms (one spec per row, cached by the
        parameter values in ``cache``, which the caller keeps for one sampling run)."""
        from ..complexity import count

        cache = {} if cache is None else cache
        rows = list(self.rows(u))
        n = len(rows)
        ok = np.zeros(n, dtype=bool)
        res, fl, pa, ac = (np.zeros(n, dtype=np.int64) for _ in range(4))
        specs: list[NetSpec | None] = [None] * n
        for i, p in enumerate(rows):
            if p is None:
                continue
            key = tuple(p.values())
            hit = cache.get(key)
            if hit is None:
                try:
                    spec = self.spec_of(p)
                    hit = (spec, count(spec))
                except Infeasible:
                    hit = (None, None)
                cache[key] = hit
            spec, cx = hit
            if spec is None:
                continue
            ok[i], specs[i] = True, spec
            res[i], fl[i], pa[i], ac[i] = spec.resolution, cx.flops, cx.params, cx.acts
        return Batch(rows, ok, res, fl, pa, ac, specs.__getitem__)

    def sample(self, rng: np.random.Generator, n: int, max_draws: int | None = None) -> list[Sample]:
        """``n`` samples in draw order (redrawing assignments outside the space), without a
        complexity regime; uses the same vectorised :meth:`evaluate` as ``designspace sample``."""
        out: list[Sample] = []
        drawn, limit = 0, max_draws if max_draws is not None else max(1000, 1000 * n)
        cache: dict = {}
        while len(out) < n and drawn < limit:
            b = min(max(2 * (n - len(out)), 16), limit - drawn)
            ev = self.evaluate(rng.random((b, self.dim)), cache)
            drawn += b
            for i in np.flatnonzero(ev.ok).tolist():
                out.append(Sample(dict(ev.rows[i]), ev.spec(i)))
                if len(out) == n:
                    break
        if len(out) < n:
            raise Infeasible(f"space {self.name}: only {len(out)} of {n} draws were inside the space after {drawn} tries")
        return out

    def suggest(self, trial: Any) -> NetSpec:
        """Draw the free parameters through an Optuna trial and return the spec.

        The values the spec uses (after :meth:`canonical`) are stored in the trial's user
        attribute ``"space_params"`` (a study stores the spec's parameter count as ``"params"``).
        Raises ``optuna.TrialPruned`` for an assignment outside the space.
        """
        raw = {name: dom.suggest(trial, name) for name, dom in self.params.items()}
        cols = self.canonical({k: np.asarray([v], dtype=object if isinstance(v, str) else None) for k, v in raw.items()})
        p = {k: v.tolist()[0] for k, v in cols.items()}
        mask = self.feasible(cols)
        try:
            if mask is not None and not bool(mask[0]):
                raise Infeasible(f"{p} is outside space {self.name}")
            spec = self.spec_of(p)
        except Infeasible as e:
            import optuna

            raise optuna.TrialPruned(str(e)) from None
        trial.set_user_attr("space_params", p)
        return spec

    def params_of(self, spec: NetSpec) -> dict[str, Any] | None:
        """The free parameters whose network (:meth:`spec_of`) is exactly ``spec``, or ``None``
        where the space holds no such network (see :mod:`designspace.spaces.inverse`): e.g. the
        values of ``regnetx`` that build ``regnetx_002`` at the space's resolution and classes."""
        from .inverse import params_of

        return params_of(self, spec)

    def contains(self, p: Mapping[str, Any]) -> bool:
        """Every free parameter present and inside its domain."""
        return all(k in p and dom.contains(p[k]) for k, dom in self.params.items())

    def describe(self) -> str:
        lines = [f"{self.name}: {self.title}"]
        if self.reference:
            lines.append(f"  reference: {self.reference}")
        for k, dom in self.params.items():
            lines.append(f"  {k:<14} {dom.describe()}")
        fixed = f"resolution {self.resolution}" if self.resolution else "resolution from the space"
        chans = f", {self.in_chans} input channel{'s' if self.in_chans != 1 else ''}" if self.in_chans != 3 else ""
        geom = f", {self.geometry} geometry" if self.geometry != "imagenet" else ""
        lines.append(f"  ({fixed}, {self.num_classes} classes{chans}{geom})")
        return "\n".join(lines)
