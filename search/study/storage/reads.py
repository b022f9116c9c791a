"""Reading the trials created or changed since the last read (:func:`read_trials_since`), the
worker's read before each trial's draw and slot check, and one trial (:func:`read_trial`).

On SQLite and PostgreSQL two queries: the trial rows (through Optuna's ORM model, whose
timestamps are converted as this Optuna converts them) and one ``UNION ALL`` of their
parameters, values, intermediate values and attributes.  Optuna's ``RDBStorage._get_trials``
builds the same frozen trials with seven queries and the ORM's per-row work, about three times
the time of a read that returns one or two trials (the common case, twice per trial).
``tests/search/test_study_storage.py`` holds the two equal on every kind of value.  Elsewhere
(a journal file, the gRPC proxy) the storage's own cached list.
"""
from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from .access import rdb_backend
from .outage import call

if TYPE_CHECKING:  # pragma: no cover
    import optuna

__all__ = ["read_trials_since", "read_trial"]

#: kinds of row in the attribute query
_PARAM, _VALUE, _STEP, _USER, _SYSTEM = range(5)
#: trials read whose attributes are asked by id (five lists: under SQLite's oldest limit of 999 parameters)
_LISTED = 150


def read_trials_since(study: "optuna.Study", open_ids: set[int], above_id: int) -> "list[optuna.trial.FrozenTrial]":
    """Trials with ids above ``above_id`` and those in ``open_ids``, by id (two queries on an
    RDB); every trial elsewhere."""
    backend = rdb_backend(study._storage)
    if backend is None:
        return study._storage.get_all_trials(study._study_id, deepcopy=False)
    if backend.engine.name not in ("sqlite", "postgresql"):
        return backend._get_trials(study._study_id, None, open_ids, above_id)
    return call(backend, lambda: _lean_read(backend, study._study_id, open_ids, above_id))


def read_trial(backend: Any, trial_id: int) -> "optuna.trial.FrozenTrial":
    """``RDBStorage.get_trial`` in two queries (a ``KeyError`` for no such trial, as Optuna's)."""
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session) as session:
        got = _read_where(session, models.TrialModel.trial_id == trial_id, lambda: [trial_id])
        if not got:
            models.TrialModel.find_or_raise_by_id(trial_id, session)  # raises
        return got[0]


def _lean_read(backend: Any, study_id: int, open_ids: set[int], above_id: int) -> "list[optuna.trial.FrozenTrial]":
    import sqlalchemy as sa
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    tm = models.TrialModel
    since = tm.trial_id > above_id
    if open_ids:
        since = sa.or_(since, tm.trial_id.in_(sorted(open_ids)))
    where = sa.and_(tm.study_id == study_id, since)
    with _create_scoped_session(backend.scoped_session) as session:
        return _read_where(session, where, lambda: sa.select(tm.trial_id).where(where))


def _read_where(session: Any, where: Any, all_ids: Any) -> "list[optuna.trial.FrozenTrial]":
    """The trials whose rows match ``where``, by id; ``all_ids()``: a query of their ids, for a
    read too large to list them."""
    from optuna.storages._rdb import models

    # sorted here: with ORDER BY, SQLite walks the study's every trial in id order instead
    # of looking up the few asked for (0.9 ms at 10,000 trials, growing with the study)
    rows = sorted(session.query(models.TrialModel).filter(where).all(), key=lambda t: t.trial_id)
    if not rows:
        return []
    # their ids as a list (indexed lookups; a subquery would scan the study's every trial id in
    # each of the five parts), but for a large read (the first), whose list could pass the
    # database's limit on parameters
    ids: Any = [t.trial_id for t in rows] if len(rows) <= _LISTED else all_ids()
    parts = _parts(session.connection().execute(_attribute_query(ids)))
    return [_frozen(t, parts.get(t.trial_id)) for t in rows]


def _attribute_query(ids: Any) -> Any:
    """One ``UNION ALL`` of the rows of the trials ``ids`` in the five tables of trial data:
    ``(trial id, kind, name, number, text, order)``."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    p, v = models.TrialParamModel.__table__.c, models.TrialValueModel.__table__.c
    i = models.TrialIntermediateValueModel.__table__.c
    u, s = models.TrialUserAttributeModel.__table__.c, models.TrialSystemAttributeModel.__table__.c
    text, num = sa.String, sa.Float

    def part(c: Any, kind: int, name: Any, number: Any, txt: Any, order: Any) -> Any:
        return sa.select(c.trial_id, sa.literal(kind).label("kind"), sa.cast(name, text).label("name"),
                         sa.cast(number, num).label("num"), sa.cast(txt, sa.Text).label("txt"),
                         order.label("ord")).where(c.trial_id.in_(ids))

    return sa.union_all(
        part(p, _PARAM, p.param_name, p.param_value, p.distribution_json, p.param_id),
        part(v, _VALUE, v.objective, v.value, v.value_type, v.trial_value_id),
        part(i, _STEP, i.step, i.intermediate_value, i.intermediate_value_type, i.trial_intermediate_value_id),
        part(u, _USER, u.key, sa.null(), u.value_json, u.trial_user_attribute_id),
        part(s, _SYSTEM, s.key, sa.null(), s.value_json, s.trial_system_attribute_id),
    ).order_by("ord")


def _parts(rows: Any) -> dict[int, list[dict[Any, Any]]]:
    """Trial id -> [params, values, intermediate values, user attributes, system attributes]."""
    from optuna.storages._rdb import models

    value_type, step_type = models.TrialValueModel.TrialValueType, models.TrialIntermediateValueModel.TrialIntermediateValueType
    out: dict[int, list[dict[Any, Any]]] = {}
    for tid, kind, name, number, txt, _ in rows:
        part = out.setdefault(tid, [{}, {}, {}, {}, {}])[kind]
        if kind == _PARAM:
            part[name] = (number, txt)
        elif kind == _VALUE:
            part[int(name)] = models.TrialValueModel.stored_repr_to_value(number, value_type[txt])
        elif kind == _STEP:
            part[int(name)] = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(number, step_type[txt])
        else:
            part[name] = json.loads(txt)
    return out


def _frozen(t: Any, parts: "list[dict[Any, Any]] | None") -> "optuna.trial.FrozenTrial":
    """The frozen trial of row ``t`` as Optuna's ``RDBStorage`` builds it."""
    from optuna.trial import FrozenTrial

    params, values, steps, user, system = parts or [{}, {}, {}, {}, {}]
    dists = {name: _distribution(j) for name, (_, j) in params.items()}
    return FrozenTrial(number=t.number, state=t.state, value=None,
                       values=[values[k] for k in sorted(values)] if values else None,
                       datetime_start=t.datetime_start, datetime_complete=t.datetime_complete,
                       params={name: dists[name].to_external_repr(x) for name, (x, _) in params.items()},
                       distributions=dists, user_attrs=user, system_attrs=system, intermediate_values=steps,
                       trial_id=t.trial_id)


@functools.lru_cache(maxsize=1024)
def _distribution(text: str) -> Any:
    from optuna.distributions import json_to_distribution

    return json_to_distribution(text)
