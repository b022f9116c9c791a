"""The private names of Optuna that the study runtime reads, all of them here (:data:`PRIVATE`),
checked against the Optuna versions listed in :data:`OPTUNA_CHECKED` by
``tests/search/test_study_storage.py``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["OPTUNA_CHECKED", "PRIVATE", "missing_private_names", "storage_of", "study_id", "trial_id", "cached_trial",
           "fix_params", "rdb_backend", "close_storage"]


#: Optuna versions (major.minor) whose private names (:data:`PRIVATE`) this module was checked against
OPTUNA_CHECKED = ("4.2", "4.3", "4.4", "4.5", "4.6", "5.0", "5.1")
#: the private names of Optuna the runtime uses, all of them here: where -> attributes
PRIVATE = {
    "optuna.storages._rdb.models": ("TrialModel", "TrialValueModel", "TrialUserAttributeModel",
                                    "TrialSystemAttributeModel", "TrialParamModel", "TrialIntermediateValueModel",
                                    "StudyModel"),
    "optuna.storages._rdb.storage": ("_create_scoped_session",),
    "optuna.storages.RDBStorage": ("_get_trials", "_get_stale_trial_ids", "_create_new_trial", "_get_best_trial_id",
                                   "_set_trial_param", "scoped_session", "engine"),
    "optuna.study.Study": ("_storage", "_study_id"),
    "optuna.trial.Trial": ("_trial_id", "_cached_frozen_trial", "_fixed_params"),
    "optuna.trial.FrozenTrial": ("_trial_id",),
}


def missing_private_names() -> list[str]:
    """The names of :data:`PRIVATE` that this Optuna lacks (``[]``: all there)."""
    import importlib

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    trial = study.ask()
    probes = {"optuna.study.Study": study, "optuna.trial.Trial": trial,
              "optuna.trial.FrozenTrial": study.get_trials(deepcopy=False)[0]}
    out = []
    for where, names in PRIVATE.items():
        if where in probes:
            obj: Any = probes[where]
        else:
            mod, _, cls = where.rpartition(".") if where.endswith("RDBStorage") else (where, "", "")
            obj = getattr(importlib.import_module(mod), cls) if cls else importlib.import_module(mod)
        for n in names:
            ok = hasattr(obj, n) or (cls_has_init_attr(obj, n))
            if not ok:
                out.append(f"{where}.{n}")
    return out


def cls_has_init_attr(obj: Any, name: str) -> bool:
    """Instance attributes set in ``__init__`` (``RDBStorage.engine``) are seen in its source."""
    import inspect

    try:
        return isinstance(obj, type) and f"self.{name} " in inspect.getsource(obj.__init__)
    except (OSError, TypeError):  # pragma: no cover
        return False


def storage_of(study: "optuna.Study") -> Any:
    return study._storage


def study_id(study: "optuna.Study") -> int:
    return study._study_id


def trial_id(trial: Any) -> int:
    return trial._trial_id


def cached_trial(trial: "optuna.trial.Trial") -> "optuna.trial.FrozenTrial":
    """The frozen trial ``study.ask()`` read (no second read of the storage)."""
    return trial._cached_frozen_trial


def fix_params(trial: "optuna.trial.Trial", params: dict[str, Any]) -> "optuna.trial.Trial":
    """The trial with ``params`` fixed, as re-reading it after enqueueing them would give."""
    import optuna

    if hasattr(trial, "_fixed_params"):
        trial._fixed_params = params
        return trial
    return optuna.trial.Trial(trial.study, trial._trial_id)  # pragma: no cover - another Optuna layout


def rdb_backend(storage: Any) -> Any:
    """The RDB storage under Optuna's cache, if ``storage`` is one (else ``None``)."""
    from optuna.storages import RDBStorage

    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, RDBStorage) and hasattr(backend, "_get_trials") else None


def close_storage(study: "optuna.Study | None") -> None:
    """Close the storage's connections (a SQLite reader leaves no ``-wal``/``-shm`` behind)."""
    backend = rdb_backend(study._storage) if study is not None else None
    if backend is not None:
        backend.scoped_session.remove()
        backend.engine.dispose()
