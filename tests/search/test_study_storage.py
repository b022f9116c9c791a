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


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
def test_a_trial_finished_and_failed_at_once_ends_one_way(tmp_path, which):
    url = dict(zip(["sqlite", "postgresql"], urls(tmp_path))).get(which)
    if url is None:
        pytest.skip("DESIGNSPACE_TEST_POSTGRES_URL is not set (CI sets it)")
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
