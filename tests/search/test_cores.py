"""Sharing cores among training processes and devices among workers (no GPU needed)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from designspace.search import cores


def test_devices_round_robin():
    assert cores.assign_devices(4, ["cuda:0", "cuda:1"]) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert cores.assign_devices(3, ["cuda:1"]) == ["cuda:1"] * 3  # several workers on one GPU
    assert cores.assign_devices(2, []) == [None, None]
    with pytest.raises(ValueError):
        cores.assign_devices(0, ["cpu"])


def test_parse_devices_checks_names():
    assert cores.parse_devices("cpu, cpu") == ["cpu", "cpu"]
    assert cores.parse_devices(None) == []
    with pytest.raises(ValueError, match="'gpu0' is not a device"):
        cores.parse_devices("cpu,gpu0")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            cores.parse_devices("cuda:0")


def test_user_thread_settings_win(monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cores.thread_choice() == (3, "OMP_NUM_THREADS")
    assert cores.thread_choice(5)[0] == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.delenv("DESIGNSPACE_THREADS", raising=False)
    monkeypatch.setattr(cores, "_torch_threads_at_import", torch.get_num_threads())
    monkeypatch.setattr(cores, "_last_set", None)
    n, why = cores.thread_choice()
    assert 1 <= n <= cores.usable_cores() and "cores" in why
    monkeypatch.setattr(torch, "get_num_threads", lambda: 7)  # a user's torch.set_num_threads(7) after import
    assert cores.thread_choice() == (7, "torch.set_num_threads")


HOLD = "import sys, time; from designspace.search import cores; cores.register(); print('ok', flush=True); time.sleep(60)"


def _eight_cores(monkeypatch, tmp_path) -> dict:
    """A machine of 8 usable cores with no thread variable set and its own trainer registry;
    the environment for the trainers the test starts."""
    import torch

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for v in cores.USER_THREAD_ENV:
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setattr(cores, "usable_cores", lambda: 8)
    monkeypatch.setattr(cores, "_torch_threads_at_import", 8)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    return dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))


def test_live_trainers_divide_the_cores(monkeypatch, tmp_path):
    env = _eight_cores(monkeypatch, tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ok"
        assert cores.live_processes() == 3
        assert cores.thread_choice()[0] == 8 // 3
        procs[0].kill()
        procs[0].wait()
        assert cores.live_processes() == 2 and cores.thread_choice()[0] == 4  # dead ones are dropped
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert cores.live_processes() == 1  # nobody: still at least 1


def test_trainers_of_other_commands_share_the_cores(monkeypatch, tmp_path):
    """Two commands started separately (another shell, two ``&`` jobs: other process groups)
    count each other's trainers, so they share the cores instead of each taking all of them."""
    env = _eight_cores(monkeypatch, tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True, env=env,
                              start_new_session=True) for _ in range(3)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ok"
        assert len(list((tmp_path / f"designspace-trainers-{os.getuid()}").iterdir())) == 3  # 3 process groups
        assert cores.thread_choice() == (2, "8 cores / 3 training process(es) on this machine")
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert cores.thread_choice() == (8, "8 cores / 1 training process(es) on this machine")
    assert not list((tmp_path / f"designspace-trainers-{os.getuid()}").iterdir())  # stale groups removed


def test_other_users_and_reused_pids_are_not_counted(monkeypatch, tmp_path):
    _eight_cores(monkeypatch, tmp_path)
    sleepers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    try:
        other_user = tmp_path / f"designspace-trainers-{os.getuid() + 1}" / "group-1"
        other_user.mkdir(parents=True)
        (other_user / str(sleepers[0].pid)).write_text("")
        mine = tmp_path / f"designspace-trainers-{os.getuid()}"
        regs = [mine / f"group-{i}" / str(p.pid) for i, p in enumerate(sleepers)]
        for r, p in zip(regs, sleepers):
            r.parent.mkdir(parents=True)
            r.write_text(cores._start_time(p.pid))
        assert cores.live_processes() == 2  # this user's two trainers, not the other user's
        regs[0].write_text("1")  # a killed trainer's registration, its pid now another process's
        assert cores.live_processes() == 1 and not regs[0].exists()
        regs[0].parent.mkdir(exist_ok=True)
        regs[0].write_text("")  # an older version's registration (no start time): the pid alone decides
        assert cores.live_processes() == 2
        sleepers[1].kill()
        sleepers[1].wait()
        assert cores.live_processes() == 1 and not regs[1].parent.exists()
    finally:
        for p in sleepers:
            p.kill()
            p.wait()
