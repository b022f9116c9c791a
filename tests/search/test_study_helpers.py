"""Shared helpers of the study tests: spec files, the CLI as a subprocess, reading a study with optuna."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from designspace.cli import main; sys.exit(main())"
FAKE = "designspace.search.study.objective:no_training"


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def write_spec(path: Path, top: dict[str, Any], **tables: dict[str, Any]) -> Path:
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for name, t in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in t.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_spec(path: Path, name: str, n_trials: int, **over: Any) -> Path:
    """A RegNetX study on digits at 32x32 with a small, fast regime (<= 3 MFLOPs, <= 26k activations) and a 2-epoch schedule."""
    top = {"name": name, "space": "regnetx", "n_trials": n_trials, "seed": 0}
    top.update({k: v for k, v in over.items() if not isinstance(v, dict)})
    tables = {"constraints": {"flops": [0, 3e6], "acts": [0, 26000]}, "dataset": {"name": "digits", "resolution": 32},
              "schedule": {"epochs": 2, "batch_size": 512, "lr": 0.1},
              "sampler": {"name": "random"}, "workers": {"heartbeat_interval": 1, "grace_period": 3}}
    tables.update({k: v for k, v in over.items() if isinstance(v, dict)})
    return write_spec(path, top, **tables)


def env(fake: bool = False, epoch_s: float = 0.0, **extra: str) -> dict[str, str]:
    e = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    e.pop("DESIGNSPACE_STORAGE", None)
    if fake:
        e["DESIGNSPACE_STUDY_TRAINER"] = FAKE
        e["DESIGNSPACE_FAKE_EPOCH_S"] = str(epoch_s)
    e.update(extra)
    return e


def cli(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=kw.pop("env", env()), **kw)


def popen(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=kw.pop("env", env()), **kw)


def trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials read with plain optuna (independent of our reader)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def by_state(ts: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in ts:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def trained(ts: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that went through training (not rejected draws, not surplus)."""
    return [t for t in ts if not t.system_attrs.get("designspace:rejected")
            and not t.system_attrs.get("designspace:surplus")]


#: (spec id, network resolution, resolution of the images it got) per trial of recording_trainer
SEEN: list[tuple[str, int, int]] = []


def recording_trainer(net: Any, ctx: Any, on_epoch: Any, seed: int) -> dict[str, Any]:
    """A stand-in trainer (run in-process) that records which data each network would train on."""
    ds = ctx.dataset_at(net.resolution)
    SEEN.append((net.id, net.resolution, int(ds.train_images.shape[-1])))
    on_epoch({"epoch": 1, "val_error": 0.5, "train_loss": 1.0, "images_per_s": 0.0, "seconds": 0.0})
    return {"device": "none", "seconds": 0.0, "images_per_s": 0.0}


#: storage URL and study name of the study whose first trial stale_once_trainer fails
STALE: dict[str, Any] = {}


def stale_once_trainer(net: Any, ctx: Any, on_epoch: Any, seed: int) -> dict[str, Any]:
    """A stand-in trainer whose first trial is failed as stale by "another worker" (a second
    storage, as fail_stale does it) while it trains; it then finishes normally."""
    if not STALE.get("done"):
        STALE["done"] = True
        from designspace.search.study.storage import atomic_rdb_storage

        st = atomic_rdb_storage()(STALE["url"])
        study = optuna.load_study(study_name=STALE["name"], storage=st)
        (t,) = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]
        assert st.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        optuna.storages.RetryHeartbeatStaleTrialCallback()(study, st.get_trial(t._trial_id))
    on_epoch({"epoch": 1, "val_error": 0.5, "train_loss": 1.0, "images_per_s": 0.0, "seconds": 0.0})
    return {"device": "none", "seconds": 0.0, "images_per_s": 0.0}


def test_status_is_not_done_while_retrains_are_owed():
    """The pilot's case: 20/20 main trials finished, 33 repeat and fidelity retrains still to
    train; status printed "done"."""
    from designspace.search.study.export import _progress_line

    assert _progress_line(0, 33, [60.0] * 20, 2) == "  main trials done; 33 retrain(s) to go"
    assert _progress_line(0, 0, [60.0] * 20, 0) == "  done"
    assert _progress_line(4, 10, [60.0, 120.0], 2).startswith("  ETA: about 0:03:00 for 4 trial(s) at 2 live")
    assert _progress_line(4, 0, [], 0) == "  4 trial(s) to go"
