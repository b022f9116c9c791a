"""Whether a comparison can be trusted, in sentences: seed noise (per-network sd and the
retest distance, :mod:`.noise`), what the networks at hand can detect (:mod:`.sensitivity`),
diverged runs, and the schedule fidelity of the networks compared (:mod:`.fidelity`).

:func:`trust_sentences` reads a frame of runs (one row per run, ``error``, ``id``, the grouping
column) and, optionally, a frame of retrains from study exports: ``role`` ``repeat`` rows are
more runs of their network (``spec_id``/``id``), ``fidelity`` rows (``of`` = the trial number of
the original, ``number`` in the counted frame) are longer-schedule retrains.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .summary import Group

__all__ = ["trust_sentences", "with_repeats", "group_sentences", "RETRAIN_ROLES"]

RETRAIN_ROLES = ("repeat", "fidelity")


def with_repeats(counted: "pd.DataFrame", extras: "pd.DataFrame | None") -> "pd.DataFrame":
    """``counted`` plus the ``repeat`` rows of ``extras`` (``spec_id`` read as ``id``)."""
    import pandas as pd

    if extras is None or not len(extras) or "role" not in extras.columns:
        return counted
    rep = extras[extras["role"].astype(str) == "repeat"]
    if "id" not in rep.columns and "spec_id" in rep.columns:
        rep = rep.rename(columns={"spec_id": "id"})
    if not len(rep) or "id" not in rep.columns or "id" not in counted.columns:
        return counted
    return pd.concat([counted, rep[[c for c in rep.columns if c in counted.columns]]], ignore_index=True)


def group_sentences(gs: "dict[str, Group]", alpha: float = 0.05) -> list[str]:
    """Seed noise, retest distance, diverged runs and prospective sensitivity of each group."""
    from .sensitivity import min_detectable

    out = []
    for name, g in gs.items():
        div = int(g.table["diverged"].sum())
        if div:
            out.append(f"{name}: {div} diverged run(s) (error at chance or worse) in "
                       f"{int((g.table['diverged'] > 0).sum())} network(s); kept in the EDFs and comparisons, "
                       "left out of the seed noise")
        if g.noise is not None:
            n = g.noise.as_points()
            out.append(f"{name}: seed noise, per-network sd median {n['median']:.2f} points (quartiles {n['q1']:.2f} "
                       f"to {n['q3']:.2f}, max {n['max']:.2f}), robust pooled sd {n['pooled']:.2f} points "
                       f"({g.noise.networks} networks with repeats, {g.noise.runs} runs)")
        if g.retest is not None:
            r = g.retest
            out.append(f"{name}: retest distance (KS between the EDFs of the same {r.networks} networks under two "
                       f"seeds) {r.d:.3f}; seed noise alone gives a median of {r.swap_median:.3f} and is at most "
                       f"{r.swap_upper:.3f} in {int(100 * r.level)}% of random seed swaps (swap p {r.p:.2g}"
                       + ("; the two seeds' runs differ more than seed noise explains)" if r.p < 1 - r.level else ")"))
    for a, b in itertools.combinations(gs, 2):
        if min(len(gs[a].table), len(gs[b].table)) >= 2:
            s = min_detectable(gs[a].means, gs[b].means, alpha=alpha)
            ks_t = "no KS distance at all" if s.ks_d != s.ks_d else f"a KS distance of {s.ks_d:.2f}"
            out.append(f"{a} vs {b}: with {s.n_a} and {s.n_b} networks, {ks_t} or a mean "
                       f"difference of {s.mean_diff:.2f} points is detected with 80% power at alpha {alpha:g} "
                       "(prospective sensitivity)")
    return out


def _pairs(counted: "pd.DataFrame", extras: "pd.DataFrame", role: str, group: str | None) -> "pd.DataFrame":
    ex = extras[extras["role"] == role]
    extra_keys = [group] if group else []
    orig = counted[["number", *extra_keys, "error"]].rename(columns={"number": "of", "error": "original"})
    return ex.assign(of=ex["of"].astype(int)).merge(orig, on=["of", *extra_keys], how="inner")


def trust_sentences(counted: "pd.DataFrame", extras: "pd.DataFrame | None" = None, by: str | None = None,
                    seed: int = 0, n_boot: int = 300, gs: "dict[str, Group] | None" = None,
                    num_classes: int | None = None) -> list[str]:
    """Sentences on seed noise, sensitivity and schedule fidelity (those the data allow)."""
    from .fidelity import rank_agreement
    from .summary import network_groups

    if (by is not None and by not in counted.columns) or "error" not in counted.columns:
        return []  # the report names the missing column
    if gs is None:
        gs = network_groups(with_repeats(counted, extras), by, num_classes, n_boot, seed)
    out = group_sentences(gs)
    if extras is not None and len(extras) and "role" in extras.columns and "number" in counted.columns:
        first = counted.drop_duplicates("id") if "id" in counted.columns else counted
        fid = _pairs(first, extras, "fidelity", by if by in extras.columns else None)
        if len(fid) >= 3:
            r = rank_agreement(fid["original"].to_numpy(float), fid["error"].to_numpy(float), n_boot=1000, seed=seed)
            out.append(r.sentence())
    return out
