"""Reading a study back: one row per trial (:func:`trials_frame`), a status summary, atomic CSV."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .objective import REJECTED_ATTR
from .spec import StudySpec
from .view import SURPLUS_ATTR, slots

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    import pandas as pd

__all__ = ["trials_frame", "pareto_mask", "status_text", "write_csv_atomic"]

_ATTRS = ("spec_id", "origin", "baseline", "flops", "params", "acts", "wall_seconds", "images_per_s", "device",
          "worker", "reason", "train_images_per_s", "infer_latency_ms", "infer_images_per_s", "peak_memory_bytes",
          "measure_device", "seed", "extra", "of")


def pareto_mask(points: list[tuple[float, ...]]) -> list[bool]:
    """True where no other point is <= in every objective and < in one (all minimised)."""
    out = []
    for i, p in enumerate(points):
        dominated = any(all(a <= b for a, b in zip(q, p)) and any(a < b for a, b in zip(q, p))
                        for j, q in enumerate(points) if j != i)
        out.append(not dominated)
    return out


def _kind(t: "optuna.trial.FrozenTrial", final: bool) -> str:
    sa = t.system_attrs
    if t.user_attrs.get("extra") and not sa.get(SURPLUS_ATTR):
        return t.user_attrs["extra"].split(":")[0] if final else "retried"
    if sa.get(SURPLUS_ATTR):
        return "surplus"
    if sa.get(REJECTED_ATTR):
        return "rejected"
    return "counted" if final else "retried"


def _extra_final(trials: "list[optuna.trial.FrozenTrial]") -> set[int]:
    """The trial numbers that hold each retrain key: its latest non-surplus trial."""
    last: dict[str, int] = {}
    for t in trials:
        k = t.user_attrs.get("extra")
        if k and not t.system_attrs.get(SURPLUS_ATTR):
            last[k] = max(last.get(k, -1), t.number)
    return set(last.values())


def _outside(t: "optuna.trial.FrozenTrial", spec: StudySpec) -> bool | None:
    """For a baseline: whether its network fell outside the study's [constraints] (a reference,
    never part of the sample); ``None`` for other trials and before its complexity is known."""
    ua = t.user_attrs
    if not ua.get("baseline"):
        return None
    if ua.get("outside_regime"):
        return True
    if any(ua.get(k) is None for k in spec.constraints):
        return None
    return any(not lo <= float(ua[k]) <= hi for k, (lo, hi) in spec.constraints.items())


def trials_frame(study: "optuna.Study", spec: StudySpec,
                 references: "optuna.Study | None" = None) -> "pd.DataFrame":
    """One row per trial: state, role, spec, complexity, final and per-epoch errors, times, params.

    ``role`` is ``counted`` for the trial that holds one of the study's ``n_trials`` slots,
    ``retried`` for a killed or abandoned trial that a later one re-ran, ``rejected`` for a draw
    outside the constraints (not trained), ``surplus`` for a trial closed because the study was
    full, and ``repeat`` / ``fidelity`` for the retrains that ``repeats`` and ``fidelity`` ask for
    (``of`` is the trial whose network they retrain, ``seed`` the seed they ran with, ``extra``
    their key).  The trials of the sibling study ``references`` (baselines the space cannot
    express, :mod:`.references`) follow, role ``reference`` (``retried`` for their re-run ones),
    numbered in their own study.  Multi-objective studies get a ``pareto`` column over the
    complete counted trials.
    """
    import pandas as pd
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    refs = references.get_trials(deepcopy=False) if references is not None else []
    final = {t.number for t in slots(trials).values()} | _extra_final(trials)
    ref_final = {t.number for t in slots(refs).values()}
    epochs = max((len(t.user_attrs.get("errors", [])) for t in trials + refs), default=0)
    rows = [_row(t, spec, _kind(t, t.number in final), epochs) for t in trials]
    rows += [_row(t, spec, "reference" if t.number in ref_final else "retried", epochs) for t in refs]
    df = pd.DataFrame(rows)
    if spec.multi_objective and len(df):
        done = (df["state"] == TrialState.COMPLETE.name) & (df["role"] == "counted")
        cols = [f"value_{o}" for o in spec.objectives]
        pts = [tuple(r) for r in df.loc[done, cols].itertuples(index=False)]
        df["pareto"] = False
        df.loc[done, "pareto"] = pareto_mask(pts)
    return df


def _row(t: "optuna.trial.FrozenTrial", spec: StudySpec, role: str, epochs: int) -> dict[str, Any]:
    """One trial's row of :func:`trials_frame`."""
    errs = list(t.user_attrs.get("errors", []))
    row: dict[str, Any] = {"number": t.number, "state": t.state.name, "role": role}
    row.update({k: t.user_attrs.get(k) for k in _ATTRS})
    row["error"] = errs[-1] if errs else None
    for e in range(epochs):
        row[f"error_epoch{e + 1}"] = errs[e] if e < len(errs) else None
    for i, o in enumerate(spec.objectives):
        row[f"value_{o}"] = t.values[i] if t.values else None
    row["outside_regime"] = _outside(t, spec)
    row["retry_of"] = t.system_attrs.get("failed_trial")
    row["datetime_start"] = t.datetime_start
    row["datetime_complete"] = t.datetime_complete
    row["duration_s"] = t.duration.total_seconds() if t.duration is not None else None
    row["versions"] = json.dumps(t.user_attrs["versions"], sort_keys=True) if "versions" in t.user_attrs else None
    row["spec"] = t.user_attrs.get("spec")
    if "threads" in t.user_attrs:  # CPU intra-op threads (a column only where a trial recorded them)
        row["threads"] = t.user_attrs["threads"]
    for p, v in t.params.items():
        row[f"param_{p}"] = v
    # the values the network was built from, where the space canonicalised the draw (AnyNetX
    # D/E sort widths and depths, group widths are capped, EfficientNet derives gamma)
    sp = t.user_attrs.get("space_params")
    for p, v in (sp.items() if isinstance(sp, dict) else ()):
        row[f"param_{p}"] = v
    return row


def status_text(study: "optuna.Study", spec: StudySpec, n_trials: int, where: str,
                references: "optuna.Study | None" = None) -> str:
    """Trials by state, best so far, an ETA for the rest; the references (:mod:`.references`) on a line."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    held = slots(trials)
    counted = list(held.values())
    by_state: dict[str, int] = {}
    for t in counted:
        by_state[t.state.name] = by_state.get(t.state.name, 0) + 1
    finished = [t for t in counted if t.state.is_finished()]
    final = {c.number for c in counted} | _extra_final(trials)
    kinds = [_kind(t, t.number in final) for t in trials]
    extra = {k: kinds.count(k) for k in ("retried", "rejected", "surplus")}
    n_trials = max(n_trials, len(held))  # a run with --n-trials above the spec's
    more = f" (a run asked for {n_trials}; the spec's n_trials is {spec.n_trials})" if n_trials > spec.n_trials else ""
    lines = [f"study {spec.name} ({where}): {len(finished)}/{n_trials} trials finished{more}",
             "  " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(by_state.items())) if by_state else "  no trials yet"]
    if any(extra.values()):
        lines.append("  also: " + ", ".join(f"{k} {v}" for k, v in extra.items() if v))
    outside = sorted({t.user_attrs["baseline"] for t in counted if _outside(t, spec)})
    if outside:
        lines.append(f"  baselines outside the [constraints] (references, not in the sample): {', '.join(outside)}")
    if references is not None:
        lines.append(_references_line(references))
    owed = {"repeat": spec.repeats[0] * (spec.repeats[1] - 1) if spec.repeats else 0,
            "fidelity": spec.fidelity[0] if spec.fidelity else 0}
    owed_left = 0
    if any(owed.values()):
        done_x = {k: sum(1 for t, r in zip(trials, kinds) if r == k and t.state == TrialState.COMPLETE) for k in owed}
        owed_left = sum(max(0, v - done_x[k]) for k, v in owed.items())
        lines.append("  retrains (after the main trials): " + ", ".join(
            f"{k} {done_x[k]}/{v} complete" for k, v in owed.items() if v))
    done = [t for t in finished if t.state == TrialState.COMPLETE]
    if done and not spec.multi_objective:
        b = min(done, key=lambda t: t.values[0])
        lines.append(f"  best: trial {b.number} error {b.values[0]:.4f} ({b.user_attrs.get('origin', '')}, "
                     f"spec {b.user_attrs.get('spec_id')}, flops {b.user_attrs.get('flops', 0) / 1e6:.2f}M, "
                     f"params {b.user_attrs.get('params', 0) / 1e6:.3f}M)")
    elif done:
        front = [t for t, p in zip(done, pareto_mask([tuple(t.values) for t in done])) if p]
        lines.append(f"  Pareto front ({' vs '.join(spec.objectives)}): " + ", ".join(
            f"#{t.number} " + "/".join(f"{v:.4g}" for v in t.values) for t in sorted(front, key=lambda t: t.values)))
    durations = [t.duration.total_seconds() for t in finished if t.duration is not None and t.state != TrialState.FAIL]
    left = max(0, n_trials - len(finished))
    from .storage import heartbeat_ages

    ages = heartbeat_ages(study)
    live = [k for k, a in ages.items() if a is not None and a <= spec.grace_period]
    silent = {k: a for k, a in ages.items() if k not in live}
    if ages:
        parts = [f"{len(live)} live (heartbeat within {spec.grace_period} s)"] if live else []
        for k, a in sorted(silent.items()):
            parts.append(f"trial {k} silent " + (f"for {a:.0f} s" if a is not None else "since it started")
                         + f": its worker is gone; the next worker fails and retries it")
        lines.append("  running: " + "; ".join(parts))
    lines.append(_progress_line(left, owed_left, durations, len(live)))
    return "\n".join(lines)


def _references_line(references: "optuna.Study") -> str:
    """Each reference of the sibling study with its state (and error when complete)."""
    from optuna.trial import TrialState

    parts = []
    for t in sorted(slots(references.get_trials(deepcopy=False)).values(), key=lambda t: t.number):
        name = t.user_attrs.get("baseline", f"trial {t.number}")
        done = t.state == TrialState.COMPLETE and t.values
        parts.append(f"{name} error {t.values[0]:.4f}" if done else f"{name} {t.state.name.lower()}")
    return (f"  references (study {references.study_name}, no slot of n_trials): "
            + (", ".join(parts) if parts else "none yet"))


def _progress_line(left: int, owed_left: int, durations: list[float], live: int) -> str:
    """The ETA of the main trials, or what is still owed once they are done."""
    import datetime as dt

    if left and durations:
        eta = sum(durations) / len(durations) * left / max(1, live)
        return (f"  ETA: about {dt.timedelta(seconds=round(eta))} for {left} trial(s) at {max(1, live)} live worker(s)"
                + ("" if live else " (none is running now)"))
    if left:
        return f"  {left} trial(s) to go"
    if owed_left:
        return f"  main trials done; {owed_left} retrain(s) to go"
    return "  done"


def write_csv_atomic(df: "pd.DataFrame", path: str | Path) -> str:
    """Write ``df`` as CSV to ``path`` (``-``: standard output) through the one atomic writer
    (:func:`designspace.files.write_output`): never a half-written CSV.  Returns where it went."""
    from designspace.files import write_output

    return write_output(path, lambda f: df.to_csv(f, index=False, float_format=FLOAT_FORMAT))


#: floats in exported CSV: 15 significant digits, every one of them exact for a double, so a
#: stored error of 0.18000000000000005 (binary noise of a rate) reads 0.18 and integers stay whole
FLOAT_FORMAT = "%.15g"
