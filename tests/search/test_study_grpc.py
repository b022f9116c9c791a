"""``designspace storage serve``: Optuna's gRPC proxy in front of a study database; eight workers
on this machine reach it with ``--storage grpc://HOST:PORT`` and end with exactly n trials."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_study_helpers import cli, env, popen, tiny_spec, trials  # noqa: E402

pytest.importorskip("grpc", reason="grpcio (the grpc extra) is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_eight_workers_through_the_proxy_end_with_exactly_n(tmp_path):
    from designspace.search.study.view import slots

    db = f"sqlite:///{tmp_path / 'g.db'}"
    port = _free_port()
    server = popen("storage", "serve", db, "--port", str(port), env=env())
    try:
        deadline = time.time() + 120
        while not _listening(port):
            assert server.poll() is None and time.time() < deadline, server.communicate()[1]
            time.sleep(0.2)
        spec = tiny_spec(tmp_path / "g.toml", "g", 16)
        r = cli("study", "run", str(spec), "--workers", "8", "--storage", f"grpc://127.0.0.1:{port}",
                env=env(fake=True, epoch_s=0.1), timeout=600)
        assert r.returncode == 0, r.stderr
        assert "16/16 trials finished" in r.stdout and "Traceback" not in r.stderr, r.stderr
    finally:
        server.terminate()
        server.communicate(timeout=60)
    ts = trials(db, "g")  # read from the database itself, with plain Optuna
    held = slots(ts)
    assert len(held) == 16 and all(t.state == optuna.trial.TrialState.COMPLETE for t in held.values())
    assert len({t.user_attrs["spec_id"] for t in held.values()}) == 16
    assert not [t for t in ts if t.state == optuna.trial.TrialState.RUNNING]


def test_serve_refuses_a_journal_file_and_a_taken_port(tmp_path):
    r = cli("storage", "serve", str(tmp_path / "s.journal"))
    assert r.returncode == 2 and "not a database URL" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
        r = cli("storage", "serve", f"sqlite:///{tmp_path / 's.db'}", "--port", str(port))
    assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in r.stderr, r.stderr
    assert not (tmp_path / "s.db").exists()
