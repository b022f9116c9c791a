"""Multiple tests: Holm's step-down adjustment (Holm 1979), which controls the family-wise error
rate under any dependence.  Equal to ``statsmodels.stats.multitest.multipletests(p, method="holm")``
(the tests' oracle; statsmodels is not a runtime dependency)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["holm"]


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, in the input order: the ``i``-th smallest p times ``m - i``
    (``i`` from 0), made non-decreasing in that order and capped at 1.  NaNs stay NaN and do not
    count as tests."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adj, 1.0)
    return out
