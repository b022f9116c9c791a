"""Parameter domains of a design space: integers, floats (either optionally on a log scale and
quantized to a step) and categorical choices.

A domain maps points of the unit interval to values (its inverse CDF), vectorised with numpy, so
random and quasi-random (Sobol) sampling share one definition: ``values(u)`` for ``u`` uniform on
[0, 1) has the domain's distribution.  ``suggest(trial, name)`` draws the same parameter from the
same distribution with Optuna's ``Trial.suggest_*``.

Distributions (pycls' ``sweep/random.py`` conventions, Radosavovic et al. 2020):

* linear ``Int``/``Float`` with a step: uniform over the grid ``low, low + step, ..., <= high``;
* ``log=True`` with a step: log-uniform over ``[low - step/2, high + step/2]`` (or
  ``[low/2, ...]`` when ``low <= step/2``), rounded to the nearest grid value, i.e. each grid value
  weighs the log-width of its cell; for integers with step 1 this is exactly Optuna's
  ``suggest_int(..., log=True)``;
* continuous ``Float``: uniform or log-uniform on ``[low, high]``;
* ``Choice``: uniform over its values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Sequence, Union

import numpy as np

__all__ = ["Int", "Float", "Choice", "Domain", "decimals"]


def decimals(*xs: float) -> int:
    """Number of decimal digits needed to write every ``x`` exactly as typed (0.1 -> 1)."""
    out = 0
    for x in xs:
        exp = Decimal(repr(float(x))).normalize().as_tuple().exponent
        out = max(out, -int(exp) if isinstance(exp, int) else 0)
    return out


def _grid_index(u: np.ndarray, low: float, high: float, step: float, log: bool) -> np.ndarray:
    k = int(math.floor((high - low) / step + 1e-9)) + 1  # number of grid values
    if not log:
        return np.minimum((u * k).astype(np.int64), k - 1)
    a = low - step / 2 if low > step / 2 else low / 2
    b = low + (k - 1) * step + step / 2
    x = np.exp(math.log(a) + u * (math.log(b) - math.log(a)))
    return np.clip(np.floor((x - low) / step + 0.5), 0, k - 1).astype(np.int64)


def _check_bounds(kind: str, low: float, high: float, step: float | None, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"{kind} domain needs finite low <= high, got low={low!r}, high={high!r}")
    if step is not None and not step > 0:
        raise ValueError(f"{kind} domain needs step > 0, got step={step!r}")
    if log and low <= 0:
        raise ValueError(f"{kind} domain on a log scale needs low > 0, got low={low!r}")


@dataclass(frozen=True)
class Int:
    """Integers ``low, low + step, ..., <= high`` (uniform, or log-uniform with ``log=True``)."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        for k in ("low", "high", "step"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"int domain needs an integer {k}, got {k}={v!r}")
        _check_bounds("int", self.low, self.high, self.step, self.log)

    @property
    def top(self) -> int:
        """The largest grid value (``high`` rounded down to the grid)."""
        return self.low + (self.high - self.low) // self.step * self.step

    def values(self, u: np.ndarray) -> np.ndarray:
        return self.low + _grid_index(u, self.low, self.high, self.step, self.log) * self.step

    def quantize(self, x: float) -> int:
        """Nearest grid value to ``x`` (used after Optuna's continuous log draw)."""
        k = min(max(math.floor((x - self.low) / self.step + 0.5), 0), (self.top - self.low) // self.step)
        return int(self.low + k * self.step)

    def suggest(self, trial: Any, name: str) -> int:
        if self.log and self.step != 1:
            # Optuna has no log-scale integer with a step: draw the same log-uniform variable
            # and round it to the grid exactly as ``values`` does.
            a = self.low - self.step / 2 if self.low > self.step / 2 else self.low / 2
            return self.quantize(trial.suggest_float(name, a, self.top + self.step / 2, log=True))
        return int(trial.suggest_int(name, self.low, self.top, step=self.step, log=self.log))

    def contains(self, v: Any) -> bool:
        return (isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                and self.low <= v <= self.high and (v - self.low) % self.step == 0)

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"int{' log' if self.log else ''} [{self.low}, {self.high}]{step}"


@dataclass(frozen=True)
class Float:
    """Floats in ``[low, high]``: continuous, or on the grid ``low + k * step`` with a step."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        for k in ("low", "high", "step"):
            v = getattr(self, k)
            if v is None and k == "step":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise ValueError(f"float domain needs a number for {k}, got {k}={v!r}")
        _check_bounds("float", float(self.low), float(self.high), self.step, self.log)

    @property
    def digits(self) -> int:
        return decimals(self.low, self.step) if self.step is not None else 0

    @property
    def top(self) -> float:
        if self.step is None:
            return float(self.high)
        k = math.floor((self.high - self.low) / self.step + 1e-9)
        return round(self.low + k * self.step, self.digits)

    def values(self, u: np.ndarray) -> np.ndarray:
        if self.step is None:
            if self.log:
                lo, hi = math.log(self.low), math.log(self.high)
                return np.minimum(np.exp(lo + u * (hi - lo)), self.high)
            return self.low + u * (self.high - self.low)
        k = _grid_index(u, self.low, self.high, self.step, self.log)
        return np.round(self.low + k * self.step, self.digits)

    def quantize(self, x: float) -> float:
        if self.step is None:
            return float(min(max(x, self.low), self.high))
        kmax = round((self.top - self.low) / self.step)
        k = min(max(math.floor((x - self.low) / self.step + 0.5), 0), kmax)
        return round(self.low + k * self.step, self.digits)

    def suggest(self, trial: Any, name: str) -> float:
        if self.step is not None and self.log:
            a = self.low - self.step / 2 if self.low > self.step / 2 else self.low / 2
            return self.quantize(trial.suggest_float(name, a, self.top + self.step / 2, log=True))
        if self.step is not None:
            return round(float(trial.suggest_float(name, self.low, self.top, step=self.step)), self.digits)
        return float(trial.suggest_float(name, self.low, self.high, log=self.log))

    def contains(self, v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)):
            return False
        if not self.low - 1e-12 <= v <= self.high + 1e-12:
            return False
        if self.step is None:
            return True
        k = (v - self.low) / self.step
        return abs(k - round(k)) < 1e-6

    def describe(self) -> str:
        step = f" step {self.step}" if self.step is not None else ""
        return f"float{' log' if self.log else ''} [{self.low}, {self.high}]{step}"


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (numbers, strings or booleans), uniformly."""

    values_: tuple

    def __init__(self, values: Sequence[Any]):
        vals = tuple(values)
        if not vals:
            raise ValueError("choice domain needs at least one value")
        for v in vals:
            if not isinstance(v, (int, float, str, bool)):
                raise ValueError(f"choice values must be numbers, strings or booleans, got {v!r}")
        if len(set(map(repr, vals))) != len(vals):
            raise ValueError(f"choice values must be distinct, got {list(vals)!r}")
        object.__setattr__(self, "values_", vals)

    @property
    def options(self) -> tuple:
        return self.values_

    def values(self, u: np.ndarray) -> np.ndarray:
        k = len(self.values_)
        idx = np.minimum((u * k).astype(np.int64), k - 1)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in self.values_):
            return np.asarray(self.values_, dtype=np.int64)[idx]
        arr = np.empty(k, dtype=object)
        arr[:] = self.values_
        return arr[idx]

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values_))

    def contains(self, v: Any) -> bool:
        return any(type(v) is type(c) and v == c for c in self.values_)

    def describe(self) -> str:
        return "choice {" + ", ".join(map(str, self.values_)) + "}"


Domain = Union[Int, Float, Choice]
