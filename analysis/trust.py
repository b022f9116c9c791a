"""Whether a comparison can be trusted, in sentences: the noise floor, the sample size, and the
schedule fidelity of the models being compared (:mod:`.noise`, :mod:`.power`, :mod:`.fidelity`).

:func:`trust_sentences` reads a frame of counted models (one row per model, ``error``, the
grouping column) and, optionally, a frame of retrains from study exports (``role`` ``repeat`` or
``fidelity``, ``of`` = the trial number of the original, ``number`` in the counted frame).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["trust_sentences", "RETRAIN_ROLES"]

RETRAIN_ROLES = ("repeat", "fidelity")


def _pairs(counted: "pd.DataFrame", extras: "pd.DataFrame", role: str, group: str | None) -> "pd.DataFrame":
    ex = extras[extras["role"] == role]
    extra_keys = [group] if group else []
    orig = counted[["number", *extra_keys, "error"]].rename(columns={"number": "of", "error": "original"})
    return ex.assign(of=ex["of"].astype(int)).merge(orig, on=["of", *extra_keys], how="inner")


def trust_sentences(counted: "pd.DataFrame", extras: "pd.DataFrame | None" = None, by: str | None = None,
                    seed: int = 0, n_boot: int = 300) -> list[str]:
    """Sentences on the noise floor, the sample size and the schedule fidelity (those the data allow)."""
    from .fidelity import rank_agreement
    from .noise import compare_to_floor, ks_statistic, noise_floor, seed_noise
    from .power import required_n

    out: list[str] = []
    if (by is not None and by not in counted.columns) or "error" not in counted.columns:
        return out  # the report names the missing column
    noise = None
    have_extras = extras is not None and len(extras) and "role" in extras.columns and "number" in counted.columns
    if have_extras:
        key = by if by in extras.columns else None
        rep = _pairs(counted, extras, "repeat", key)
        if len(rep):  # one network = one original trial of one group (trial numbers repeat across studies)
            runs = [np.concatenate([[g["original"].iloc[0]], g["error"].to_numpy(float)])
                    for _, g in rep.groupby(["of", key] if key else "of")]
            noise = seed_noise(runs)
            out.append(f"seed noise: one run's error is off by {100 * noise.sd:.2f} points (sd) from its network's mean "
                       f"({noise.models} networks, {noise.runs} runs)")
    groups = [(str(k), g["error"].to_numpy(float)) for k, g in counted.groupby(by)] if by else []
    groups = [(k, e[np.isfinite(e)]) for k, e in groups]
    if len(groups) >= 2 and all(e.size >= 3 for _, e in groups[:2]):
        (na, a), (nb, b) = groups[:2]
        floor = noise_floor(np.concatenate([a, b]), noise, a.size, b.size, n_boot=n_boot, seed=seed)
        out.append(f"{na} vs {nb}: " + compare_to_floor(ks_statistic(a, b), floor))
        out.append(required_n(a, b, n_boot=min(n_boot, 200), seed=seed).sentence((na, nb)))
    if have_extras:
        fid = _pairs(counted, extras, "fidelity", by if by in extras.columns else None)
        if len(fid) >= 3:
            r = rank_agreement(fid["original"].to_numpy(float), fid["error"].to_numpy(float), n_boot=1000, seed=seed)
            out.append(r.sentence())
    return out
