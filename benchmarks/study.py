"""Study machinery benchmarks: per-trial overhead vs a bare Optuna loop, and trials/minute for K workers.

    python benchmarks/study.py overhead [--trials 200] [--space regnetx]   # SQLite; everything but training
    python benchmarks/study.py workers [--trials 8] [--k 1 2] [--epochs 2] [--device cpu|cuda]
    python benchmarks/study.py scale [--trials 10000] [--space regnetx]     # is the per-trial cost flat?

``overhead``: our worker loop (slot check, heartbeat thread, space draw, complexity count, trial
attributes, stale-trial check) with the no-training trainer, against a bare ``ask`` /
``space.suggest`` / ``report`` / ``tell`` loop on Optuna's own ``RDBStorage`` with the same SQLite
settings (WAL, our lock timeout).  Both run the same RegNetX space with no constraints until ``--trials`` trials are
complete; ms per completed trial from the storage's own timestamps (so process start-up is
excluded), the draws rejected on the way (outside the space) included.

``scale``: one study of ``--trials`` trials (no-training trainer, random sampler, SQLite) and the
machinery's ms per trial over the first and the last 10% of trials (from the storage's own
timestamps: start of the first to completion of the last trial of each tenth); the ratio last/first
is the target (<= 1.2: the slot checks and the draw do not read every trial each time).

``workers``: trials per minute of a small real study (RegNetX on digits at 32x32) with K local
worker processes sharing one SQLite study (on CUDA: K workers sharing one GPU).
Results are printed as one JSON object per line (and appended to benchmarks/results/study.jsonl).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEC = """
name = "{name}"
space = "{space}"
n_trials = {n}
seed = 0
{constraints}
[dataset]
name = "digits"
resolution = 32
[schedule]
epochs = {epochs}
batch_size = 512
lr = 0.1
[sampler]
name = "random"
"""


def _per_trial_ms(trials: list) -> float:
    """Storage-timestamp span of the study per *completed* trial: draws rejected on the way
    (outside the space) are part of what a completed trial costs."""
    import optuna

    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    return (max(ends) - min(starts)).total_seconds() * 1e3 / done


def overhead(n: int, space_name: str = "regnetx") -> dict:
    import optuna

    from designspace.spaces import get_space
    from designspace.search.study import run_study
    from designspace.search.study.storage import SQLITE_TIMEOUT_S, wal

    with tempfile.TemporaryDirectory() as d:
        spec_path = Path(d) / "bench.toml"
        spec_path.write_text(SPEC.format(name="bench", space=space_name, n=n, epochs=2, constraints=""))
        run_study(spec_path, trainer="designspace.search.study.objective:no_training")
        ours = optuna.load_study(study_name="bench", storage=f"sqlite:///{d}/bench.db").get_trials()

        # Optuna's own RDBStorage, with the same SQLite settings as ours (WAL, lock timeout): our
        # storage class replaces its hot methods, so a loop on it would no longer be bare Optuna
        storage = optuna.storages.RDBStorage(f"sqlite:///{d}/bare.db",
                                             engine_kwargs={"connect_args": {"timeout": SQLITE_TIMEOUT_S}})
        wal(storage)
        study = optuna.create_study(storage=storage, study_name="bare",
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        space = get_space(space_name, resolution=32, num_classes=10)
        done = 0
        while done < n:  # a bare loop rejects draws outside the space and draws again
            trial = study.ask()
            try:
                space.suggest(trial)
            except optuna.TrialPruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                continue
            for e in (1, 2):
                trial.report(0.5 / e, e)
            study.tell(trial, 0.25)
            done += 1
        bare = study.get_trials()
    o, b = _per_trial_ms(ours), _per_trial_ms(bare)
    return {"bench": "study_overhead", "space": space_name, "storage": "sqlite", "trials": n, "optuna_trials": [len(ours), len(bare)], "ours_ms_per_trial": round(o, 2),
            "bare_optuna_ms_per_trial": round(b, 2), "overhead_ms_per_trial": round(o - b, 2),
            "target_ms": 20}


def scale(n: int, space_name: str = "regnetx") -> dict:
    import optuna

    from designspace.search.study import run_study

    with tempfile.TemporaryDirectory() as d:
        spec_path = Path(d) / "scale.toml"
        spec_path.write_text(SPEC.format(name="scale", space=space_name, n=n, epochs=2, constraints=""))
        t0 = time.perf_counter()
        run_study(spec_path, trainer="designspace.search.study.objective:no_training")
        wall = time.perf_counter() - t0
        ts = sorted(optuna.load_study(study_name="scale", storage=f"sqlite:///{d}/scale.db").get_trials(deepcopy=False),
                    key=lambda t: t.number)
    tenth = max(1, n // 10)
    first, last = ts[:tenth], ts[-tenth:]

    def ms(part: list) -> float:
        return (max(t.datetime_complete for t in part) - min(t.datetime_start for t in part)).total_seconds() * 1e3 / len(part)

    f, l = ms(first), ms(last)
    return {"bench": "study_scale", "space": space_name, "storage": "sqlite", "trials": len(ts),
            "first_10pct_ms_per_trial": round(f, 2), "last_10pct_ms_per_trial": round(l, 2),
            "last_over_first": round(l / f, 3), "target_ratio": 1.2, "target_ms": 20, "wall_s": round(wall, 1)}


def workers(n: int, ks: list[int], epochs: int, device: str | None) -> list[dict]:
    import optuna

    from designspace.search.study import run_study

    out = []
    for k in ks:
        with tempfile.TemporaryDirectory() as d:
            spec_path = Path(d) / f"w{k}.toml"
            spec_path.write_text(SPEC.format(name=f"w{k}", space="regnetx", n=n, epochs=epochs,
                                             constraints="[constraints]\nflops = [0, 3e6]\nacts = [0, 26000]"))
            t0 = time.perf_counter()
            run_study(spec_path, workers=k, device=device)
            wall = time.perf_counter() - t0
            ts = optuna.load_study(study_name=f"w{k}", storage=f"sqlite:///{d}/w{k}.db").get_trials()
            done = [t for t in ts if t.state == optuna.trial.TrialState.COMPLETE]
            first = min(t.datetime_start for t in done)
            last = max(t.datetime_complete for t in done)
            span = (last - first).total_seconds()
            out.append({"bench": "study_workers", "workers": k, "trials": len(done), "epochs": epochs,
                        "device": done[0].user_attrs.get("device"), "wall_s": round(wall, 1),
                        "trials_per_min_wall": round(60 * len(done) / wall, 2),
                        "trials_per_min_steady": round(60 * len(done) / span, 2) if span else None})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--trials", type=int, default=200)
    o.add_argument("--space", default="regnetx", help="regnetx (7 of 8 draws outside the space) or e.g. "
                   "efficientnet_scaling (none outside: the machinery alone)")
    s = sub.add_parser("scale")
    s.add_argument("--trials", type=int, default=10000)
    s.add_argument("--space", default="regnetx")
    w = sub.add_parser("workers")
    w.add_argument("--trials", type=int, default=8)
    w.add_argument("--k", type=int, nargs="+", default=[1, 2])
    w.add_argument("--epochs", type=int, default=2)
    w.add_argument("--device", default=None)
    a = p.parse_args()
    if a.what == "overhead":
        rows = [overhead(a.trials, a.space)]
    elif a.what == "scale":
        rows = [scale(a.trials, a.space)]
    else:
        rows = workers(a.trials, a.k, a.epochs, a.device)
    host = {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()}
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    with open(results / "study.jsonl", "a") as f:
        for r in rows:
            r.update(host)
            print(json.dumps(r))
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
