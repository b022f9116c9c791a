"""The study objective: draw a network, check its regime, train it, record everything on the trial.

One trial of a design-space study is one sample of the paper's protocol (Radosavovic et al.,
"On Network Design Spaces for Visual Recognition", ICCV 2019, sec. 3): a model drawn from the
space, its complexity, and its error after a short fixed schedule.  The trial's user attributes
carry all of it (spec JSON, id, flops/params/acts, per-epoch errors, times, device, versions), so
the study storage is the data set the analysis reads.

The training step goes through one seam, :data:`Trainer`, so the storage and worker machinery
can be measured without training (``benchmarks/study.py``) by naming another trainer.
"""
from __future__ import annotations

import functools
import importlib
import os
import platform
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .context import Context, Trainer, load_space

from .fixed import FixedValues, as_space_point

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from designspace import NetSpec

__all__ = ["Context", "Trainer", "TrialFailed", "Rejected", "run_trial", "real_trainer", "load_trainer",
           "load_space", "REJECTED_ATTR"]

REJECTED_ATTR = "designspace:rejected"


class TrialFailed(Exception):
    """The trial ran but could not finish (diverged, out of memory): recorded FAIL with ``reason``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class Rejected(Exception):
    """The drawn network is outside the study's complexity regime: recorded without training."""


def load_trainer(name: str | None) -> Trainer:
    """``None`` -> :func:`real_trainer`; ``"module:function"`` -> that function."""
    name = name or os.environ.get("DESIGNSPACE_STUDY_TRAINER") or ""
    if not name:
        return real_trainer
    mod, _, fn = name.partition(":")
    return getattr(importlib.import_module(mod), fn)


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    return tuple(_versions_now().items())


def versions() -> dict[str, str]:
    """Versions of Python, Optuna, designspace and torch in this process (read once)."""
    return dict(_versions())


def _versions_now() -> dict[str, str]:
    import optuna

    import designspace

    out = {"python": platform.python_version(), "optuna": optuna.__version__,
           "designspace": designspace.__version__}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def draw(trial: "optuna.Trial", ctx: Context, pending: dict[str, Any] | None = None) -> tuple["NetSpec", str]:
    """The trial's network at the study's classes and resolution, and where it came from.

    A space draw whose values are fixed (the worker's draw, or a retry's parameters) is built
    without Optuna's per-parameter writes: its parameters and ``space_params`` go to
    ``pending["params"]`` / ``pending["user"]`` for the caller's one transaction."""
    from designspace import NetSpec, zoo

    from .storage import cached_trial

    ft = cached_trial(trial)
    ua = ft.user_attrs
    baseline = ua.get("baseline")
    if ua.get("retrain_spec"):  # a repeat or fidelity retrain of a trained network: exactly that one
        return NetSpec.from_json(ua["retrain_spec"]), f"{ua['extra'].split(':')[0]} of trial {ua['of']}"
    if baseline:
        net = at_data(zoo[baseline], ctx, False)
        fixed = as_space_point(net, ctx) if pending is not None and not ft.params else None
        if fixed is not None:  # the values of the space that build it, recorded as a drawn trial's
            pending.setdefault("params", {}).update(fixed.params)  # type: ignore[union-attr]
            pending.setdefault("user", {}).update(fixed.user_attrs)  # type: ignore[union-attr]
        return net, f"baseline {baseline}"
    if ctx.spec.sampler == "grid":
        name = trial.suggest_categorical("model", list(ctx.spec.grid_models))
        net, origin = zoo[name], f"model {name}"
    else:
        import optuna

        fixed = ft.params or ft.system_attrs.get("fixed_params")
        target: Any = FixedValues(fixed) if fixed and pending is not None else trial
        try:
            got = ctx.space.suggest(target)
        except optuna.TrialPruned as e:  # an assignment outside the space: redrawn, like sample()
            raise Rejected(f"infeasible: {e}") from None
        if target is not trial:
            if not ft.params:
                pending.setdefault("params", {}).update(target.params)  # type: ignore[union-attr]
            pending.setdefault("user", {}).update(target.user_attrs)  # type: ignore[union-attr]
        net = got[0] if isinstance(got, tuple) else got
        origin = f"space {ctx.spec.space}"
    return at_data(net, ctx, origin.startswith("space")), origin


def at_data(net: "NetSpec", ctx: Context, from_space: bool) -> "NetSpec":
    """``net`` at the data set's classes, channels and resolution: the network a trial trains.

    A space that scales the resolution (efficientnet_scaling) keeps each of its networks' own;
    every other network, baselines included, runs at the data set's resolution, and baselines take
    the space's geometry (``space_options = { geometry = "cifar" }``: stride-1 stem).  Raises
    :class:`Rejected` for a network that cannot run there (total stride above the resolution)."""
    from designspace import SpecError

    from designspace.geometry import apply_geometry

    keep = from_space and ctx.space.scales_resolution
    resolution = net.resolution if keep else ctx.resolution
    try:
        if not from_space:  # a baseline or grid model: the space's geometry, as its own networks have
            net = apply_geometry(net, ctx.space.geometry)
        return net.replace(num_classes=ctx.num_classes, resolution=resolution, in_chans=ctx.in_chans)
    except SpecError as e:
        raise Rejected(f"infeasible at resolution {resolution}: {e}") from None


def run_trial(trial: "optuna.Trial", ctx: Context, admit: Callable[[], None], seed: int, prune: bool = True,
              record: "tuple[dict[str, Any], dict[str, Any]]" = ({}, {})) -> tuple[list[float], dict[str, Any]]:
    """Draw, record, check the regime, ``admit()`` (the worker's slot check), train: the objective
    values, and the attributes to record with them (the caller's one transaction with the state).

    ``record``: user and system attributes of the trial's job, written with its network.
    ``prune=False`` (repeat and fidelity retrains) reports every epoch but never prunes.

    Raises :class:`Rejected` for an out-of-regime draw (nothing trained), ``optuna.TrialPruned``
    when the pruner stops the trial, :class:`TrialFailed` when training diverges or runs out of
    memory.
    """
    from .storage import put_attrs, storage_of, trial_id

    t0 = time.perf_counter()
    net, cx = record_network(trial, ctx, seed, record)
    admit()
    errors, out = train_epochs(trial, ctx, net, seed, prune)
    losses = out.pop("train_losses")
    done: dict[str, Any] = {"errors": errors, "train_losses": losses} if errors else {}
    if ctx.spec.measure:  # measured speed on this worker's device, at the schedule's batch (cached)
        from designspace.measure import measure

        dev = str(out.get("device") or ctx.extra.get("device") or "cpu")
        batch = int(ctx.schedule.get("batch_size", 256))
        done.update(measure(net, device=dev if dev != "none" else "cpu", batch=min(batch, 64), rounds=5).record())
    done.update(device=str(out.get("device", "")), images_per_s=float(out.get("images_per_s", 0.0)),
                wall_seconds=time.perf_counter() - t0, versions=versions())
    threads = (out.get("costs") or {}).get("threads")
    if threads:  # CPU runs are bitwise reproducible for a given thread count: keep it with the result
        done["threads"] = int(threads)
    if not errors:
        put_attrs(storage_of(trial.study), trial_id(trial), done)
        raise TrialFailed("the trainer reported no epoch")
    return [errors[-1]] + [float(getattr(cx, o)) for o in ctx.spec.objectives[1:]], done


def record_network(trial: "optuna.Trial", ctx: Context, seed: int,
                   record: "tuple[dict[str, Any], dict[str, Any]]" = ({}, {})) -> tuple["NetSpec", Any]:
    """Draw the trial's network, count it and record both with ``record`` (one transaction);
    raises :class:`Rejected` for a network outside the study's constraints."""
    from designspace import count

    from .storage import cached_trial, put_attrs, storage_of, trial_id

    given = cached_trial(trial).user_attrs
    pending: dict[str, Any] = {}
    net, origin = draw(trial, ctx, pending)
    cx = count(net)
    attrs = {**record[0], **pending.get("user", {}), "spec": net.to_json(), "spec_id": net.id, "flops": cx.flops,
             "params": cx.params, "acts": cx.acts, "origin": origin, "worker": f"{platform.node()}:{os.getpid()}",
             "seed": seed}
    if ctx.schedule_override:
        attrs["schedule"] = ctx.schedule
    put_attrs(storage_of(trial.study), trial_id(trial), attrs, record[1], params=pending.get("params"))
    for k, (lo, hi) in ctx.spec.constraints.items():
        v = getattr(cx, k)
        if not lo <= v <= hi and not given.get("baseline") and not given.get("extra"):
            raise Rejected(f"constraint: {k}={v:g} outside [{lo:g}, {hi:g}]")
    return net, cx


def train_epochs(trial: "optuna.Trial", ctx: Context, net: "NetSpec", seed: int,
                 prune: bool) -> tuple[list[float], dict[str, Any]]:
    """Train ``net`` with the context's trainer, reporting each epoch's error to Optuna (and its
    pruner, unless ``prune`` is off): the errors, and the trainer's result with the losses.  A run
    that stops early (pruned, diverged, interrupted) records the epochs it did."""
    import optuna

    from .storage import put_attrs, storage_of, trial_id

    errors: list[float] = []
    losses: list[float] = []
    multi = ctx.spec.multi_objective

    def on_epoch(e: dict[str, float]) -> None:
        errors.append(float(e["val_error"]))
        losses.append(float(e["train_loss"]))
        if not multi:  # Optuna's intermediate values: what pruners and the dashboard's curves read
            trial.report(errors[-1], len(errors))
            if prune and trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {len(errors)} at error {errors[-1]:.4f}")

    try:
        out = dict(ctx.trainer(net, ctx, on_epoch, seed))
    except BaseException:
        if errors:
            try:
                put_attrs(storage_of(trial.study), trial_id(trial), {"errors": errors, "train_losses": losses})
            except optuna.exceptions.UpdateFinishedTrialError:  # failed as stale meanwhile: the first error goes on
                pass
        raise
    out["train_losses"] = losses
    return errors, out


def real_trainer(net: "NetSpec", ctx: Context, on_epoch: Callable[[dict[str, float]], None],
                 seed: int) -> dict[str, Any]:
    """Train with :func:`designspace.search.train.fit` on the study's data set and schedule (seeded init)."""
    import torch

    import designspace
    from designspace.search import train

    schedule = train.Schedule.from_dict({"seed": seed, **ctx.schedule})
    torch.manual_seed(seed)
    model = designspace.build(net)
    images: list[float] = []

    def callback(s: Any) -> None:
        images.append(float(s.images_per_s))
        if s.val_top1_err != s.val_top1_err:  # NaN: an epoch the schedule does not evaluate
            return
        on_epoch({"epoch": s.epoch, "val_error": s.val_top1_err, "train_loss": s.train_loss,
                  "images_per_s": s.images_per_s, "seconds": s.seconds})

    from designspace.search.cores import share_threads

    share_threads(ctx.extra.get("threads"))
    try:
        res = train.fit(model, ctx.dataset_at(net.resolution), schedule, callback=callback, workers=0,
                        workspace=ctx.workspace)
    except train.TrainingDiverged as e:
        raise TrialFailed(f"diverged: {e}") from None
    except train.OutOfMemory as e:
        raise TrialFailed(f"out of memory: {e}") from None
    return {"device": res.device, "seconds": res.seconds,
            "images_per_s": sum(images) / len(images) if images else 0.0, "costs": res.extra}


def no_training(net: "NetSpec", ctx: Context, on_epoch: Callable[[dict[str, float]], None],
                seed: int) -> dict[str, Any]:
    """A stand-in trainer for benchmarks and machinery tests: no model is built or trained.

    Reports ``schedule.epochs`` epochs whose error is a deterministic function of the spec id, the
    epoch and the seed (a small seed noise, so repeats differ as real runs do), sleeping ``$DESIGNSPACE_FAKE_EPOCH_S`` seconds per epoch (default 0).
    """
    import zlib

    epochs = int(ctx.schedule.get("epochs", 2))
    pause = float(os.environ.get("DESIGNSPACE_FAKE_EPOCH_S", "0"))
    base = (zlib.crc32(net.id.encode()) % 1000) / 2000 + 0.25 + (zlib.crc32(str(seed).encode()) % 1000) / 1e5
    t0 = time.perf_counter()
    for e in range(1, epochs + 1):
        if pause:
            time.sleep(pause)
        on_epoch({"epoch": e, "val_error": base / e, "train_loss": 2 * base / e, "images_per_s": 0.0,
                  "seconds": pause})
    return {"device": "none", "seconds": time.perf_counter() - t0, "images_per_s": 0.0}
