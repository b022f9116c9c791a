"""Custom design spaces from TOML files.

A file declares the free parameters (``[params.NAME]`` with ``type = "int" | "float" |
"categorical"``; ``low``/``high``, optional ``step`` and ``log``; or ``choices``), the family that
turns them into a spec (a function of :mod:`designspace.families`, or ``"anynet"`` for per-stage
``d1.., w1.., b/b1.., g/g1..``), fixed values (``[fixed]``) and complexity constraints
(``[constraints]``: ``flops``, ``params``, ``acts``, ``resolution`` as ``"LO:HI"`` strings or
``[lo, hi]`` pairs).  See ``studies/spaces/*.toml`` for examples.

Every error names the file, the line and the key, e.g.
``my.toml: line 7: params.w0.step: must be > 0, got -8``; nothing is sampled from a bad file.
"""
from __future__ import annotations

import inspect
import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

import numpy as np

from .. import rules
from ..spec import NetSpec, SpecError, StageSpec, StemSpec
from .base import RESERVED, Infeasible, Space, SpaceError
from .domains import Choice, Domain, Float, Int
from .sampling import Regime, parse_range

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_toml", "TomlSpace"]

_TOP = ("name", "title", "reference", "family", "resolution", "num_classes", "params", "fixed", "constraints", "anynet")
_PARAM_KEYS = {"int": ("type", "low", "high", "step", "log"), "float": ("type", "low", "high", "step", "log"),
               "categorical": ("type", "choices")}
_ANYNET_KEYS = ("stages", "stem_width", "se_ratio", "non_decreasing")


def _locate(text: str, path: tuple[str, ...]) -> int:
    """1-based line of the key ``path`` (or of its nearest enclosing table/key); 1 if unknown."""
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    keyre = re.compile(r'^\s*("?)([A-Za-z0-9_.-]+)\1\s*=')
    table: tuple[str, ...] = ()
    best, best_len = 1, -1
    for no, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            table = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            full = table
        else:
            m = keyre.match(line)
            if not m:
                continue
            full = table + tuple(m.group(2).split("."))
        k = 0
        while k < min(len(full), len(path)) and full[k] == path[k]:
            k += 1
        if k == len(full) and k > best_len:
            best, best_len = no, k
    return best


@dataclass(frozen=True)
class TomlSpace(Space):
    """A space read from a TOML file (see the module docstring)."""

    family: str = "regnet"
    domains: tuple = ()
    fixed: tuple = ()
    regime: Regime | None = None
    anynet: tuple = ()
    path: str = ""

    @cached_property
    def params(self) -> dict[str, Domain]:
        return dict(self.domains)

    @cached_property
    def _fn(self):
        if self.family == "anynet":
            return None
        from .. import families

        return getattr(families, self.family)

    @cached_property
    def _accepts(self) -> set[str]:
        return set(inspect.signature(self._fn).parameters) if self._fn is not None else set()

    def build(self, p: Mapping[str, Any]) -> NetSpec:
        kw = {**dict(self.fixed), **p}
        try:
            if self._fn is None:
                spec = _anynet(kw, dict(self.anynet), self.resolution or kw.get("resolution", 224), self.num_classes)
            else:
                if self.resolution is not None and "resolution" in self._accepts:
                    kw["resolution"] = self.resolution
                if "num_classes" in self._accepts:
                    kw["num_classes"] = self.num_classes
                spec = self._fn(**kw)
                if self.resolution is not None and spec.resolution != self.resolution:
                    spec = spec.replace(resolution=self.resolution)
        except SpecError as e:
            inf = Infeasible(str(e))
            inf.path = e.path  # type: ignore[attr-defined]
            raise inf from None
        return spec


def _anynet(kw: Mapping[str, Any], opts: Mapping[str, Any], resolution: int, num_classes: int) -> NetSpec:
    """Per-stage AnyNet spec (as :class:`~designspace.spaces.builtin.AnyNetX`), pure Python."""
    n = int(opts.get("stages", 4))
    vals = {k: [kw.get(f"{k}{i}", kw.get(k)) for i in range(1, n + 1)] for k in "dwbg"}
    for k in "dw":
        if k in opts.get("non_decreasing", ()):
            vals[k] = sorted(vals[k])
    stages = []
    for i in range(n):
        d, w, b, g = (vals[k][i] for k in "dwbg")
        b = 1 if b is None else b
        g = 0 if g is None else g
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (w, g)) or not isinstance(b, (int, float)) \
                or isinstance(b, bool) or b <= 0 or w < 1 or g < 0:
            raise SpecError(f"stages[{i}]", {"w": w, "b": b, "g": g}, "needs an integer width >= 1, a bottleneck "
                            "ratio > 0 and an integer group width >= 0")
        # pycls' adjust_block_compatibility = the rule of designspace.rules (timm's), multiplier 1/b
        width, mid, groups, _ = rules.regnet_stage_compat(w, 1.0 / b, g or max(1, w))
        stages.append(StageSpec(block="regnet", depth=d, width=width, stride=2, bottleneck_ratio=width / mid,
                                group_width=mid // groups if g else 0, se_ratio=float(opts.get("se_ratio", 0.0))))
    return NetSpec(stem=StemSpec(kind="simple", width=int(opts.get("stem_width", 32))), stages=tuple(stages),
                   resolution=resolution, num_classes=num_classes)


class _Reader:
    def __init__(self, path: str, text: str):
        self.path, self.text = path, text

    def fail(self, key: tuple[str, ...], msg: str) -> SpaceError:
        return SpaceError(f"{self.path}: line {_locate(self.text, key)}: {'.'.join(key)}: {msg}")


def _domain(r: _Reader, name: str, d: Any) -> Domain:
    key = ("params", name)
    if not isinstance(d, Mapping):
        raise r.fail(key, f"must be a table with a type (int, float, categorical), got {d!r}")
    t = d.get("type")
    if t not in _PARAM_KEYS:
        raise r.fail(key + ("type",), f"must be one of int, float, categorical, got {t!r}")
    for k in d:
        if k not in _PARAM_KEYS[t]:
            raise r.fail(key + (k,), f"is not a key of a {t} parameter (keys: {', '.join(_PARAM_KEYS[t])})")
    if t == "categorical":
        if "choices" not in d:
            raise r.fail(key, "needs choices = [...]")
        if not isinstance(d["choices"], list) or not d["choices"]:
            raise r.fail(key + ("choices",), f"must be a non-empty list, got {d['choices']!r}")
        try:
            return Choice(d["choices"])
        except ValueError as e:
            raise r.fail(key + ("choices",), str(e)) from None
    for k in ("low", "high"):
        if k not in d:
            raise r.fail(key, f"needs {k}")
    for k in ("low", "high", "step"):
        if k in d and (isinstance(d[k], bool) or not isinstance(d[k], (int, float))):
            raise r.fail(key + (k,), f"must be a number, got {d[k]!r}")
        if t == "int" and k in d and not isinstance(d[k], int):
            raise r.fail(key + (k,), f"must be an integer for an int parameter, got {d[k]!r}")
    if "log" in d and not isinstance(d["log"], bool):
        raise r.fail(key + ("log",), f"must be true or false, got {d['log']!r}")
    if "step" in d and not d["step"] > 0:
        raise r.fail(key + ("step",), f"must be > 0, got {d['step']!r}")
    if d["low"] > d["high"]:
        raise r.fail(key + ("high",), f"must be >= low ({d['low']!r}), got {d['high']!r}")
    if d.get("log") and d["low"] <= 0:
        raise r.fail(key + ("low",), f"must be > 0 on a log scale, got {d['low']!r}")
    try:
        if t == "int":
            return Int(d["low"], d["high"], step=d.get("step", 1), log=d.get("log", False))
        return Float(float(d["low"]), float(d["high"]), step=d.get("step"), log=d.get("log", False))
    except ValueError as e:
        raise r.fail(key, str(e)) from None


def load_toml(path: str | os.PathLike) -> TomlSpace:
    """Read and check a space file; raises :class:`SpaceError` naming the line and the key."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SpaceError(f"{path}: cannot read the space file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError as e:
        raise SpaceError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise SpaceError(f"{path}: invalid TOML: {e}") from None
    r = _Reader(path, text)
    for k in doc:
        if k not in _TOP:
            raise r.fail((k,), f"is not a key of a space file (keys: {', '.join(_TOP)})")
    name = doc.get("name", os.path.splitext(os.path.basename(path))[0])
    for k in ("name", "title", "reference"):
        if k in doc and not isinstance(doc[k], str):
            raise r.fail((k,), f"must be a string, got {doc[k]!r}")
    family = doc.get("family")
    from .. import families

    choices = sorted(n for n in getattr(families, "__all__", ()) if callable(getattr(families, n, None))) + ["anynet"]
    if family is None:
        raise r.fail(("family",), f"is required: one of {', '.join(choices)}")
    if family not in choices:
        raise r.fail(("family",), f"{family!r} is not one of {', '.join(choices)}")
    res, ncls = doc.get("resolution"), doc.get("num_classes", 1000)
    for k, v in (("resolution", res), ("num_classes", ncls)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise r.fail((k,), f"must be a positive integer, got {v!r}")
    params_raw = doc.get("params", {})
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise r.fail(("params",), "must hold at least one [params.NAME] table")
    domains = tuple((k, _domain(r, k, v)) for k, v in params_raw.items())
    fixed = doc.get("fixed", {})
    if not isinstance(fixed, Mapping):
        raise r.fail(("fixed",), f"must be a table, got {fixed!r}")
    for k in list(params_raw) + list(fixed):
        where = ("params", k) if k in params_raw else ("fixed", k)
        if k in RESERVED:
            raise r.fail(where, f"{k!r} is a record column ({', '.join(RESERVED)}); choose another name")
        if k in params_raw and k in fixed:
            raise r.fail(("fixed", k), "is also a free parameter in [params]")
    anynet = doc.get("anynet", {})
    if family == "anynet":
        for k in anynet:
            if k not in _ANYNET_KEYS:
                raise r.fail(("anynet", k), f"is not an anynet option ({', '.join(_ANYNET_KEYS)})")
        n = anynet.get("stages", 4)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 8:
            raise r.fail(("anynet", "stages"), f"must be an integer in [1, 8], got {n!r}")
        given = set(params_raw) | set(fixed)
        allowed = {f"{k}{i}" for k in "dwbg" for i in range(1, n + 1)} | {"b", "g", "resolution"}
        for k in given:
            if k not in allowed:
                raise r.fail(("params", k) if k in params_raw else ("fixed", k),
                             f"is not an anynet parameter (d1..d{n}, w1..w{n}, b or b1.., g or g1..)")
        for k in "dw":
            for i in range(1, n + 1):
                if f"{k}{i}" not in given:
                    raise r.fail(("params",), f"{k}{i} is missing: anynet needs d1..d{n} and w1..w{n} in [params] or [fixed]")
    else:
        sig = inspect.signature(getattr(families, family)).parameters
        for k in list(params_raw) + list(fixed):
            if k not in sig:
                raise r.fail(("params", k) if k in params_raw else ("fixed", k),
                             f"is not a parameter of families.{family} ({', '.join(sig)})")
        for k, p in sig.items():
            if p.default is inspect.Parameter.empty and k not in params_raw and k not in fixed:
                raise r.fail(("params",), f"{k} is missing: families.{family} needs it in [params] or [fixed]")
    cons = doc.get("constraints", {})
    if not isinstance(cons, Mapping):
        raise r.fail(("constraints",), f"must be a table, got {cons!r}")
    ranges = {}
    for k, v in cons.items():
        if k not in ("flops", "params", "acts", "resolution"):
            raise r.fail(("constraints", k), "is not a constraint (flops, params, acts, resolution)")
        try:
            ranges[k] = parse_range(v, k)
        except (ValueError, TypeError) as e:
            raise r.fail(("constraints", k), str(e)) from None
    space = TomlSpace(name=name, title=doc.get("title", f"custom space from {os.path.basename(path)}"),
                      reference=doc.get("reference", path), resolution=res, num_classes=ncls, family=family,
                      domains=domains, fixed=tuple(fixed.items()), regime=Regime(**ranges),
                      anynet=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in anynet.items()), path=path)
    _try(space, r)
    return space


def _try(space: TomlSpace, r: _Reader) -> None:
    """Build a few draws: a file whose every draw fails is an error (naming the first reason);
    then every domain's extreme values (low, high, each choice) with the other parameters of a
    valid draw, so that a value the family refuses (``low = -4`` for a depth, ``choices = [4.5,
    8]`` for a width) is named now instead of counting silently as draws outside the space."""
    rng = np.random.default_rng(0)
    first = None
    good = None
    for p in space.rows(rng.random((32, space.dim))):
        if p is None:
            continue
        try:
            space.build(p)
            good = p
            break
        except Infeasible as e:
            first = first or (p, e)
        except (TypeError, ValueError) as e:
            raise r.fail(("family",), f"families.{space.family} rejects {p}: {e}") from None
    if good is None:
        p, e = first if first else ({}, "no draw")
        culprit = _culprit(space, getattr(e, "path", ""))
        if culprit is not None:
            raise r.fail(("params", culprit), f"no draw makes a valid network: {e}")
        raise r.fail(("params",), f"none of 32 draws makes a valid network, e.g. {p}: {e}")
    for name, dom in space.params.items():
        probes = [("choices", v) for v in dom.options] if isinstance(dom, Choice) else [("low", dom.low), ("high", dom.top)]
        for key, v in probes:
            try:
                space.build({**good, name: v})
            except Infeasible as e:
                if _culprit(space, getattr(e, "path", "")) == name:
                    raise r.fail(("params", name, key), f"{v!r} is a value families.{space.family} refuses: {e}") from None
            except (TypeError, ValueError) as e:
                raise r.fail(("params", name, key), f"{v!r}: families.{space.family} fails: {e}") from None


def _culprit(space: TomlSpace, path: str) -> str | None:
    """The free parameter an error path names (``depth``; ``stages[1].width`` -> ``w2`` for anynet)."""
    if not path:
        return None
    if path in space.params:
        return path
    import re as _re

    m = _re.match(r"stages\[(\d+)\](?:\.(\w+))?", path)
    if m and space.family == "anynet":
        i = int(m.group(1)) + 1
        field = {"depth": "d", "width": "w", "bottleneck_ratio": "b", "group_width": "g"}.get(m.group(2) or "", "")
        for cand in ([f"{field}{i}", field] if field else [f"{k}{i}" for k in "dwbg"] + list("bg")):
            if cand in space.params:
                return cand
    return None
