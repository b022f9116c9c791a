"""Design spaces: named free parameters with domains, and a function from them to a NetSpec.

>>> from designspace.spaces import get_space, Regime, sample_records
>>> space = get_space("regnetx", resolution=32, num_classes=10)
>>> res = sample_records(space, n=100, seed=0, regime=Regime.of(flops="10M:50M"))

Built-in spaces (:data:`SPACES`, ``designspace spaces`` lists them): ``anynetx_a`` ...
``anynetx_e``, ``regnet``, ``regnetx``, ``regnety``, ``efficientnet``, ``resnet_rs``,
``resnet``, ``resnext`` (see :mod:`designspace.spaces.builtin` for their definitions and
papers), and custom spaces from TOML files (:mod:`designspace.spaces.custom`).

Every space works two ways over one definition: ``space.sample(rng, n)`` and
``space.suggest(trial)`` for Optuna (see :mod:`designspace.spaces.base`; how regimes are meant
to be enforced in a study is described there).  ``space.params_of(spec)`` goes the other way: the
values that build a given network (a named model), or ``None`` (:mod:`designspace.spaces.inverse`).  Importing this package imports numpy, never
torch, pandas, optuna or scipy.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .base import Batch, Infeasible, Sample, Space, SpaceError
from .builtin import BUILTIN
from .domains import Choice, Float, Int
from .sampling import Regime, RegimeUnreachable, SampleResult, parse_range, sample_records, spec_json

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = [
    "Space", "Sample", "Batch", "Infeasible", "SpaceError", "Int", "Float", "Choice",
    "SPACES", "get_space", "load_space", "Regime", "RegimeUnreachable", "SampleResult",
    "parse_range", "sample_records", "sample_frame", "spec_json",
]

#: the built-in spaces by name
SPACES: dict[str, Space] = BUILTIN


def load_space(path: str | os.PathLike) -> Space:
    """A custom space from a TOML file (see :mod:`designspace.spaces.custom`)."""
    from .custom import load_toml

    return load_toml(path)


def get_space(space: str | os.PathLike | Space, resolution: int | None = None,
              num_classes: int | None = None, in_chans: int | None = None) -> Space:
    """A built-in space by name, a TOML file by path, or a :class:`Space` as is, optionally with
    the resolution fixed and/or another number of classes or input channels."""
    if isinstance(space, Space):
        s = space
    elif str(space) in SPACES:
        s = SPACES[str(space)]
    elif str(space).endswith(".toml") or os.path.sep in str(space) or os.path.exists(str(space)):
        s = load_space(space)
    else:
        import difflib

        close = difflib.get_close_matches(str(space), list(SPACES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SpaceError(f"space {str(space)!r} is neither a built-in space ({', '.join(SPACES)}) "
                         f"nor a .toml file{hint}")
    for name, v in (("resolution", resolution), ("num_classes", num_classes), ("in_chans", in_chans)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise SpaceError(f"{name}={v!r} must be a positive integer")
    return s.configure(resolution=resolution, num_classes=num_classes, in_chans=in_chans)


def sample_frame(space: str | os.PathLike | Space, n: int, seed: int = 0, *, flops: Any = None,
                 params: Any = None, acts: Any = None, resolution: Any = None, num_classes: int | None = None,
                 in_chans: int | None = None,
                 sampler: str = "random", dedupe: bool = True, max_draws: int | None = None) -> "pandas.DataFrame":
    """Sample ``n`` records into a pandas DataFrame (the columns of :func:`sample_records`).

    ``flops``/``params``/``acts`` are ranges: ``(lo, hi)`` with ``None`` for an open end, or a
    string like ``"360M:400M"``.  ``resolution`` is an int (fix the resolution of every spec) or a
    range (keep the specs whose resolution lies in it).
    """
    import pandas as pd

    fixed, res_range = _resolution_arg(resolution)
    sp = get_space(space, resolution=fixed, num_classes=num_classes, in_chans=in_chans)
    base = _regime_of(sp)
    regime = Regime.of(flops=flops, params=params, acts=acts, resolution=res_range)
    regime = merge_regimes(base, regime)
    out = sample_records(sp, n, seed=seed, regime=regime, sampler=sampler, dedupe=dedupe, max_draws=max_draws)
    return pd.DataFrame.from_records(out.records, columns=list(out.columns))


def _resolution_arg(resolution: Any) -> tuple[int | None, Any]:
    if resolution is None:
        return None, None
    if isinstance(resolution, int) and not isinstance(resolution, bool):
        return resolution, None
    if isinstance(resolution, str) and ":" not in resolution:
        try:
            return int(resolution), None
        except ValueError:
            raise SpaceError(f"resolution={resolution!r} is neither an integer nor a range LO:HI") from None
    return None, resolution


def _regime_of(space: Space) -> Regime:
    """The constraints a TOML space declares (built-in spaces declare none)."""
    return getattr(space, "regime", None) or Regime()


def merge_regimes(base: Regime, override: Regime) -> Regime:
    """``override``'s ranges where set, ``base``'s elsewhere."""
    kw = {}
    for name in ("flops", "params", "acts", "resolution"):
        o = getattr(override, name)
        kw[name] = o if o != (None, None) else getattr(base, name)
    return Regime(**kw)
