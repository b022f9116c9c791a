"""Trial state changes of the study storage are compare-and-set: of two workers changing one
trial at once (a live trial finishing as another worker fails it as stale; two workers taking
one queued trial), exactly one succeeds, on SQLite as on PostgreSQL."""
from __future__ import annotations

import os
import threading

import optuna
import pytest
from optuna.trial import TrialState

from designspace.search.study.storage import atomic_rdb_storage

N = 60  # trials raced over; Optuna's own RDBStorage loses some of these races on SQLite


def urls(tmp_path):
    out = [f"sqlite:///{tmp_path / 'race.db'}"]
    if os.environ.get("DESIGNSPACE_TEST_POSTGRES_URL"):
        out.append(os.environ["DESIGNSPACE_TEST_POSTGRES_URL"])
    return out


def race(a, b) -> list[tuple[object, object]]:
    """Run ``a(i)`` and ``b(i)`` in two threads for each ``i``, started together; their results."""
    out = []
    bar = threading.Barrier(2)

    def go(f, i, box, j):
        bar.wait()
        try:
            box[j] = f(i)
        except optuna.exceptions.UpdateFinishedTrialError:
            box[j] = "finished"
        except Exception as e:  # anything else is a failure of the storage, shown by the assertion
            box[j] = repr(e)

    for i in range(N):
        box: list[object] = [None, None]
        ts = [threading.Thread(target=go, args=(f, i, box, j)) for j, f in enumerate((a, b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        out.append(tuple(box))
    return out


def _url(tmp_path, which: str) -> str:
    """The storage URL of ``which`` (sqlite, or the PostgreSQL server CI starts); skips without one."""
    url = dict(zip(["sqlite", "postgresql"], urls(tmp_path))).get(which)
    if url is None:
        pytest.skip("DESIGNSPACE_TEST_POSTGRES_URL is not set (CI sets it)")
    return url


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
def test_a_trial_finished_and_failed_at_once_ends_one_way(tmp_path, which):
    url = _url(tmp_path, which)
    name = f"race{os.getpid()}{tmp_path.name}"[:60]
    study = optuna.create_study(study_name=name, storage=url)
    ids = [study.ask()._trial_id for _ in range(N)]
    # two workers: each its own engine (connection pool), as two processes have
    one, two = atomic_rdb_storage()(url), atomic_rdb_storage()(url)
    got = race(lambda i: one.set_trial_state_values(ids[i], TrialState.COMPLETE, [0.5]),
               lambda i: two.set_trial_state_values(ids[i], TrialState.FAIL))
    final = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    for (done, failed), t in zip(got, final):
        assert sorted(map(str, (done, failed))) == ["True", "finished"], (t.number, done, failed)
        assert t.state == (TrialState.COMPLETE if done is True else TrialState.FAIL), t.number
        assert (t.values == [0.5]) == (done is True)


def test_one_queued_trial_is_taken_by_one_worker(tmp_path):
    url = urls(tmp_path)[0]
    study = optuna.create_study(study_name="q", storage=url)
    for _ in range(N):
        study.enqueue_trial({})
    ids = [t._trial_id for t in study.get_trials(deepcopy=False)]
    one, two = atomic_rdb_storage()(url), atomic_rdb_storage()(url)
    got = race(lambda i: one.set_trial_state_values(ids[i], TrialState.RUNNING),
               lambda i: two.set_trial_state_values(ids[i], TrialState.RUNNING))
    assert all(sorted(g) == [False, True] for g in got), [g for g in got if sorted(g) != [False, True]]
    # and a finished trial cannot be taken or changed
    one.set_trial_state_values(ids[0], TrialState.COMPLETE, [1.0])
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        two.set_trial_state_values(ids[0], TrialState.RUNNING)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        two.set_trial_state_values(ids[0], TrialState.FAIL)


def test_optuna_private_names_are_checked_for_this_version():
    """The storage facade is the one module that reads Optuna's private names (``PRIVATE``); an
    Optuna release it was not checked against fails here, with what to do, not deep in a study."""
    from designspace.search.study.storage import OPTUNA_CHECKED, PRIVATE, missing_private_names

    version = ".".join(optuna.__version__.split(".")[:2])
    assert version in OPTUNA_CHECKED, (
        f"Optuna {optuna.__version__} was not checked against the private names that "
        f"search/study/storage.py uses ({sum(map(len, PRIVATE.values()))} in PRIVATE): check each, run the study "
        f"tests, then add {version!r} to OPTUNA_CHECKED")
    assert missing_private_names() == [], "this Optuna lacks private names the storage facade uses"


def _dbapi_error(text: str) -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, Exception(text))


def test_an_unreachable_storage_is_retried_and_a_bad_one_is_not(caplog):
    import logging

    from designspace.search.study.storage import Outage, StorageUnreachable

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _dbapi_error('connection to server at "127.0.0.1", port 5432 failed: Connection refused')
        return "ok"

    outage = Outage("postgresql://user:secret@db/x", limit_s=30)
    with caplog.at_level(logging.WARNING):
        assert outage.call(flaky) == "ok" and len(calls) == 3
    said = [r.getMessage() for r in caplog.records]
    assert any("unreachable, retrying" in m for m in said) and not any("secret" in m for m in said), said
    assert outage.recovered_at > 0

    calls.clear()
    with pytest.raises(Exception) as e:  # a refused password is not waited on
        outage.call(lambda: calls.append(1) or (_ for _ in ()).throw(_dbapi_error("password authentication failed")))
    assert len(calls) == 1 and not isinstance(e.value, StorageUnreachable)

    gone = Outage("postgresql://user:secret@db/x", limit_s=0.3)
    with pytest.raises(StorageUnreachable, match=r"unreachable for 0 s .*Connection refused.*run the same command") as e:
        gone.call(lambda: (_ for _ in ()).throw(_dbapi_error("Connection refused")))
    assert "secret" not in str(e.value) and "db/x" in str(e.value)
    with pytest.raises(StorageUnreachable):  # once given up, at once (no second wait per call)
        gone.call(lambda: "never")


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
def test_the_lean_read_gives_what_optuna_reads(tmp_path, which):
    """The worker's read of new and unfinished trials (two queries) equals Optuna's own
    ``_get_trials`` (and ``get_trial``) on every kind of value: each distribution, infinite and
    NaN values, several objectives, nested attributes, every state."""
    import math

    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from designspace.search.study.storage import read_trials_since

    url = _url(tmp_path, which)
    name = f"lean{os.getpid()}{tmp_path.name}"[:60]
    st = atomic_rdb_storage()(url)
    study = optuna.create_study(study_name=name, storage=st, directions=["minimize", "maximize"])
    dists = {"w": IntDistribution(8, 512, log=True), "d": IntDistribution(1, 9, step=2), "lr": FloatDistribution(1e-4, 1, log=True),
             "p": FloatDistribution(0, 1, step=0.25), "act": CategoricalDistribution(["relu", None, 3, 2.5, True])}
    for i, state in enumerate([TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL, TrialState.PRUNED,
                               TrialState.WAITING, TrialState.COMPLETE, TrialState.RUNNING]):
        values = [[0.25, math.inf], [-math.inf, 1e300]][i % 2] if state == TrialState.COMPLETE else None
        params = {"w": 16 * (i + 1), "d": 1 + 2 * (i % 4), "lr": 10 ** -(i % 4), "p": 0.25 * (i % 5),
                  "act": dists["act"].choices[i % 5]}
        study.add_trial(optuna.trial.create_trial(
            state=state, values=values, params=params if i % 3 else {}, distributions=dists if i % 3 else {},
            user_attrs={"spec_id": f"n{i}", "nested": {"a": [1, 2.5, None, "x"]}, "unicode": "é ∞"},
            system_attrs={"failed_trial": i - 1} if i else {"fixed_params": {"w": 16}},
            intermediate_values={1: 0.5, 2: math.nan, 3: math.inf, 4: -math.inf} if i % 2 else {}))
    sid = study._study_id
    ids = [t._trial_id for t in st.get_all_trials(sid, deepcopy=False)]
    for open_ids, above in [(set(), -1), ({ids[1], ids[4]}, ids[4]), (set(), ids[5]), ({ids[6]}, ids[-1]), (set(), ids[-1])]:
        lean = read_trials_since(optuna.load_study(study_name=name, storage=st), set(open_ids), above)
        optuna_own = st._get_trials(sid, None, set(open_ids), above)
        lean += [st.get_trial(t._trial_id) for t in lean]  # one trial: the AtomicRDBStorage's own read
        optuna_own += [optuna.storages.RDBStorage.get_trial(st, t._trial_id) for t in optuna_own]
        assert [t.number for t in lean] == [t.number for t in optuna_own]
        for a, b in zip(lean, optuna_own):
            steps = "intermediate_values"  # NaN != NaN: compared as text
            assert repr(sorted(a.intermediate_values.items())) == repr(sorted(b.intermediate_values.items()))
            assert {k: v for k, v in vars(a).items() if k != steps} == {k: v for k, v in vars(b).items() if k != steps}
            assert list(a.params) == list(b.params)


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
def test_our_writes_store_what_optuna_stores(tmp_path, which, monkeypatch):
    """State changes, values and intermediate values written by the storage facade's own
    statements read back (with Optuna's reader) as Optuna's own writes do, timestamps included,
    in a time zone away from UTC (Optuna 5 stores naive UTC, earlier versions local time)."""
    import datetime as dt
    import math
    import time

    url = _url(tmp_path, which)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        name = f"w{os.getpid()}{tmp_path.name}"[:60]
        ours, theirs = atomic_rdb_storage()(url), optuna.storages.RDBStorage(url)
        study = optuna.create_study(study_name=name, storage=ours, directions=["minimize", "maximize"])
        sid = study._study_id
        got = {}
        for who, st in (("ours", ours), ("theirs", theirs)):
            fresh = st._create_new_trial(sid)  # what the cache keeps of a new trial, and what a read gives
            assert vars(fresh) == vars(theirs.get_trial(fresh._trial_id)) and fresh.state == TrialState.RUNNING
            waiting = st.create_new_trial(sid, template_trial=optuna.trial.create_trial(state=TrialState.WAITING))
            assert st.set_trial_state_values(waiting, TrialState.RUNNING)
            for step, v in enumerate([0.5, math.nan, math.inf, -math.inf]):
                st.set_trial_intermediate_value(waiting, step, v)
            st.set_trial_intermediate_value(waiting, 0, 0.25)  # a step written again
            assert st.set_trial_state_values(waiting, TrialState.COMPLETE, [0.125, math.inf])
            got[who] = theirs.get_trial(waiting)
        a, b = got["ours"], got["theirs"]
        assert repr(sorted(a.intermediate_values.items())) == repr(sorted(b.intermediate_values.items()))
        assert a.values == b.values == [0.125, math.inf] and a.state == b.state == TrialState.COMPLETE
        now = dt.datetime.now()
        for t in (a, b):
            assert abs((t.datetime_start - now).total_seconds()) < 60, (t.datetime_start, now)
            assert abs((t.datetime_complete - now).total_seconds()) < 60, (t.datetime_complete, now)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
def test_trials_created_at_once_are_numbered_in_turn(tmp_path, which):
    url = _url(tmp_path, which)
    name = f"n{os.getpid()}{tmp_path.name}"[:60]
    sid = optuna.create_study(study_name=name, storage=url)._study_id
    one, two = atomic_rdb_storage()(url), atomic_rdb_storage()(url)
    got = race(lambda i: one._create_new_trial(sid).number, lambda i: two._create_new_trial(sid).number)
    numbers = sorted(n for pair in got for n in pair)
    assert numbers == list(range(2 * N)), got
    ts = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    assert sorted(t.number for t in ts) == numbers and all(t.state == TrialState.RUNNING for t in ts)
