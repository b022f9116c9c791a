"""The input of every analysis: a pandas DataFrame with one row per trained model (one *run*:
rows that share an ``id`` are seed repeats of one network, see :mod:`.network`).

Columns (only ``error`` and the complexity column used are required):

============== ========================================================================
``error``      top-1 error of the trained model, a fraction in [0, 1] or a percentage
``flops``      multiply-adds of conv + linear layers (see ``designspace.CONVENTION``)
``params``     parameter count (optional; a complexity axis like ``flops``)
``acts``       activations: output elements of conv + linear layers (optional)
``space``      the design space (or any group) a model was sampled from; ``--by`` names
               another column to group by
``spec``       the model's ``NetSpec`` as JSON (optional; shown in the best-models table
               and read by :func:`designspace.analysis.fit.regnet_params`)
``id``         a stable network id, e.g. ``NetSpec.id``: rows sharing it are one network
``name``       set only for named-model baselines (e.g. ``regnetx_032``); figures mark them
free params    any numeric column describing the design: ``w0, wa, wm, depth,
               group_width, bottleneck_ratio``, per-stage ``d1..d4, w1..w4, b1..b4,
               g1..g4``; :func:`free_parameters` finds them
============== ========================================================================

Optional ``num_classes`` (classes of the data set: a run at ``1 - 1/num_classes`` error or worse
diverged; default 10) and ``val_size`` (validation images: the report states the error step it
implies) refine the statistics.

Bad input raises :class:`AnalysisInputError` (a ``ValueError``) naming the column and the
problem, never a bare ``KeyError`` or a NaN deep inside a plot.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from designspace.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "AnalysisInputError", "COLUMNS", "KNOWN_PARAMS", "as_array", "check_frame",
    "free_parameters", "from_study_export", "groups", "read_table",
]

#: documented columns -> meaning (kept in sync with the module docstring)
COLUMNS: dict[str, str] = {
    "error": "top-1 error of the trained model",
    "flops": "multiply-adds of conv + linear layers",
    "params": "parameter count",
    "acts": "output elements of conv + linear layers",
    "space": "design space (group) of the model",
    "spec": "NetSpec JSON",
    "id": "stable model id",
    "name": "named-model baseline (e.g. regnetx_032)",
}

#: free-parameter columns recognised by name (plus the per-stage patterns below)
KNOWN_PARAMS = ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio", "se_ratio",
                "width_mult", "depth_mult", "resolution", "kernel_size", "expand_ratio")
_STAGE_PARAM = re.compile(r"^[dwbgk][1-9]$")
_NON_PARAMS = {"error", "flops", "params", "acts", "id", "name", "spec", "space", "seed", "trial",
               "number", "state", "duration", "epochs", "train_error", "val_error", "test_error", "loss"}


class AnalysisInputError(InputError):
    """Input data cannot be analysed; the message names the column (or argument) and why."""

    def __init__(self, column: str, problem: str, message: str | None = None):
        self.column = column
        self.problem = problem
        super().__init__(message or f"{column}: {problem}")


def as_array(values: Any, column: str = "error", min_size: int = 2) -> np.ndarray:
    """A finite 1-D float array, or :class:`AnalysisInputError` naming ``column``."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise AnalysisInputError(column, "values are not numbers") from None
    if a.ndim != 1:
        a = a.reshape(-1) if a.ndim == 0 else a
        if a.ndim != 1:
            raise AnalysisInputError(column, f"expected a 1-D list of values, got shape {a.shape}")
    if a.size == 0:
        raise AnalysisInputError(column, "no models (the input is empty)")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = ", ".join(str(i) for i in idx[:5]) + (", ..." if idx.size > 5 else "")
        raise AnalysisInputError(column, f"{idx.size} missing or non-finite value(s) (NaN/inf) at row(s) {shown}")
    if a.size < min_size:
        raise AnalysisInputError(column, f"only {a.size} model(s); a distribution needs at least {min_size}")
    return a


def check_frame(df: "pd.DataFrame", required: Sequence[str] = ("error",), min_rows: int = 2,
                where: str = "") -> "pd.DataFrame":
    """Check that ``df`` has the ``required`` columns, finite and positive where needed.

    ``where`` (e.g. a file name or a group) prefixes the column in error messages.
    Returns ``df`` unchanged so calls can be chained.
    """
    import pandas as pd

    pre = f"{where}: " if where else ""
    if not isinstance(df, pd.DataFrame):
        raise AnalysisInputError(f"{pre}input", f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise AnalysisInputError(f"{pre}input", "no models (the table is empty)")
    for col in required:
        if col not in df.columns:
            have = ", ".join(map(str, df.columns[:12])) or "none"
            more = f", ... ({len(df.columns)} in all)" if len(df.columns) > 12 else ""
            raise AnalysisInputError(f"{pre}{col}", f"column is missing (columns: {have}{more})",
                                     f"{pre}column {col!r} is missing (columns: {have}{more})")
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        words = raw.notna() & num.isna()
        if words.any():
            i = int(np.flatnonzero(words.to_numpy())[0])
            raise AnalysisInputError(f"{pre}{col}", f"row {i} holds {raw.iloc[i]!r}, which is not a number")
        a = as_array(num, f"{pre}{col}", min_size=min_rows)
        if col in ("flops", "params", "acts") and (a <= 0).any():
            raise AnalysisInputError(f"{pre}{col}", f"must be positive, found {a[a <= 0][0]:g}")
        if col == "error":
            percent = a.max() > 1 and np.median(a) > 1  # a column of percentages
            hi = 100.0 if percent else 1.0
            bad = np.flatnonzero((a < 0) | (a > hi))
            if bad.size:
                i = int(bad[0])
                raise AnalysisInputError(f"{pre}{col}", f"row {i} holds {a[i]:g}: errors are fractions in [0, 1] (or "
                                         "percentages in [0, 100] for the whole column)")
    return df


def free_parameters(df: "pd.DataFrame") -> list[str]:
    """The numeric design-parameter columns of ``df`` that vary (see the module docstring)."""
    import pandas as pd

    out = []
    for col in df.columns:
        c = str(col)
        if c in _NON_PARAMS or not (c in KNOWN_PARAMS or _STAGE_PARAM.match(c)):
            continue
        if pd.api.types.is_numeric_dtype(df[col]) and df[col].nunique(dropna=True) > 1:
            out.append(c)
    return out


def groups(df: "pd.DataFrame", by: str | None) -> "dict[str, pd.DataFrame]":
    """Split ``df`` into named groups by column ``by`` (``None``: one group called ``all``).

    Named-model baselines (rows with a ``name``) are kept out of the groups: they are points
    to mark, not samples of a design space.
    """
    samples = df[df["name"].isna()] if "name" in df.columns else df
    if by is None:
        return {"all": samples}
    if by not in df.columns:
        raise AnalysisInputError(by, f"no such column to group by (columns: {', '.join(map(str, df.columns[:12]))})")
    if samples[by].isna().any():
        raise AnalysisInputError(by, f"{int(samples[by].isna().sum())} row(s) have no group value")
    return {str(k): g for k, g in samples.groupby(by, sort=True)}


def read_table(path: str) -> "pd.DataFrame":
    """Read a CSV (or JSONL with ``.jsonl``) of models; a clear error if it cannot be read."""
    import pandas as pd

    try:
        if path.endswith((".jsonl", ".ndjson")):
            df = pd.read_json(path, lines=True)
        else:
            df = pd.read_csv(path)
    except FileNotFoundError:
        raise AnalysisInputError(path, "file does not exist") from None
    except pd.errors.EmptyDataError:
        raise AnalysisInputError(path, "file is empty (no header, no models)") from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as e:
        raise AnalysisInputError(path, f"cannot be parsed: {str(e).splitlines()[0]}") from None
    except OSError as e:
        raise AnalysisInputError(path, f"cannot be read: {e.strerror}") from None
    return df


def from_study_export(df: "pd.DataFrame") -> "tuple[pd.DataFrame, int]":
    """Adapt a study export (``designspace study export`` / ``designspace.search.study.export_frame``) to
    the columns above; other tables pass through unchanged.

    Keeps only trials that finished and count (``state == COMPLETE``, ``role`` ``counted``, or
    ``reference``: a baseline the space cannot express, trained in the study's sibling), maps
    ``baseline`` -> ``name`` (named-model baselines), ``spec_id`` -> ``id`` and
    ``param_<p>`` -> ``<p>`` where those columns are not already there.  Returns the frame and
    the number of trials dropped.
    """
    n = len(df)
    if "state" in df.columns:
        df = df[df["state"].astype(str) == "COMPLETE"]
    if "role" in df.columns:
        df = df[df["role"].astype(str).isin(["counted", "reference"])]
    renames = {"baseline": "name", "spec_id": "id"}
    renames.update({c: c[len("param_"):] for c in map(str, df.columns) if c.startswith("param_")})
    renames = {a: b for a, b in renames.items() if a in df.columns and b not in df.columns}
    return df.rename(columns=renames).reset_index(drop=True), n - len(df)
