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


# ------------------------------------------------------------------------ flags and help
def _options(command: str):
    """(``designspace COMMAND [ACTION]``, action) for every option of a subcommand and of its actions."""
    import argparse

    from designspace.cli import _parser

    def walk(p, name):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for n, c in a.choices.items():
                    yield from walk(c, f"{name} {n}")
            elif a.option_strings and not isinstance(a, (argparse._HelpAction, argparse._VersionAction)):
                yield name, a

    top = _parser(command)
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return list(walk(sub, f"designspace {command}"))


# study's and analyze's options belong to their own modules' owners (issue 27 lists study run's)
@pytest.mark.parametrize("command", ["list", "show", "spaces", "sample", "bench", "train", "dashboard"])
def test_every_option_has_help_that_states_its_default(command):
    missing = [f"{name} {'/'.join(a.option_strings)}" for name, a in _options(command)
               if not a.required and "default" not in (a.help or "")]
    assert not missing, missing


@pytest.mark.parametrize("argv", [["sample", "--n", "3", "-q"], ["train", "x.json", "-v"],
                                  ["study", "run", "s.toml", "-q"], ["study", "status", "s.toml", "-v", "-v"],
                                  ["study", "export", "s.toml", "-o", "x.csv", "-q"]])
def test_quiet_and_verbose_after_any_subcommand_and_action(argv):
    from designspace.cli import _parser

    args = _parser(argv[0]).parse_args(argv)
    assert (args.quiet, args.verbose) == ((1, 0) if "-q" in argv else (0, argv.count("-v")))
    where = f"designspace {argv[0]} {argv[1]}" if argv[0] == "study" else f"designspace {argv[0]}"
    assert where in [name for name, a in _options(argv[0]) if "-q" in a.option_strings]  # so --help lists it


@pytest.mark.parametrize("argv, line", [
    (["train", "x.json", "--epochs", "abc"], "designspace train: error: argument --epochs: invalid int value: 'abc'"),
    (["study", "run", "s.toml", "--bogus"], "designspace study: error: unrecognized arguments: --bogus"),
    (["list", "--format", "xml"], "designspace list: error: argument --format: invalid choice: 'xml'"),
    (["sample", "--bogus"], "designspace sample: error: unrecognized arguments: --bogus"),
])
def test_an_argument_argparse_refuses_is_one_line_exit_2(argv, line, capsys):
    from designspace.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(line), err  # no usage dump
