"""Fault injection: SIGINT, SIGTERM and SIGKILL at several points of every command that writes.

Afterwards there is no partial output and no temporary file (after a SIGKILL, nothing can run:
the next run removes the leftover), and a study holds exactly n finished trials once resumed,
none duplicated."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "search"))
from test_study_helpers import env, popen, tiny_spec, trained, trials  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MAIN = "import sys; from designspace.cli import main; sys.exit(main())"
SIGS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}


def start(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", MAIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=kw.pop("cwd", ROOT), env=kw.pop("env", env()), **kw)


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".part"))]


def wait_for(pred, timeout: float = 60.0) -> None:
    t = time.time() + timeout
    while time.time() < t:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("when", ["sampling", "writing"])
def test_sample(tmp_path, sig, when):
    out = tmp_path / "s.jsonl"
    out.write_text("old\n")
    p = start("sample", "--space", "resnet", "--n", "40000", "-o", str(out))
    if when == "sampling":
        time.sleep(1.0)
    else:
        wait_for(lambda: temporaries(tmp_path))
    p.send_signal(sig)
    p.communicate(timeout=120)
    assert p.returncode == EXIT[sig]
    assert out.read_text() == "old\n"  # the old file or the complete new one, never a part
    if sig != signal.SIGKILL:
        assert temporaries(tmp_path) == []
    r = start("sample", "--space", "resnet", "--n", "20", "-o", str(out))
    r.communicate(timeout=120)
    assert r.returncode == 0 and temporaries(tmp_path) == [] and len(out.read_text().splitlines()) == 20


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: signal.Signals(s).name)
def test_train_out(tmp_path, sig):
    out = tmp_path / "r.json"
    p = start("train", "regnetx_002", "--data", "digits", "--epochs", "50", "--batch-size", "32", "--out", str(out))
    time.sleep(6.0)  # training
    p.send_signal(sig)
    p.communicate(timeout=120)
    assert p.returncode == EXIT[sig]
    assert not out.exists() and temporaries(tmp_path) == []


# each signal once with one worker; with two workers: the signals sent to the parent alone
# (`kill -INT <pid>`, a scheduler's SIGTERM) and SIGKILL of the whole tree; "group" is a
# terminal's Ctrl-C, which reaches the parent and every worker at once
@pytest.mark.parametrize("workers, sig", [(1, signal.SIGINT), (1, signal.SIGTERM), (1, signal.SIGKILL),
                                          (2, signal.SIGINT), (2, "group"), (2, signal.SIGTERM), (2, signal.SIGKILL)],
                         ids=lambda v: signal.Signals(v).name if isinstance(v, signal.Signals) else str(v))
def test_study_run_resumes_to_exactly_n(tmp_path, sig, workers):
    spec = tiny_spec(tmp_path / "f.toml", "f", 4)
    url = f"sqlite:///{tmp_path / 'f.db'}"
    # trials of 2 s: a poll of the storage sees one running after one finished even on a loaded
    # machine, and the parent passes an interrupt on (after 0.5 s) before the run ends
    e = env(fake=True, epoch_s=1.0)
    p = popen("study", "run", str(spec), "--workers", str(workers), env=e, start_new_session=True)

    def running() -> bool:
        if not (tmp_path / "f.db").exists():
            return False
        try:
            ts = trials(url, "f")
        except Exception:
            return False
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in ts) >= 1 and any(
            t.state == optuna.trial.TrialState.RUNNING for t in ts)

    try:
        wait_for(running)
        if sig == signal.SIGKILL:  # the whole tree dies at once: workers first, then the parent
            subprocess.run(["pkill", "-KILL", "-P", str(p.pid)])
        if sig == "group":
            os.killpg(p.pid, signal.SIGINT)
        else:
            p.send_signal(sig)
        p.communicate(timeout=180)
    finally:  # a failed wait must not leave the run (its own session) behind
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
    # an interrupt, to the parent alone (passed on to the workers) or to the whole group, stops
    # the run after the running trials finish: none is abandoned
    assert p.returncode == EXIT[signal.SIGINT if sig == "group" else sig], p.returncode
    if sig in (signal.SIGINT, "group"):
        reasons = [t.user_attrs.get("reason", "") for t in trials(url, "f")]
        assert not any(r.startswith("abandoned") for r in reasons), reasons
    r = popen("study", "run", str(spec), "--workers", str(workers), env=e)
    out, err = r.communicate(timeout=240)
    assert r.returncode == 0, err
    ts = trials(url, "f")
    from designspace.search.study.worker import slots

    held = slots(ts)
    done = [t for t in held.values() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(held) == 4 and len(done) == 4
    keys = [t.system_attrs.get("fixed_params") and json.dumps(t.system_attrs["fixed_params"], sort_keys=True)
            for t in done]
    assert len(set(keys)) == len(keys)  # no draw trained twice
    assert len([t for t in trained(ts) if t.state == optuna.trial.TrialState.COMPLETE]) == 4


def _workers_of(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat, cmd = (d / "stat").read_text(), (d / "cmdline").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "spawn_main" in cmd:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc to find the worker processes")
def test_workers_of_a_killed_parent_finish_their_trial_and_stop(tmp_path):
    """SIGKILL to the parent alone (the OOM killer's choice): its workers notice, finish their
    running trials (none abandoned) and exit instead of running on unsupervised; a re-run
    resumes to exactly n."""
    spec = tiny_spec(tmp_path / "o.toml", "o", 6)
    url = f"sqlite:///{tmp_path / 'o.db'}"
    e = env(fake=True, epoch_s=1.0)
    p = popen("study", "run", str(spec), "--workers", "2", env=e, start_new_session=True)
    workers: list[int] = []
    try:
        def running() -> bool:
            workers[:] = _workers_of(p.pid)
            try:
                ts = trials(url, "o") if (tmp_path / "o.db").exists() else []
            except Exception:
                return False
            return len(workers) == 2 and any(t.state == optuna.trial.TrialState.RUNNING for t in ts)

        wait_for(running)
        p.kill()
        p.communicate(timeout=60)
        wait_for(lambda: not any(_alive(w) for w in workers), timeout=90)
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    ts = trials(url, "o")
    assert not any(t.user_attrs.get("reason", "").startswith("abandoned") for t in ts)
    assert not any(t.state == optuna.trial.TrialState.RUNNING for t in ts)  # each finished its trial
    assert len(trained(ts)) < 6  # they stopped instead of running the study to its end
    r = popen("study", "run", str(spec), "--workers", "2", env=e)
    out, err = r.communicate(timeout=240)
    assert r.returncode == 0, err
    ts = trials(url, "o")
    assert len([t for t in trained(ts) if t.state == optuna.trial.TrialState.COMPLETE]) == 6


@pytest.mark.parametrize("sig", SIGS, ids=lambda s: signal.Signals(s).name)
def test_export_and_analyze_never_leave_a_part(tmp_path, sig):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 20000
    pd.DataFrame({"error": rng.uniform(0.1, 0.6, n), "flops": rng.uniform(1e6, 1e7, n),
                  "space": rng.choice(["a", "b"], n)}).to_csv(tmp_path / "m.csv", index=False)
    report = tmp_path / "r.html"
    for delay in (0.5, 2.5):
        p = start("analyze", str(tmp_path / "m.csv"), "--bootstrap", "200", "-o", str(report))
        time.sleep(delay)
        p.send_signal(sig)
        p.communicate(timeout=180)
        if report.exists():  # finished before the signal: then it is complete
            assert report.read_text().rstrip().endswith("</html>")
            report.unlink()
        if sig != signal.SIGKILL:
            assert temporaries(tmp_path) == []
    r = start("analyze", str(tmp_path / "m.csv"), "--bootstrap", "50", "-o", str(report))
    r.communicate(timeout=300)
    assert r.returncode == 0 and temporaries(tmp_path) == []


def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly(tmp_path):
    """``designspace ... -o - | head -1``: every command that writes a table or report to standard
    output stops at the closed pipe with exit 0 and no message (no 'error: BrokenPipeError')."""
    import numpy as np
    import pandas as pd

    from designspace.search.study import run_study

    spec = tiny_spec(tmp_path / "st.toml", "st", 160)
    run_study(spec, trainer="designspace.search.study.objective:no_training")
    rng = np.random.default_rng(0)
    pd.DataFrame({"error": rng.uniform(0.1, 0.6, 200), "flops": rng.uniform(1e6, 1e7, 200),
                  "space": rng.choice(["a", "b"], 200)}).to_csv(tmp_path / "m.csv", index=False)
    export = start("study", "export", str(spec), "-o", str(tmp_path / "all.csv"))
    assert export.wait(timeout=120) == 0
    assert (tmp_path / "all.csv").stat().st_size > 2 * 65536  # more than a pipe and a buffer hold: the writer meets the close
    for args in (["sample", "--n", "3000", "-o", "-"], ["study", "export", str(spec), "-o", "-"],
                 ["analyze", str(tmp_path / "m.csv"), "--bootstrap", "20", "-o", "-"]):
        p = start(*args)
        first = p.stdout.readline()
        p.stdout.close()
        err = p.stderr.read()
        p.wait(timeout=180)
        assert first.strip(), (args, err)
        assert p.returncode == 0, (args, err)
        assert "Traceback" not in err and "BrokenPipe" not in err and "error:" not in err, (args, err)
    assert not (ROOT / "-").exists() and not (tmp_path / "-").exists()


# ------------------------------------------------------------------------------ a full disk
# Injected ENOSPC (runs anywhere, no privileges): the operating system's answer to a write on a
# full disk, at the point where it comes.  test_a_real_full_disk does the same on a 2 MiB tmpfs
# where the machine allows mounting one.
FULL = "no space left on device writing"


def _inode(path: Path) -> int:
    return os.stat(path).st_ino


def _full_disk_for(monkeypatch, path: Path, after: int = 100) -> None:
    """``os.write`` to ``path`` writes ``after`` bytes, then fails with ENOSPC (a disk that fills
    in the middle of a line); writes to every other file go through."""
    import errno

    real, ino = os.write, _inode(path)

    def write(fd, data):
        if os.fstat(fd).st_ino == ino:
            n = real(fd, bytes(data)[:after])
            if n < len(data):
                raise OSError(errno.ENOSPC, "No space left on device")
            return n
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


def _fsync_full(monkeypatch) -> None:
    """Every fsync fails with ENOSPC (a network or delayed-allocation file system reports a full
    disk when the data reaches it)."""
    import errno

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)


def _one_line(err: str, path: Path, command: str) -> None:
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines and lines[-1] == f"designspace {command}: error: {FULL} {path}", err
    assert "Traceback" not in err


def test_a_results_line_is_whole_or_absent_when_the_disk_fills(tmp_path, monkeypatch, capsys):
    """The issue's case: a population whose results file fills the disk in its third line."""
    from designspace.cli import main

    sys.path.insert(0, str(Path(__file__).resolve().parent / "search"))
    from test_population import RES, SPECS

    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"spec": s.to_json()}) + "\n" for s in SPECS[:2]))
    out = tmp_path / "r.jsonl"
    argv = ["train", str(samples), "--data", "digits", "--resolution", str(RES), "--epochs", "1", "--batch-size", "64",
            "-o", str(out)]
    assert main(argv[:-1] + [str(tmp_path / "first.jsonl")]) == 0
    first = (tmp_path / "first.jsonl").read_text().splitlines(keepends=True)
    out.write_text(first[0])  # one model trained earlier: the run resumes and appends the second
    capsys.readouterr()
    _full_disk_for(monkeypatch, out)
    assert main(argv) == 1
    got = capsys.readouterr()
    _one_line(got.err, out, "train")
    second = json.loads(first[1])  # the model trained in this run: its result is printed though not stored
    assert f"model {second['index']} {second['id']}: error {100 * second['error']:.2f}%" in got.out
    assert out.read_text() == first[0]  # the cut line is gone: whole lines only
    monkeypatch.undo()
    assert main(argv) == 0  # space again: the same command resumes and completes the file
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(l)["status"] == "done" for l in lines)


def test_line_appender_keeps_whole_lines_through_any_failure(tmp_path, monkeypatch):
    from designspace.files import DiskFull, LineAppender

    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"b": ')  # a line torn by a SIGKILL or a crash
    with LineAppender(path) as f:
        assert path.read_text() == '{"a": 1}\n'  # cut when opened again
        f.append('{"c": 3}')
    real = os.write

    def interrupted(fd, data):  # Ctrl-C after part of the line reached the file
        real(fd, bytes(data)[:3])
        raise KeyboardInterrupt

    with LineAppender(path) as f:
        monkeypatch.setattr(os, "write", interrupted)
        with pytest.raises(KeyboardInterrupt):
            f.append('{"d": 4}')
        monkeypatch.undo()
        assert path.read_text() == '{"a": 1}\n{"c": 3}\n'
        _full_disk_for(monkeypatch, path, after=2)
        with pytest.raises(DiskFull, match=f"{FULL} {path}"):
            f.append('{"e": 5}')
        assert path.read_text() == '{"a": 1}\n{"c": 3}\n'


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_sample_on_a_full_disk_is_one_line_and_leaves_the_old_file(tmp_path, monkeypatch, capsys, fmt):
    from designspace.cli import main

    out = tmp_path / f"s.{fmt}"
    out.write_text("old\n")
    _fsync_full(monkeypatch)
    assert main(["sample", "--n", "200", "-o", str(out)]) == 1
    _one_line(capsys.readouterr().err, out, "sample")
    assert out.read_text() == "old\n" and temporaries(tmp_path) == []


def test_train_out_on_a_full_disk_keeps_the_printed_result(tmp_path, monkeypatch, capsys):
    from designspace.cli import main

    sys.path.insert(0, str(Path(__file__).resolve().parent / "search"))
    from test_population import RES, SPECS

    spec = tmp_path / "net.json"
    spec.write_text(SPECS[0].to_json())
    out = tmp_path / "r.json"
    _fsync_full(monkeypatch)
    assert main(["train", str(spec), "--data", "digits", "--resolution", str(RES), "--epochs", "1",
                 "-o", str(out)]) == 1
    cap = capsys.readouterr()
    _one_line(cap.err, out, "train")
    assert "top-1 error" in cap.out  # what was computed is on the screen
    assert not out.exists() and temporaries(tmp_path) == []


def test_analyze_on_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    from designspace.cli import main

    (tmp_path / "m.csv").write_text("error,flops,space\n" + "".join(f"{0.1 + i / 100},{1e6 + i},{'ab'[i % 2]}\n"
                                                                    for i in range(40)))
    out = tmp_path / "r.html"
    _fsync_full(monkeypatch)
    assert main(["analyze", str(tmp_path / "m.csv"), "--bootstrap", "20", "-o", str(out)]) == 1
    _one_line(capsys.readouterr().err, out, "analyze")
    assert not out.exists() and temporaries(tmp_path) == []


def test_bench_cache_on_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    import sqlite3

    from designspace import measure as m
    from designspace.cli import main

    cache = tmp_path / "m.sqlite"
    monkeypatch.setenv("DESIGNSPACE_CACHE", str(cache))
    real = m._connect

    class Full:  # SQLite's answer on a full disk, at the insert
        def __init__(self, con):
            self.con = con

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.con.close()

        def execute(self, sql, *a):
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.con.execute(sql, *a)

    monkeypatch.setattr(m, "_connect", lambda path: Full(real(path)))
    assert main(["bench", "regnetx_002", "--resolution", "32", "--rounds", "1", "--steps", "1", "--batch", "2"]) == 1
    _one_line(capsys.readouterr().err, cache, "bench")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting a tmpfs needs root; the "
                    "injected-ENOSPC tests above cover the same paths")
def test_a_real_full_disk(tmp_path):
    """The issue's commands on a 2 MiB tmpfs filled to its last pages."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("this machine refuses to mount a tmpfs (a container without the capability)")
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt / 'fill'}", "bs=4k", "count=511"], capture_output=True)
        for args, out in ((["sample", "--n", "20000", "-o"], "s.jsonl"),
                          (["sample", "--n", "20000", "--format", "csv", "-o"], "s.csv")):
            p = start(*args, str(mnt / out))
            _, err = p.communicate(timeout=300)
            assert p.returncode == 1 and err.strip() == f"designspace sample: error: {FULL} {mnt / out}", err
            assert sorted(x.name for x in mnt.iterdir()) == ["fill"]  # nothing partial, no temporary file
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# ====================================================================================== study runtime
# Faults of the study runtime (issue 29): a PostgreSQL server stopped and started under a running
# study, two parents on one storage at once, an interrupted export.  Kept apart to ease merging.
def _own_postgres(tmp_path: Path):
    """A throw-away PostgreSQL server, started as CI starts one (.ci/postgres.sh), that the test
    may stop and start: ``(url, stop, start, close)``."""
    import shutil

    r = subprocess.run(["bash", "-c", 'source .ci/postgres.sh >&2; echo "$DESIGNSPACE_TEST_POSTGRES_URL"; echo "$PG_CI_DIR"'],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    url, _, folder = r.stdout.strip().partition("\n")
    if not url:
        pytest.skip(f"no PostgreSQL server could be started here: {r.stderr.strip()[-300:]}")
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")])[-1]
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data, port = Path(folder) / "data", url.rsplit(":", 1)[1].split("/")[0]
    ctl = [*runas, str(bindir / "pg_ctl"), "-D", str(data)]

    def stop() -> None:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=True, capture_output=True)

    def start() -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=100 -c fsync=off"
        subprocess.run([*ctl, "-l", str(data / "server.log"), "-w", "-o", opts, "start"], check=True, capture_output=True)

    def close() -> None:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

    return url, stop, start, close


def _complete(url: str, name: str) -> int:
    try:
        return sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials(url, name))
    except Exception:
        return 0


def _exactly(ts: list, n: int) -> None:
    """``n`` counted trials, all complete, no network trained twice, nothing left RUNNING."""
    from designspace.search.study.view import slots

    held = slots(ts)
    assert len(held) == n and all(t.state == optuna.trial.TrialState.COMPLETE for t in held.values()), \
        sorted((k, t.state.name) for k, t in held.items())
    ids = [t.user_attrs.get("spec_id") for t in held.values()]
    assert len(set(ids)) == n, ids
    assert not [t.number for t in ts if t.state == optuna.trial.TrialState.RUNNING]


def _clean(err: str) -> None:
    for bad in ("Traceback", "Exception ignored", "sqlalchemy", "psycopg2.OperationalError", "invalid data in the commit"):
        assert bad not in err, err


def test_a_postgres_outage_is_waited_out_and_a_longer_one_ends_in_one_line(tmp_path):
    url, stop, start, close = _own_postgres(tmp_path)
    password = url.split(":")[2].split("@")[0]
    try:
        # 1. stopped for 20 s after 2 of 10 trials: every worker waits, the run ends whole, exit 0
        spec = tiny_spec(tmp_path / "o.toml", "outage", 10)
        e = env(fake=True, epoch_s=0.5)
        p = popen("study", "run", str(spec), "--workers", "4", "--storage", url, env=e)
        wait_for(lambda: _complete(url, "outage") >= 2, timeout=180)
        stop()
        time.sleep(20)
        start()
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        _clean(err)
        assert "unreachable, retrying" in err and password not in err + out, err
        _exactly(trials(url, "outage"), 10)
        # 2. stopped for longer than --storage-retry: one line naming the storage, exit 1; then resumed
        spec = tiny_spec(tmp_path / "o2.toml", "outage2", 6)
        p = popen("study", "run", str(spec), "--workers", "2", "--storage", url, "--storage-retry", "5", env=e)
        wait_for(lambda: _complete(url, "outage2") >= 1, timeout=180)
        stop()
        out, err = p.communicate(timeout=240)
        start()
        assert p.returncode == 1, err
        _clean(err)
        last = err.strip().splitlines()[-1]
        assert "unreachable for 5 s" in last and "127.0.0.1" in last and password not in err, err
        r = popen("study", "run", str(spec), "--workers", "2", "--storage", url, env=e)
        out, err = r.communicate(timeout=300)
        assert r.returncode == 0, err
        _exactly(trials(url, "outage2"), 6)
    finally:
        close()


def _journal_trials(path: Path, name: str) -> list:
    from optuna.storages.journal import JournalFileBackend

    st = optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=st).get_trials(deepcopy=False)


def _two_parents(spec, storage) -> list[str]:
    """Two ``study run --workers 2`` started at once on one storage; each must end cleanly.
    Returns their standard outputs."""
    e = env(fake=True, epoch_s=0.05)
    ps = [popen("study", "run", str(spec), "--workers", "2", "--storage", str(storage), env=e) for _ in range(2)]
    outs = []
    for p in ps:
        out, err = p.communicate(timeout=400)
        assert p.returncode == 0, err
        _clean(err)
        assert "Error" not in err and "exited with code" not in err, err
        outs.append(out)
    return outs


def _stored(storage, kind: str, name: str):
    return _journal_trials(storage, name) if kind == "journal" else trials(f"sqlite:///{storage}", name)


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_two_parents_on_one_storage_end_with_exactly_n(tmp_path, kind):
    """Two ``study run --workers 2`` started at once on one journal file or SQLite file."""
    spec = tiny_spec(tmp_path / "c.toml", "c", 12)
    storage = tmp_path / ("c.journal" if kind == "journal" else "c.db")
    for out in _two_parents(spec, storage):
        assert "12/12 trials finished" in out, out
    _exactly(_stored(storage, kind, "c"), 12)


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_two_tpe_parents_on_one_storage_train_no_network_twice(tmp_path, kind):
    """The narrow race of two parents whose TPE samplers propose at once: both parents' worker 0
    start with one seed and one history, so they propose the same networks in lockstep; the
    study still ends with exactly n trials, none of its counted networks trained twice."""
    spec = tiny_spec(tmp_path / "t.toml", "t", 16, sampler={"name": "tpe", "n_startup_trials": 4})
    storage = tmp_path / ("t.journal" if kind == "journal" else "t.db")
    _two_parents(spec, storage)
    _exactly(_stored(storage, kind, "t"), 16)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: signal.Signals(s).name)
def test_an_interrupted_export_leaves_no_wal_or_shm(tmp_path, sig):
    spec = tiny_spec(tmp_path / "x.toml", "x", 300)
    r = popen("study", "run", str(spec), env=env(fake=True))
    assert r.wait(timeout=300) == 0
    leftovers = lambda: sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm", "-journal")))
    assert leftovers() == []
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        p = start("study", "export", str(spec), "-o", str(tmp_path / "all.csv"))
        time.sleep(delay)
        p.send_signal(sig)
        p.communicate(timeout=120)
        assert leftovers() == [], (delay, leftovers())
        assert temporaries(tmp_path) == []
