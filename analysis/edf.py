"""Error empirical distribution functions (EDFs), complexity-normalized EDFs and bootstrap bands.

Following Radosavovic et al., "On Network Design Spaces for Visual Recognition" (NDS, ICCV
2019), a design space is summarised by the EDF of the errors of ``n`` models sampled from it,

    F(e) = (1/n) * sum_i 1[e_i < e],

the fraction of models with error below ``e``.  Design spaces whose models have different
complexity are compared with the *normalized* EDF, ``F(e) = sum_i w_i 1[e_i < e]`` with
``sum_i w_i = 1``, where the per-model weights make the complexity distributions of the
compared spaces equal: complexity (flops or params) is binned on a log scale and every model
of a bin gets the same weight, ``w_i = p(bin_i) / n(bin_i)``, where ``n(bin)`` counts the
space's models in the bin and ``p`` is the target distribution over bins.  As in the NDS code
(``compute_norm_ws`` in facebookresearch/nds, ``w = 1 / hist[bin] / num_bins``) the default
target is uniform over the bins, here the bins that every compared space occupies, on a log
scale; a reference sample's histogram (or the pooled one) can be the target instead.  Models in bins that some space does not
reach get weight 0, since nothing can be matched there.

An :class:`EDF` stores the step function as ``x`` (sorted distinct errors) and ``F`` (the
weighted fraction of models with error ``<= x``, the value of the step on ``[x_k, x_{k+1})``,
as ``scipy.stats.ecdf`` reports it); calling it evaluates the definition above (strict ``<``).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from .data import AnalysisInputError, as_array

__all__ = [
    "EDF", "Band", "edf", "normalized_edf", "complexity_bins", "complexity_weights",
    "matched_weights", "weighted_histogram", "edf_band", "normalized_edf_band", "cdf_on", "overlap_bins",
]

DEFAULT_BINS = 8


class EDF(NamedTuple):
    """A (weighted) empirical distribution function of errors."""

    x: np.ndarray  #: sorted distinct errors
    F: np.ndarray  #: weighted fraction of models with error <= x (right-continuous step values)

    def __call__(self, e: float | Sequence[float] | np.ndarray) -> np.ndarray | float:
        """``F(e) = sum_i w_i 1[e_i < e]`` (strict, as in NDS) at one or many errors."""
        k = np.searchsorted(self.x, np.asarray(e, dtype=float), side="left")
        out = np.where(k > 0, self.F[np.maximum(k - 1, 0)], 0.0)
        return float(out) if np.ndim(out) == 0 else out


class Band(NamedTuple):
    """A bootstrap confidence band of an EDF, evaluated on ``grid`` (``<=`` convention)."""

    grid: np.ndarray
    F: np.ndarray  #: the EDF of the data on the grid
    lo: np.ndarray
    hi: np.ndarray
    level: float
    kind: str  #: ``"pointwise"`` or ``"simultaneous"``


def _weights(w: np.ndarray | None, n: int) -> np.ndarray:
    if w is None:
        return np.full(n, 1.0 / n)
    w = as_array(w, "weights", min_size=1)
    if w.shape != (n,):
        raise AnalysisInputError("weights", f"need one weight per model ({n}), got {w.size}")
    if (w < 0).any() or w.sum() <= 0:
        raise AnalysisInputError("weights", "must be non-negative with a positive sum")
    return w / w.sum()


def edf(errors: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None) -> EDF:
    """The EDF of ``errors`` (optionally weighted; weights are normalised to sum to 1).

    >>> e = edf([0.3, 0.1, 0.2, 0.2])
    >>> e.x.tolist(), e.F.tolist(), e(0.2), e(0.25)
    ([0.1, 0.2, 0.3], [0.25, 0.75, 1.0], 0.25, 0.75)
    """
    err = as_array(errors, "error", min_size=2)
    w = _weights(None if weights is None else np.asarray(weights, dtype=float), err.size)
    order = np.argsort(err, kind="stable")
    xs, cw = err[order], np.cumsum(w[order])
    last = np.r_[xs[1:] != xs[:-1], True]  # last occurrence of each distinct error
    F = np.minimum(cw[last], 1.0)
    F[-1] = 1.0
    return EDF(xs[last], F)


def cdf_on(errors: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``sum_i w_i 1[e_i <= g]`` for each ``g`` in ``grid`` (weights already normalised)."""
    order = np.argsort(errors, kind="stable")
    cw = np.r_[0.0, np.cumsum(weights[order])]
    return cw[np.searchsorted(errors[order], grid, side="right")]


# ------------------------------------------------------------------ complexity normalization
def complexity_bins(*complexities: Sequence[float] | np.ndarray, bins: int | Sequence[float] = DEFAULT_BINS) -> np.ndarray:
    """Bin edges, equally spaced in log complexity over the union of all given arrays.

    ``bins`` may also be explicit edges (increasing, positive), returned as an array.
    """
    if not isinstance(bins, (int, np.integer)):
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or (np.diff(edges) <= 0).any() or edges[0] <= 0:
            raise AnalysisInputError("bins", "edges must be at least two increasing positive numbers")
        return edges
    if bins < 1:
        raise AnalysisInputError("bins", f"need at least one bin, got {bins}")
    allc = np.concatenate([as_array(c, "flops", min_size=1) for c in complexities])
    if (allc <= 0).any():
        raise AnalysisInputError("flops", f"complexity must be positive, found {allc[allc <= 0][0]:g}")
    lo, hi = np.log(allc.min()), np.log(allc.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5  # every model has the same complexity: one wide bin
    edges = np.exp(np.linspace(lo, hi, int(bins) + 1))
    if allc.max() > allc.min():
        edges[0], edges[-1] = allc.min(), allc.max()  # exact ends: exp(log(x)) may round past x
    return edges


def overlap_bins(*complexities: Sequence[float] | np.ndarray, bins: int = DEFAULT_BINS,
                 column: str = "flops") -> np.ndarray:
    """Bin edges over the complexity range that *every* array covers (no extrapolation: a
    model outside it gets no bin, hence weight 0); "no overlap" if the ranges are disjoint."""
    cs = [as_array(c, column, min_size=1) for c in complexities]
    lo, hi = max(c.min() for c in cs), min(c.max() for c in cs)
    if lo > hi:
        raise AnalysisInputError(column, f"no overlap: the compared groups' {column} ranges are disjoint, so "
                                 "nothing can be compared at matched complexity")
    return complexity_bins(*[c[(c >= lo) & (c <= hi)] for c in cs], bins=bins)


def _bin_index(c: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: ``[e_k, e_{k+1})``, the last bin closed; -1 outside the edges."""
    k = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, edges.size - 2)
    k[(c < edges[0] * (1 - 1e-12)) | (c > edges[-1] * (1 + 1e-12))] = -1
    return k


def weighted_histogram(complexity: np.ndarray, weights: np.ndarray | None, edges: np.ndarray) -> np.ndarray:
    """Total weight of the models in each bin (what reweighting makes equal across spaces)."""
    c = np.asarray(complexity, dtype=float)
    w = np.full(c.size, 1.0 / c.size) if weights is None else np.asarray(weights, dtype=float)
    k = _bin_index(c, edges)
    return np.bincount(k[k >= 0], weights=w[k >= 0], minlength=edges.size - 1)


def matched_weights(complexities: Sequence[np.ndarray], bins: int | Sequence[float] = DEFAULT_BINS,
                    target: str | Sequence[float] | np.ndarray = "uniform") -> list[np.ndarray]:
    """Per-model weights that give every space the same binned complexity distribution.

    ``target`` is ``"uniform"`` (equal mass in every bin that all spaces occupy, the NDS-style
    default), ``"pooled"`` (the histogram of all models together) or an explicit reference
    sample of complexities (its histogram).  Each returned array sums to 1.
    """
    cs = [as_array(c, "flops", min_size=1) for c in complexities]
    if isinstance(target, str):
        if target not in ("uniform", "pooled"):
            raise AnalysisInputError("target", f"{target!r} is not 'uniform', 'pooled' or a reference sample")
        ref = None
        edges = complexity_bins(*cs, bins=bins)
    else:
        ref = as_array(target, "ref_flops", min_size=1)
        edges = complexity_bins(*cs, ref, bins=bins)
    idx = [_bin_index(c, edges) for c in cs]  # -1: outside explicit edges, weight 0
    counts = [np.bincount(k[k >= 0], minlength=edges.size - 1) * 1.0 for k in idx]
    support = np.logical_and.reduce([n > 0 for n in counts])
    if ref is not None:
        p = weighted_histogram(ref, None, edges)
    elif target == "pooled":
        p = np.sum(counts, axis=0)
    else:
        p = np.ones(edges.size - 1)
    p = np.where(support, p, 0.0)
    if p.sum() <= 0:
        raise AnalysisInputError("flops", "the complexity ranges of the compared models do not overlap; "
                                 "nothing can be normalized (use fewer bins or compare raw EDFs)")
    p = p / p.sum()
    out = []
    for k, n in zip(idx, counts):
        kk = k.clip(0)
        out.append(np.where((k >= 0) & (n[kk] > 0), p[kk] / np.maximum(n[kk], 1), 0.0))
    return out


def complexity_weights(flops: Sequence[float] | np.ndarray, ref_flops: Sequence[float] | np.ndarray | None = None,
                       bins: int | Sequence[float] = DEFAULT_BINS) -> np.ndarray:
    """Weights for one space: its binned complexity histogram becomes that of ``ref_flops``
    (restricted to the bins both occupy), or uniform over its occupied bins if ``ref_flops`` is None."""
    if ref_flops is None:
        return matched_weights([flops], bins)[0]
    return matched_weights([flops], bins, target=ref_flops)[0]


def normalized_edf(errors: Sequence[float] | np.ndarray, flops: Sequence[float] | np.ndarray,
                   ref_flops: Sequence[float] | np.ndarray | None = None,
                   bins: int | Sequence[float] = DEFAULT_BINS) -> EDF:
    """The complexity-normalized EDF (NDS, Sec. 3.3): each model weighted by
    :func:`complexity_weights` so the space's complexity histogram matches ``ref_flops``'s."""
    err = as_array(errors, "error")
    c = as_array(flops, "flops")
    if c.size != err.size:
        raise AnalysisInputError("flops", f"need one value per model ({err.size}), got {c.size}")
    w = complexity_weights(c, ref_flops, bins)
    if np.count_nonzero(w) < 1:
        raise AnalysisInputError("flops", "no model falls in a bin shared with the reference")
    return edf(err, w)


# ---------------------------------------------------------------------------------- bootstrap
def _band(F: np.ndarray, boot: np.ndarray, grid: np.ndarray, level: float, kind: str) -> Band:
    if not 0 < level < 1:
        raise AnalysisInputError("level", f"must be in (0, 1), got {level}")
    a = (1 - level) / 2
    if kind == "pointwise":
        lo, hi = np.quantile(boot, a, axis=0), np.quantile(boot, 1 - a, axis=0)
    elif kind == "simultaneous":
        c = np.quantile(np.abs(boot - F).max(axis=1), level)
        lo, hi = F - c, F + c
    else:
        raise AnalysisInputError("kind", f"{kind!r} is not 'pointwise' or 'simultaneous'")
    return Band(grid, F, np.clip(lo, 0, 1), np.clip(hi, 0, 1), level, kind)


def _bootstrap(errors: np.ndarray, weight_of: Callable[[np.ndarray], np.ndarray], grid: np.ndarray,
               n_boot: int, seed: int | np.random.Generator | None) -> np.ndarray:
    if n_boot < 10:
        raise AnalysisInputError("n_boot", f"need at least 10 bootstrap samples, got {n_boot}")
    rng = np.random.default_rng(seed)
    n = errors.size
    out = np.empty((n_boot, grid.size))
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        w = weight_of(idx)
        s = w.sum()
        out[b] = cdf_on(errors[idx], w / s, grid) if s > 0 else np.nan
    return out[~np.isnan(out).any(axis=1)]


def edf_band(errors: Sequence[float] | np.ndarray, grid: Sequence[float] | np.ndarray | None = None,
             n_boot: int = 1000, level: float = 0.95, kind: str = "pointwise",
             seed: int | np.random.Generator | None = 0, weights: np.ndarray | None = None) -> Band:
    """Bootstrap confidence band of the EDF: resample models with replacement ``n_boot`` times.

    ``pointwise`` gives percentile intervals at each grid point; ``simultaneous`` gives the
    band ``F +- c`` with ``c`` the ``level`` quantile of the bootstrap sup-distance, which
    holds the whole true CDF with probability about ``level``.
    """
    err = as_array(errors, "error")
    w = _weights(weights, err.size)
    g = np.unique(err) if grid is None else np.sort(as_array(grid, "grid", min_size=1))
    F = cdf_on(err, w, g)
    return _band(F, _bootstrap(err, lambda idx: w[idx], g, n_boot, seed), g, level, kind)


def normalized_edf_band(errors: Sequence[float] | np.ndarray, flops: Sequence[float] | np.ndarray,
                        ref_flops: Sequence[float] | np.ndarray | None = None,
                        grid: Sequence[float] | np.ndarray | None = None, bins: int | Sequence[float] = DEFAULT_BINS,
                        n_boot: int = 1000, level: float = 0.95, kind: str = "pointwise",
                        seed: int | np.random.Generator | None = 0) -> Band:
    """Bootstrap band of the normalized EDF; the weights are recomputed for every resample
    on fixed bin edges (those of the data and the reference)."""
    err, c = as_array(errors, "error"), as_array(flops, "flops")
    if c.size != err.size:
        raise AnalysisInputError("flops", f"need one value per model ({err.size}), got {c.size}")
    edges = complexity_bins(c, *(() if ref_flops is None else (ref_flops,)), bins=bins)
    w = complexity_weights(c, ref_flops, edges)
    g = np.unique(err) if grid is None else np.sort(as_array(grid, "grid", min_size=1))
    F = cdf_on(err, w / w.sum(), g)

    def weight_of(idx: np.ndarray) -> np.ndarray:
        try:
            return complexity_weights(c[idx], ref_flops, edges)
        except AnalysisInputError:
            return np.zeros(idx.size)

    return _band(F, _bootstrap(err, weight_of, g, n_boot, seed), g, level, kind)
