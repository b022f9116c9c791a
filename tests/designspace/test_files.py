"""The one atomic writer: old file or complete new one, never a temporary left behind (any
exception, Ctrl-C, SIGTERM), the mode a plain open() gives, and leftovers of a SIGKILLed write
removed by the next one."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from designspace.errors import UsageError
from designspace.files import atomic_write, check_output, write_output


def test_failure_keeps_the_old_file(tmp_path):
    out = tmp_path / "f.txt"
    out.write_text("old\n")

    def boom(f):
        f.write("partial\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(out, boom)
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["f.txt"]
    atomic_write(out, lambda f: f.write("new\n"))
    assert out.read_text() == "new\n" and os.listdir(tmp_path) == ["f.txt"]


def test_mode_respects_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        p = atomic_write(tmp_path / "a.txt", lambda f: f.write("x"))
        q = tmp_path / "plain.txt"
        q.write_text("x")
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == (q.stat().st_mode & 0o777) == 0o640


WRITER = """
import sys, time
from designspace.files import atomic_write
def slow(f):
    f.write("x" * 1000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
try:
    atomic_write(sys.argv[1], slow)
finally:
    print("cleaned", flush=True)
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, None), (signal.SIGINT, None), (signal.SIGKILL, -9)])
def test_signals_leave_no_temporary_file(tmp_path, sig, code):
    out = tmp_path / "r.txt"
    out.write_text("old")
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "writing"
    assert len(os.listdir(tmp_path)) == 2  # the target and the temporary
    p.send_signal(sig)
    p.wait(timeout=30)
    assert out.read_text() == "old"
    left = sorted(os.listdir(tmp_path))
    if sig == signal.SIGKILL:
        assert p.returncode == -9 and len(left) == 2  # nothing can run on SIGKILL ...
        atomic_write(out, lambda f: f.write("new"))  # ... so the next write removes the leftover
        assert sorted(os.listdir(tmp_path)) == ["r.txt"] and out.read_text() == "new"
    else:
        assert left == ["r.txt"], left
        assert p.returncode != 0


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    out = tmp_path / "r.txt"
    p = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "writing"
        atomic_write(out, lambda f: f.write("mine"))
        assert len(os.listdir(tmp_path)) == 2  # ours renamed into place, the other writer's still there
    finally:
        p.kill()
        p.wait()


def test_check_output(tmp_path):
    check_output(str(tmp_path / "x.csv"))
    check_output("-")
    with pytest.raises(UsageError, match="is a folder"):
        check_output(str(tmp_path))
    with pytest.raises(UsageError, match="does not exist"):
        check_output(str(tmp_path / "missing" / "x.csv"))
    with pytest.raises(UsageError, match="standard output"):
        check_output("-", allow_stdout=False)


def test_write_output_dash_is_stdout(capsys, tmp_path):
    assert write_output("-", lambda f: f.write("a,b\n")) == "stdout"
    assert capsys.readouterr().out == "a,b\n" and not (tmp_path / "-").exists()
