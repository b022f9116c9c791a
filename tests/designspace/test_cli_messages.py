"""The command line's messages: library code logs, the CLI decides where it goes (-v, -q);
progress bars only on a terminal."""
from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

MAIN = "import sys; from designspace.cli import main; sys.exit(main())"


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", MAIN, *args], capture_output=True, text=True, cwd=cwd)


def test_quiet_default_verbose(tmp_path):
    out = str(tmp_path / "s.jsonl")
    q = run("-q", "sample", "--n", "5", "-o", out)
    assert q.returncode == 0 and q.stderr == ""
    d = run("sample", "--n", "5", "-o", out)
    assert d.returncode == 0 and "wrote 5 records" in d.stderr and "designspace sample:" not in d.stderr.splitlines()[0]
    v = run("sample", "-v", "--n", "5", "-o", out)  # flags after the subcommand work too
    assert v.returncode == 0 and "designspace sample: " in v.stderr and "wrote 5 records" in v.stderr


def test_no_progress_bar_off_a_terminal(tmp_path):
    r = run("sample", "--n", "2000", "-o", str(tmp_path / "s.jsonl"))
    assert "\r" not in r.stderr and "kept" in r.stderr


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal(tmp_path):
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal 120 columns wide
    p = subprocess.Popen([sys.executable, "-c", MAIN, "sample", "--space", "anynetx_e", "--n", "3000", "--flops",
                          "360M:400M", "-o", str(tmp_path / "s.jsonl")], stdin=slave, stdout=subprocess.PIPE,
                         stderr=slave, cwd=tmp_path)
    os.close(slave)
    p.wait(timeout=120)
    chunks = b""
    while True:
        try:
            part = os.read(master, 65536)
        except OSError:
            break
        if not part:
            break
        chunks += part
    os.close(master)
    text = chunks.decode(errors="replace")
    assert p.returncode == 0 and "sampling anynetx_e" in text and "model" in text and "\r" in text
