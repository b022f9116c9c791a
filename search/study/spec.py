"""Study specs: the TOML file that says what a study searches, how, and for how long.

A study spec is read and checked completely before anything runs; a bad value raises
:class:`StudySpecError` naming the key (``sampler.name='foo' ...``).  Example::

    name = "regnetx_digits"
    space = "regnetx"                # a built-in space, or a custom space file (relative path)
    space_options = {}               # scalar settings of a built-in space, e.g. {base_width = 0.5}
    n_trials = 12
    seed = 0
    objectives = ["error"]           # or ["error", "flops"]: a Pareto study
    enqueue = ["regnetx_002"]        # named models trained first, as baselines
    measure = false                  # true: record each network's measured speed too
    repeats = {models = 10, seeds = 3}   # seed noise: 10 of the trained networks, 3 seeds each in all
    fidelity = {models = 20, epochs = 30}  # schedule fidelity: 20 networks spread over the error
                                     # range retrained for 30 epochs

    [constraints]                    # the complexity regime, at the dataset's resolution
    flops = [0, 50e6]                # multiply-adds, [min, max]
    params = [0, 2e6]

    [dataset]
    name = "digits"                  # designspace.search.data.load(name, root=..., resolution=...)
    resolution = 32

    [schedule]                       # designspace.search.train.Schedule(**schedule)
    epochs = 2

    [sampler]
    name = "tpe"                     # random | sobol | tpe | nsga2 | grid (grid: models = [...])

    [pruner]
    name = "median"                  # none | median | hyperband

    [workers]                        # fault tolerance
    heartbeat_interval = 10          # seconds between heartbeats of a running trial
    grace_period = 30                # a trial silent this long is failed and retried
    max_retry = 3
    storage_retry_s = 120            # a storage unreachable this long (a restart) is waited out
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from designspace.errors import InputError

__all__ = ["StudySpec", "StudySpecError", "load_spec", "parse_spec", "SAMPLERS", "PRUNERS", "OBJECTIVES"]

SAMPLERS = ("random", "sobol", "tpe", "nsga2", "grid")
PRUNERS = ("none", "median", "hyperband")
#: objectives a study may minimise: the validation error first, then complexity measures
OBJECTIVES = ("error", "flops", "params", "acts")
COMPLEXITY = ("flops", "params", "acts")


class StudySpecError(InputError):
    """A study spec value is invalid; the message starts with the file and the key."""


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec (see the module docstring for the TOML layout)."""

    path: Path
    name: str
    space: str
    n_trials: int
    seed: int = 0
    space_options: Mapping[str, Any] = field(default_factory=dict)
    objectives: tuple[str, ...] = ("error",)
    enqueue: tuple[str, ...] = ()
    constraints: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    dataset: Mapping[str, Any] = field(default_factory=lambda: {"name": "digits"})
    schedule: Mapping[str, Any] = field(default_factory=dict)
    sampler: str = "tpe"
    sampler_options: Mapping[str, Any] = field(default_factory=dict)
    pruner: str = "none"
    pruner_options: Mapping[str, Any] = field(default_factory=dict)
    heartbeat_interval: int = 10
    grace_period: int = 30
    max_retry: int = 3
    #: seconds a worker waits out an unreachable storage (a database restart) before giving up
    storage_retry_s: int = 120
    #: measure every trained network's speed on the worker's device (designspace.measure)
    measure: bool = False
    #: ``(models, seeds)``: after the study, retrain ``models`` of its networks so that each has
    #: ``seeds`` runs in all (seed noise and the retest distance, :mod:`designspace.analysis.noise`); ``None``: none
    repeats: tuple[int, int] | None = None
    #: ``(models, epochs)``: after the study, retrain ``models`` networks spread evenly over the
    #: error range for ``epochs`` epochs (schedule fidelity, :mod:`designspace.analysis.fidelity`)
    fidelity: tuple[int, int] | None = None

    @property
    def directions(self) -> list[str]:
        return ["minimize"] * len(self.objectives)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def grid_models(self) -> tuple[str, ...]:
        return tuple(self.sampler_options.get("models", ()))

    @property
    def default_storage_path(self) -> Path:
        """The embedded default storage: ``<spec stem>.db`` next to the spec."""
        return self.path.with_suffix(".db")


_TOP = {"name", "space", "space_options", "n_trials", "seed", "objectives", "enqueue", "constraints", "dataset", "measure",
        "repeats", "fidelity", "schedule", "sampler", "pruner", "workers"}


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study spec TOML file; raises :class:`StudySpecError` naming the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise StudySpecError(f"{path}: no such study spec file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudySpecError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise StudySpecError(f"{path}: not valid TOML: {e}") from None
    return parse_spec(raw, path)


def parse_spec(raw: Mapping[str, Any], path: Path) -> StudySpec:
    """Validate a parsed TOML mapping (``path`` names the file in messages and anchors paths)."""

    def bad(key: str, value: Any, why: str) -> StudySpecError:
        return StudySpecError(f"{path}: {key}={value!r} {why}")

    unknown = sorted(set(raw) - _TOP)
    if unknown:
        raise bad(unknown[0], raw[unknown[0]], f"is not a study spec key (expected one of {sorted(_TOP)})")
    for key in ("name", "space", "n_trials"):
        if key not in raw and not (key == "space" and _sampler_name(raw) == "grid"):
            raise StudySpecError(f"{path}: {key} is missing")
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise bad("name", name, "must be a non-empty string")
    space, space_options = _space(raw, path, bad)
    n_trials = _int(raw["n_trials"], "n_trials", bad, lo=1)
    seed = _int(raw.get("seed", 0), "seed", bad, lo=0)
    objectives = raw.get("objectives", ["error"])
    if (not isinstance(objectives, list) or not objectives or objectives[0] != "error"
            or any(o not in OBJECTIVES for o in objectives) or len(set(objectives)) != len(objectives)):
        raise bad("objectives", objectives, f"must be ['error'] followed by distinct ones of {COMPLEXITY}")
    enqueue = _models(raw.get("enqueue", []), "enqueue", bad)
    constraints = _constraints(raw, bad)
    dataset, schedule = _dataset_and_schedule(raw, path, bad)
    sampler, s_opts = _sampler(raw, n_trials, bool(space), path, bad)
    pruner, p_opts = _pruner(raw, len(objectives), bad)
    hb, grace, retry, storage_retry = _workers(raw, bad)
    measure = raw.get("measure", False)
    if not isinstance(measure, bool):
        raise bad("measure", measure, "must be true or false")
    repeats = _extra(raw, "repeats", ("models", "seeds"), (1, 2), bad)
    fidelity = _extra(raw, "fidelity", ("models", "epochs"), (3, 1), bad)
    if fidelity is not None and fidelity[1] == schedule.get("epochs"):
        raise bad("fidelity.epochs", fidelity[1], "equals schedule.epochs: a fidelity check needs another schedule length")
    for key, extra in (("repeats", repeats), ("fidelity", fidelity)):
        if extra is not None and extra[0] > n_trials:
            raise bad(f"{key}.models", extra[0], f"exceeds n_trials={n_trials}")
    return StudySpec(path=path.resolve(), name=name, measure=measure, repeats=repeats, fidelity=fidelity, space=space,
                     n_trials=n_trials, seed=seed, space_options=space_options, objectives=tuple(objectives),
                     enqueue=tuple(enqueue), constraints=constraints, dataset=dataset, schedule=schedule,
                     sampler=sampler, sampler_options=s_opts, pruner=pruner, pruner_options=p_opts,
                     heartbeat_interval=hb, grace_period=grace, max_retry=retry, storage_retry_s=storage_retry)


def _space(raw: Mapping[str, Any], path: Path, bad: Any) -> tuple[str, dict[str, Any]]:
    """``space`` (a built-in name, or a space file made absolute) and its ``space_options``."""
    space = raw.get("space", "")
    if not isinstance(space, str):
        raise bad("space", space, "must be a built-in space name or a space file path")
    if space.endswith(".toml"):
        space_path = (path.parent / space).resolve()
        if not space_path.is_file():
            raise bad("space", space, f"is not a file (looked for {space_path})")
        space = str(space_path)
    elif space:
        from designspace.spaces import SPACES

        if space not in SPACES:
            raise bad("space", space, f"is neither a built-in space ({', '.join(SPACES)}) nor a .toml file")
    space_options = dict(_table(raw.get("space_options", {}), "space_options", bad))
    if space_options:
        from designspace.spaces import SPACES, SpaceError

        if space not in SPACES:
            raise bad("space_options", space_options, "applies to built-in spaces only; a space file sets its own values")
        try:
            SPACES[space].with_options(space_options)
        except SpaceError as e:
            raise StudySpecError(f"{path}: space_options.{e}") from None
    return space, space_options


def _models(models: Any, key: str, bad: Any) -> list[str]:
    """A list of named models (``enqueue``, ``sampler.models``)."""
    from designspace import zoo

    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise bad(key, models, "must be a list of named models")
    for i, m in enumerate(models):
        if m not in zoo:
            raise bad(f"{key}[{i}]", m, "is not a named model (see `designspace list`)")
    return models


def _constraints(raw: Mapping[str, Any], bad: Any) -> dict[str, tuple[float, float]]:
    constraints: dict[str, tuple[float, float]] = {}
    for k, v in _table(raw.get("constraints", {}), "constraints", bad).items():
        if k not in COMPLEXITY:
            raise bad(f"constraints.{k}", v, f"is not a constraint (expected one of {COMPLEXITY})")
        ok = (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                        for x in v) and 0 <= v[0] < v[1])
        if not ok:
            raise bad(f"constraints.{k}", v, "must be [min, max] with 0 <= min < max")
        constraints[k] = (float(v[0]), float(v[1]))
    return constraints


def _dataset_and_schedule(raw: Mapping[str, Any], path: Path, bad: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    dataset = dict(_table(raw.get("dataset", {"name": "digits"}), "dataset", bad))
    if not isinstance(dataset.get("name"), str):
        raise bad("dataset.name", dataset.get("name"), "must name a dataset (e.g. 'digits', 'cifar10')")
    if "resolution" in dataset:
        _int(dataset["resolution"], "dataset.resolution", bad, lo=1)
    if "root" in dataset:
        dataset["root"] = str((path.parent / str(dataset["root"])).expanduser())
    schedule = dict(_table(raw.get("schedule", {}), "schedule", bad))
    for k, v in schedule.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise bad(f"schedule.{k}", v, "must be finite")
    return dataset, schedule


def _sampler(raw: Mapping[str, Any], n_trials: int, has_space: bool, path: Path, bad: Any) -> tuple[str, dict[str, Any]]:
    """``[sampler]``: its name and options, every option typed and bounded."""
    s_raw = dict(_table(raw.get("sampler", {"name": "tpe"}), "sampler", bad))
    sampler = s_raw.pop("name", "tpe")
    if sampler not in SAMPLERS:
        raise bad("sampler.name", sampler, f"must be one of {SAMPLERS}")
    allowed = {"grid": {"models"}, "tpe": {"n_startup_trials", "multivariate"}, "nsga2": {"population_size"},
               "sobol": {"scramble"}, "random": set()}[sampler]
    for k in s_raw:
        if k not in allowed:
            raise bad(f"sampler.{k}", s_raw[k], f"is not an option of the {sampler} sampler ({sorted(allowed)})")
    _options(s_raw, "sampler", _SAMPLER_OPTIONS, bad)
    if sampler == "grid":
        models = s_raw.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise bad("sampler.models", models, "must list the named models the grid runs over")
        _models(models, "sampler.models", bad)
        if n_trials > len(models):
            raise bad("n_trials", n_trials, f"exceeds the {len(models)} points of the grid (sampler.models)")
    elif not has_space:
        raise StudySpecError(f"{path}: space is missing")
    return sampler, s_raw


def _pruner(raw: Mapping[str, Any], n_objectives: int, bad: Any) -> tuple[str, dict[str, Any]]:
    p_raw = dict(_table(raw.get("pruner", {"name": "none"}), "pruner", bad))
    pruner = p_raw.pop("name", "none")
    if pruner not in PRUNERS:
        raise bad("pruner.name", pruner, f"must be one of {PRUNERS}")
    p_allowed = {"none": set(), "median": {"n_startup_trials", "n_warmup_steps"},
                 "hyperband": {"min_resource", "reduction_factor"}}[pruner]
    for k in p_raw:
        if k not in p_allowed:
            raise bad(f"pruner.{k}", p_raw[k], f"is not an option of the {pruner} pruner ({sorted(p_allowed)})")
    _options(p_raw, "pruner", _PRUNER_OPTIONS, bad)
    if pruner != "none" and n_objectives > 1:
        raise bad("pruner.name", pruner, "cannot prune a multi-objective study (Optuna reports one value); use 'none'")
    return pruner, p_raw


def _workers(raw: Mapping[str, Any], bad: Any) -> tuple[int, int, int, int]:
    """``[workers]``: heartbeat interval, grace period, retries of a dead worker's trial, storage wait."""
    w = dict(_table(raw.get("workers", {}), "workers", bad))
    for k in w:
        if k not in _WORKER_KEYS:
            raise bad(f"workers.{k}", w[k], f"is not a workers option ({', '.join(_WORKER_KEYS)})")
    hb = _int(w.get("heartbeat_interval", 10), "workers.heartbeat_interval", bad, lo=1)
    grace = _int(w.get("grace_period", max(30, 3 * hb)), "workers.grace_period", bad, lo=1)
    if grace <= hb:
        raise bad("workers.grace_period", grace, f"must exceed workers.heartbeat_interval={hb}")
    retry = _int(w.get("max_retry", 3), "workers.max_retry", bad, lo=0)
    storage_retry = _int(w.get("storage_retry_s", STORAGE_RETRY_S), "workers.storage_retry_s", bad, lo=0)
    return hb, grace, retry, storage_retry


STORAGE_RETRY_S = 120
_WORKER_KEYS = ("heartbeat_interval", "grace_period", "max_retry", "storage_retry_s")

#: option -> (kind, lowest value): every sampler and pruner option, checked before any file exists
_SAMPLER_OPTIONS = {"n_startup_trials": ("int", 0), "multivariate": ("bool", None), "population_size": ("int", 2),
                    "scramble": ("bool", None)}
_PRUNER_OPTIONS = {"n_startup_trials": ("int", 0), "n_warmup_steps": ("int", 0), "min_resource": ("int", 1),
                   "reduction_factor": ("int", 2)}


def _options(opts: Mapping[str, Any], table: str, kinds: Mapping[str, tuple[str, Any]], bad: Any) -> None:
    """Each scalar option of ``[sampler]`` / ``[pruner]`` has its type and bound (``models`` is checked apart)."""
    for k, v in opts.items():
        if k not in kinds:
            continue
        kind, lo = kinds[k]
        if kind == "bool" and not isinstance(v, bool):
            raise bad(f"{table}.{k}", v, "must be true or false")
        if kind == "int":
            _int(v, f"{table}.{k}", bad, lo=lo)


def _extra(raw: Mapping[str, Any], key: str, fields: tuple[str, str], lows: tuple[int, int],
           bad: Any) -> tuple[int, int] | None:
    """``repeats`` / ``fidelity``: a table of exactly two integers (both required)."""
    if key not in raw:
        return None
    t = dict(_table(raw[key], key, bad))
    for k in t:
        if k not in fields:
            raise bad(f"{key}.{k}", t[k], f"is not a {key} option ({', '.join(fields)})")
    for k in fields:
        if k not in t:
            raise bad(key, t, f"needs {key}.{k} too")
    return (_int(t[fields[0]], f"{key}.{fields[0]}", bad, lo=lows[0]), _int(t[fields[1]], f"{key}.{fields[1]}", bad, lo=lows[1]))


def _sampler_name(raw: Mapping[str, Any]) -> Any:
    s = raw.get("sampler")
    return s.get("name") if isinstance(s, Mapping) else None


def _table(v: Any, key: str, bad: Any) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise bad(key, v, "must be a table")
    return v


def _int(v: Any, key: str, bad: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise bad(key, v, f"must be an integer >= {lo}")
    return v
