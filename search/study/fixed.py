"""Fixed parameter values standing in for an Optuna trial: a draw made before its trial existed, a
retry's values, or a baseline's point of the study's space.

``space.suggest(FixedValues(values))`` builds the network of those values and records each
parameter's distribution, so the trial's parameters are written in one transaction with the
distributions a draw through Optuna would have given them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from designspace import NetSpec

    from .context import Context

__all__ = ["FixedValues", "as_space_point"]


class FixedValues:
    """Stands in for an Optuna trial whose parameter values are fixed (a draw made before the
    trial existed, a retry's, a baseline's): ``suggest_*`` return them and record each distribution, so
    the parameters are written to storage in one transaction instead of one per parameter."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = dict(values)
        self.distributions: dict[str, Any] = {}
        self.user_attrs: dict[str, Any] = {}

    def _get(self, name: str, dist: Any) -> Any:
        if name not in self.values:
            raise KeyError(f"no fixed value for parameter {name!r}")
        self.distributions[name] = dist
        return self.values[name]

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        from optuna.distributions import IntDistribution

        return int(self._get(name, IntDistribution(low, high, log=log, step=step)))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        from optuna.distributions import FloatDistribution

        return float(self._get(name, FloatDistribution(low, high, log=log, step=step)))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        from optuna.distributions import CategoricalDistribution

        return self._get(name, CategoricalDistribution(list(choices)))

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value

    @property
    def params(self) -> dict[str, tuple[Any, Any]]:
        return {k: (self.values[k], d) for k, d in self.distributions.items()}


def as_space_point(net: "NetSpec", ctx: "Context") -> "FixedValues | None":
    """A baseline's network as a point of the study's space: its parameters with the space's
    distributions and ``space_params``, as a drawn trial records them, so that Optuna's importance
    evaluators and the dashboard see one search space; ``None`` where the space cannot express
    the network (:meth:`designspace.spaces.Space.params_of`) or the study has no space (a grid)."""
    if not ctx.spec.space or ctx.spec.sampler == "grid":
        return None
    p = ctx.space.params_of(net)
    if p is None:
        return None
    fixed = FixedValues(p)
    ctx.space.suggest(fixed)
    return fixed
