"""Many workers, one study: exactly n_trials between them on SQLite, a journal file and PostgreSQL."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import optuna
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_study_helpers import by_state, cli, env, popen, tiny_spec, trained, trials  # noqa: E402

from designspace.search.study.worker import SURPLUS_ATTR, slots  # noqa: E402


def _check_exact(ts: list[optuna.trial.FrozenTrial], n: int, min_workers: int) -> None:
    runs = trained(ts)
    assert by_state(runs) == {"COMPLETE": n}, by_state(ts)
    assert len({t.number for t in runs}) == n and len(slots(ts)) == n
    assert len({t.user_attrs["worker"] for t in runs}) >= min_workers  # the work was shared
    surplus = [t for t in ts if t.system_attrs.get(SURPLUS_ATTR)]
    assert all(t.state == optuna.trial.TrialState.FAIL for t in surplus)


def test_two_local_workers_on_sqlite_finish_exactly_n_trials(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "two.toml", "two", 8)
    r = cli("study", "run", str(spec), "--workers", "2", env=env(fake=True, epoch_s=0.1), timeout=180)
    assert r.returncode == 0, r.stderr
    assert "8/8 trials finished" in r.stdout
    _check_exact(trials(f"sqlite:///{tmp_path / 'two.db'}", "two"), 8, 2)


def test_two_local_workers_on_a_journal_file(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "j.toml", "j", 6)
    journal = tmp_path / "j.journal"
    r = cli("study", "run", str(spec), "--workers", "2", "--storage", str(journal),
            env=env(fake=True, epoch_s=0.1), timeout=180)
    assert r.returncode == 0, r.stderr
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    _check_exact(optuna.load_study(study_name="j", storage=storage).get_trials(), 6, 2)


def _postgres_url() -> str:
    url = os.environ.get("DESIGNSPACE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI=true but DESIGNSPACE_TEST_POSTGRES_URL is not set: .ci/postgres.sh did not start PostgreSQL")
        pytest.skip("no PostgreSQL: `source .ci/postgres.sh` starts one and sets DESIGNSPACE_TEST_POSTGRES_URL")
    return url


def test_four_workers_on_two_machines_share_one_postgresql_study(tmp_path: Path) -> None:
    """Two commands with the same URL (as on two machines), two workers each: one study of n trials."""
    url = _postgres_url()
    name = f"pg_{os.getpid()}_{tmp_path.name}"[:60]
    spec = tiny_spec(tmp_path / "pg.toml", name, 8)
    e = env(fake=True, epoch_s=0.1, DESIGNSPACE_STORAGE=url)  # the URL never appears on a command line
    procs = [popen("study", "run", str(spec), "--workers", "2", env=e) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "8/8 trials finished" in out
    ts = trials(url, name)
    _check_exact(ts, 8, 3)
    assert len({t.user_attrs["worker"].rsplit(":", 1)[1] for t in trained(ts)}) >= 3
    secret = urlsplit(url).password
    assert secret and not any(secret in out + err for out, err in outs)
    assert all("***@" in err for _, err in outs)
    optuna.delete_study(study_name=name, storage=url)


def test_slots_follow_retries_and_skip_surplus_and_rejected_trials() -> None:
    """The counting rule on hand-made trials: a retry takes its original's slot, whatever its number."""
    from optuna.trial import TrialState, create_trial

    def t(number: int, state: TrialState, **sa: object) -> optuna.trial.FrozenTrial:
        ft = create_trial(state=state, value=0.5 if state == TrialState.COMPLETE else None, system_attrs=sa)
        ft.number = number
        return ft

    ts = [t(0, TrialState.COMPLETE), t(1, TrialState.FAIL), t(2, TrialState.PRUNED, **{"designspace:rejected": True}),
          t(3, TrialState.RUNNING), t(4, TrialState.FAIL, **{SURPLUS_ATTR: True}),
          t(5, TrialState.FAIL, failed_trial=1), t(6, TrialState.COMPLETE, failed_trial=1, retry_history=[1, 5])]
    held = slots(reversed(ts))
    assert sorted(held) == [0, 1, 3]
    assert held[1].number == 6 and held[3].state == TrialState.RUNNING
    # a trial killed before its slot check, whose retry was then found surplus, holds no slot
    ts += [t(7, TrialState.FAIL), t(8, TrialState.FAIL, failed_trial=7, **{SURPLUS_ATTR: True})]
    assert sorted(slots(ts)) == [0, 1, 3]


@pytest.mark.parametrize("storage", ["sqlite", "journal"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_view_answers_as_a_full_read(tmp_path: Path, storage: str, seed: int) -> None:
    """TrialView reads only new and unfinished trials (one SQL query on RDB storages) and keeps
    sorted slot keys and a spec-id index; after every step of a random history of workers
    creating, retrying, surplus-marking and finishing trials out of order, its answers equal
    the counting rule applied to a full read of the storage."""
    import random

    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    from designspace.search.study.worker import REJECTED_ATTR, TrialView

    url = (f"sqlite:///{tmp_path}/v.db" if storage == "sqlite"
           else optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "v.journal"))))
    study = optuna.create_study(study_name="v", storage=url)
    st, sid_ = study._storage, study._study_id
    view = TrialView(study)
    rng = random.Random(seed)
    running: list[int] = []  # trial ids
    for step in range(80):
        op = rng.random()
        if op < 0.45 or not running:
            tid = st.create_new_trial(sid_)
            num = st.get_trial(tid).number
            if num and rng.random() < 0.2:
                st.set_trial_system_attr(tid, "failed_trial", rng.randrange(num))
            st.set_trial_user_attr(tid, "spec_id", f"net{rng.randrange(12)}")
            running.append(tid)
        else:
            tid = running.pop(rng.randrange(len(running)))
            r = rng.random()
            if r < 0.15:
                st.set_trial_system_attr(tid, SURPLUS_ATTR, True)
            elif r < 0.25:
                st.set_trial_system_attr(tid, REJECTED_ATTR, True)
            state = TrialState.COMPLETE if r > 0.4 else TrialState.FAIL
            st.set_trial_state_values(tid, state, [rng.random()] if state == TrialState.COMPLETE else None)
        if rng.random() < 0.5:
            continue
        view.refresh()
        every = st.get_all_trials(sid_, deepcopy=False)
        full = slots(every)
        assert view.n == len(every)
        assert {k: t.number for k, t in view.slots().items()} == {k: t.number for k, t in full.items()}, step
        assert view.slot_count() == len(full)
        assert view.finished_slots() == sum(1 for t in full.values() if t.state.is_finished())
        for key in range(len(every) + 2):
            assert view.count_before(key) == sum(1 for k in full if k < key)
        held = {t.user_attrs.get("spec_id") for t in every
                if not t.system_attrs.get(SURPLUS_ATTR) and not t.system_attrs.get(REJECTED_ATTR)}
        assert set(view.ids) == held and all(s in view.ids for s in held) and "other" not in view.ids
        for t in every:
            key = int(t.system_attrs.get("failed_trial", t.number))
            sid = t.user_attrs["spec_id"]
            brute = next((u for k, u in sorted(full.items()) if k != key and u.number != t.number
                          and u.user_attrs.get("spec_id") == sid), None)
            got = view.twin(sid, key, t.number)
            assert (got and got.number) == (brute and brute.number), (step, t.number)


def test_journal_storage_heartbeat_retries_a_killed_workers_trial(tmp_path: Path) -> None:
    """Optuna has no journal heartbeat: ours (a trial system attribute) must fail and retry the trial."""
    import signal
    import time

    from optuna.storages.journal import JournalFileBackend

    spec = tiny_spec(tmp_path / "jk.toml", "jk", 3)
    journal = tmp_path / "jk.journal"
    p = popen("study", "run", str(spec), "--storage", str(journal), env=env(fake=True, epoch_s=1.0))
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline:
        if journal.exists() and journal.stat().st_size:
            st = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
            try:
                ts = optuna.load_study(study_name="jk", storage=st).get_trials()
            except Exception:  # the worker is still creating the study
                ts = []
            victim = next((t for t in ts if t.state == optuna.trial.TrialState.RUNNING and t.intermediate_values), None)
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert victim is not None
    r = cli("study", "run", str(spec), "--storage", str(journal), env=env(fake=True, epoch_s=0.1), timeout=120)
    assert r.returncode == 0, r.stderr
    st = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    ts = optuna.load_study(study_name="jk", storage=st).get_trials()
    assert by_state(trained(ts)) == {"COMPLETE": 3, "FAIL": 1}
    retry = [t for t in ts if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state == optuna.trial.TrialState.COMPLETE and retry[0].params == victim.params


def _children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc to find the worker processes")
def test_a_worker_process_that_dies_is_reported_and_replaced(tmp_path: Path) -> None:
    """`--workers 2`: SIGKILL one worker process; the parent says so at once, starts a
    replacement, and the study still ends with exactly n trained trials, none duplicated."""
    import signal
    import time

    spec = tiny_spec(tmp_path / "wk.toml", "wk", 8)
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    p = popen("study", "run", str(spec), "--workers", "2", env=env(fake=True, epoch_s=0.5))
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline:
        if (tmp_path / "wk.db").exists():
            try:
                ts = trials(url, "wk")
            except Exception:  # the study is still being created
                ts = []
            if any(t.state == optuna.trial.TrialState.RUNNING for t in ts):
                workers = [c for c in _children(p.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
                victim = workers[0] if len(workers) == 2 else None
        time.sleep(0.05)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    out, err = p.communicate(timeout=180)
    assert p.returncode == 0, err
    assert "exited with code -9; starting a replacement" in err
    ts = trials(url, "wk")
    done = [t for t in trained(ts) if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(slots(ts)) == 8 and len(done) == 8
    assert len({tuple(sorted(t.params.items())) for t in done}) == len(done)  # none duplicated


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_retried(tmp_path: Path) -> None:
    """A worker killed between ask() and its first heartbeat leaves a RUNNING trial without any
    heartbeat, which Optuna's stale check skips forever (the other workers then wait for it
    forever, as a loaded CI machine once showed). Through the study's own (cached) storage,
    fail_stale must fail it after the grace period and queue its retry; a fresh one is kept."""
    import datetime as dt
    import sqlite3

    from designspace.search.study.spec import load_spec
    from designspace.search.study.storage import fail_stale
    from designspace.search.study.worker import open_study

    spec = load_spec(tiny_spec(tmp_path / "hb.toml", "hb", 4))
    db = tmp_path / "hb.db"
    study = open_study(spec, f"sqlite:///{db}")
    dead, alive = study.ask(), study.ask()  # neither has beaten
    old = (dt.datetime.now() - dt.timedelta(seconds=spec.grace_period + 5)).isoformat(" ")
    with sqlite3.connect(db) as c:  # the dead one started longer than the grace period ago
        c.execute("update trials set datetime_start = ? where number = ?", (old, dead.number))
    fail_stale(study, spec)
    ts = {t.number: t for t in trials(f"sqlite:///{db}", "hb")}
    assert ts[dead.number].state == optuna.trial.TrialState.FAIL
    assert ts[alive.number].state == optuna.trial.TrialState.RUNNING
    retry = [t for t in ts.values() if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state == optuna.trial.TrialState.WAITING


def test_a_worker_that_exhausts_a_finite_space_leaves_no_trial_running(tmp_path: Path) -> None:
    """`study run` refuses n_trials a finite space cannot fill (tests/test_bad_inputs.py); a worker
    called past that check trains each network once, then stops with a clear error, and the
    fresh trial it opened for the draw that failed is closed as surplus, not left RUNNING."""
    from optuna.trial import TrialState

    from designspace.search.study import load_spec
    from designspace.search.study.worker import RegimeDraws, work

    spec = load_spec(tiny_spec(tmp_path / "f.toml", "f", 40, space="efficientnet_scaling", constraints={}))
    old = RegimeDraws.MAX_EMPTY
    RegimeDraws.MAX_EMPTY = 8  # give up sooner than a real run does
    try:
        with pytest.raises(RuntimeError, match="hold no more distinct networks"):
            work(spec, f"sqlite:///{tmp_path / 'f.db'}", 40, trainer="designspace.search.study.objective:no_training")
    finally:
        RegimeDraws.MAX_EMPTY = old
    ts = trials(f"sqlite:///{tmp_path / 'f.db'}", "f")
    assert by_state(ts) == {"COMPLETE": 33, "FAIL": 1}  # 1 + 4 x 8 networks, then the failed draw
    last = ts[-1]
    assert last.state == TrialState.FAIL and last.system_attrs.get(SURPLUS_ATTR) and not last.params
    assert "no network drawn" in last.user_attrs["reason"]
    assert len(slots(ts)) == 33


def test_a_live_trial_failed_as_stale_meanwhile_is_retried_once_and_the_worker_goes_on(tmp_path: Path) -> None:
    """A heartbeat can lapse on a loaded machine (a long storage lock): another worker then fails
    the trial as stale and re-queues it while it still trains.  Its own worker's COMPLETE must
    not also land (the network would count twice): the trial stays FAILED, the worker says so
    and goes on, and the study ends with exactly n finished slots, the retry holding the first."""
    import test_study_helpers as h
    from optuna.trial import TrialState

    from designspace.search.study import load_spec
    from designspace.search.study.worker import work

    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = load_spec(tiny_spec(tmp_path / "s.toml", "s", 3))
    h.STALE.clear()
    h.STALE.update(url=url, name="s")
    summary = work(spec, url, 3, trainer="test_study_helpers:stale_once_trainer")
    ts = trials(url, "s")
    assert by_state(ts) == {"FAIL": 1, "COMPLETE": 3}
    assert ts[0].state == TrialState.FAIL and ts[0].values is None
    held = slots(ts)
    assert sorted(held) == [0, 2, 3] and all(t.state == TrialState.COMPLETE for t in held.values())  # 1 retries 0
    assert held[0].number == 1 and held[0].system_attrs["failed_trial"] == 0
    assert len(trained([t for t in ts if t.state == TrialState.COMPLETE])) == 3
    assert summary.complete == 3 and summary.failed == 1


def test_a_lower_trial_that_records_its_network_late_does_not_train_it_twice(tmp_path: Path) -> None:
    """The narrow race of two parents whose samplers propose one network at once: trial A is
    created first, but records its network only after trial B (created later, same network) was
    admitted and trained.  B saw no twin below it; A must see B above it and stand down, so the
    network is trained once."""
    from optuna.trial import TrialState

    from designspace.search.study import load_spec
    from designspace.search.study.view import TrialView
    from designspace.search.study.worker import Worker

    url = f"sqlite:///{tmp_path / 'r.db'}"
    spec = load_spec(tiny_spec(tmp_path / "r.toml", "r", 4))
    fake = "designspace.search.study.objective:no_training"
    a, b = (Worker(spec, url, 4, worker=i, trainer=fake) for i in range(2))
    params, sid = a.draws(0, set())  # type: ignore[misc]

    def same(number: int) -> tuple[dict, dict, dict]:
        return params, {"draw_id": sid}, {}

    def late(number: int) -> tuple[dict, dict, dict]:  # A's draw is slow: B runs its whole trial meanwhile
        b.view.refresh()
        cb = b.claim(same)
        assert cb is not None and cb.trial.number > number
        assert b.train(cb)
        return same(number)

    a.view.refresh()
    ca = a.claim(late)
    assert ca is not None
    assert a.train(ca) is False and a.summary.surplus == 1
    ts = trials(url, "r")
    assert [(t.number, t.state) for t in ts] == [(0, TrialState.FAIL), (1, TrialState.COMPLETE)]
    assert ts[0].system_attrs.get(SURPLUS_ATTR) and "duplicate of trial 1" in ts[0].user_attrs["reason"]
    held = TrialView(a.study).refresh().slots()
    assert [t.user_attrs["spec_id"] for t in held.values()] == [sid]
