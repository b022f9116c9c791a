"""Short-schedule training and Optuna studies."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def run_study(spec_path: Any, n_trials: int | None = None, storage: str | None = None, workers: int = 1,
              **kwargs: Any) -> "optuna.Study":
    """Run or resume an Optuna study spec (see :func:`designspace.search.study.run_study`; imported on use)."""
    from .study import run_study as _run

    return _run(spec_path, n_trials=n_trials, storage=storage, workers=workers, **kwargs)
