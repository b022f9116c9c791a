"""`designspace sample` end to end, in subprocesses: byte-identical output for a seed, dedupe,
sobol, constraints, the unreachable-regime message, atomic writes (failed and interrupted runs
leave the old file), one-line errors with exit 2, and no torch/pandas/optuna import."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import designspace
from designspace.spaces.sampling import _Uniforms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = "import sys; from designspace.cli import main; sys.exit(main())"
# run the command, then report which heavy modules it imported (on stderr's last line)
PROBE = ("import sys, atexit; atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join("
         "m for m in ('torch', 'pandas', 'optuna', 'plotly', 'scipy') if m in sys.modules) + '\\n')); " + MAIN)


def ds(*args: str, cwd=None, code: str = MAIN, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def records(path) -> list[dict]:
    return [json.loads(line) for line in open(path)]


def test_same_seed_byte_identical_and_prefix(tmp_path):
    a, b, c, d = (tmp_path / f"{k}.jsonl" for k in "abcd")
    for out, seed, n in ((a, "3", "40"), (b, "3", "40"), (c, "4", "40"), (d, "3", "15")):
        r = ds("sample", "--space", "anynetx_c", "--n", n, "--seed", seed, "--flops", "100M:2G", "-o", str(out))
        assert r.returncode == 0, r.stderr
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    # the first 15 records of n=40 are the records of n=15 (one stream of draws)
    assert a.read_bytes().splitlines()[:15] == d.read_bytes().splitlines()
    recs = records(a)
    assert len(recs) == 40 and all(100e6 <= r["flops"] <= 2e9 for r in recs)
    assert list(recs[0])[:2] == ["space", "id"] and list(recs[0])[-5:] == ["resolution", "flops", "params", "acts", "spec"]


def test_default_output_summary_and_no_heavy_imports(tmp_path):
    r = ds("sample", "--n", "50", cwd=tmp_path, code=PROBE)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "MODULES", r.stderr  # no torch/pandas/optuna/plotly/scipy
    out = tmp_path / "regnetx_n50_seed0.jsonl"
    assert len(records(out)) == 50
    assert "kept 50 of" in r.stderr and str(out) in r.stderr and "median" in r.stderr


def test_sobol_only_imports_scipy(tmp_path):
    r = ds("sample", "--n", "30", "--sampler", "sobol", "-o", str(tmp_path / "s.jsonl"), code=PROBE)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "MODULES scipy"
    r2 = ds("sample", "--n", "30", "--sampler", "sobol", "-o", str(tmp_path / "t.jsonl"))
    assert r2.returncode == 0, r2.stderr
    assert (tmp_path / "s.jsonl").read_bytes() == (tmp_path / "t.jsonl").read_bytes()


def test_sobol_points_are_stratified():
    """Scrambled Sobol: 256 points put exactly one point in each 1/256 of every coordinate."""
    u = _Uniforms("sobol", 5, 0).next(256)
    for j in range(5):
        assert sorted(np.floor(u[:, j] * 256).astype(int).tolist()) == list(range(256))
    v = _Uniforms("random", 5, 0).next(256)
    assert any(len(set(np.floor(v[:, j] * 256).astype(int))) < 256 for j in range(5))


def test_dedupe(tmp_path):
    # resnet_rs has 7 x 5 x 6 = 210 distinct models
    r = ds("sample", "--space", "resnet_rs", "--n", "150", "-o", str(tmp_path / "a.jsonl"))
    assert r.returncode == 0, r.stderr
    ids = [x["id"] for x in records(tmp_path / "a.jsonl")]
    assert len(set(ids)) == 150
    r = ds("sample", "--space", "resnet_rs", "--n", "150", "--no-dedupe", "-o", str(tmp_path / "b.jsonl"))
    ids = [x["id"] for x in records(tmp_path / "b.jsonl")]
    assert len(ids) == 150 and len(set(ids)) < 150
    r = ds("sample", "--space", "resnet_rs", "--n", "300", "--budget", "5000", "-o", str(tmp_path / "c.jsonl"))
    assert r.returncode == 1 and "seems to hold only 210 distinct networks" in r.stderr and "ask for at most 210" in r.stderr


def test_csv_and_stdout_agree(tmp_path):
    r = ds("sample", "--space", "efficientnet", "--n", "12", "--params", ":10M", "--format", "csv",
           "-o", str(tmp_path / "e.csv"))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path / "e.csv", newline="")))
    r2 = ds("sample", "--space", "efficientnet", "--n", "12", "--params", ":10M", "-o", "-", "-q")
    assert r2.returncode == 0 and r2.stderr == ""
    js = [json.loads(x) for x in r2.stdout.splitlines()]
    assert len(rows) == len(js) == 12
    for a, b in zip(rows, js):
        assert a["id"] == b["id"] and a["spec"] == b["spec"] and int(a["params"]) == b["params"] <= 10e6
        assert set(a) == set(b) and float(a["gamma"]) == b["gamma"]


def test_resolution_and_classes(tmp_path):
    r = ds("sample", "--n", "10", "--resolution", "32", "--num-classes", "10", "-o", "-", "-q")
    assert r.returncode == 0, r.stderr
    for rec in map(json.loads, r.stdout.splitlines()):
        spec = designspace.NetSpec.from_json(rec["spec"])
        assert spec.resolution == rec["resolution"] == 32 and spec.num_classes == 10
    r = ds("sample", "--space", "resnet_rs", "--n", "10", "--resolution", "200:260", "-o", "-", "-q")
    assert {json.loads(x)["resolution"] for x in r.stdout.splitlines()} <= {224, 256}


def test_unreachable_regime_message_and_old_file_kept(tmp_path):
    out = tmp_path / "keep.jsonl"
    out.write_text("old\n")
    t = time.perf_counter()
    r = ds("sample", "--n", "50", "--flops", "1K:2K", "-o", str(out))
    assert time.perf_counter() - t < 60
    assert r.returncode == 1
    assert "found 0 of 50" in r.stderr and "Widen the regime" in r.stderr and "nothing written" in r.stderr
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["keep.jsonl"]


@pytest.mark.parametrize("args, words", [
    (("--n", "0"), "--n=0"),
    (("--n", "ten"), "--n='ten'"),
    (("--flops", "5M:1M"), "--flops"),
    (("--flops", "lots"), "--flops"),
    (("--space", "nope"), "'nope'"),
    (("--space", "missing.toml"), "missing.toml: cannot read"),
    (("--sampler", "grid"), "--sampler"),
    (("--format", "xml"), "--format"),
    (("--resolution", "16"), "resolution=16"),
    (("-o", "/nonexistent/dir/x.jsonl"), "does not exist"),
])
def test_bad_flags_one_line_exit_2(tmp_path, args, words):
    r = ds("sample", *args, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("designspace sample: error:"), r.stderr
    assert os.listdir(tmp_path) == []


def test_bad_toml_names_key_and_line(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('family = "regnet"\n\n[params.depth]\ntype = "int"\nlow = 6\nhigh = "x"\n')
    r = ds("sample", "--space", str(f), "-o", str(tmp_path / "o.jsonl"))
    assert r.returncode == 2 and "line 6: params.depth.high" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    from designspace.files import atomic_write as write_atomic

    out = tmp_path / "f.jsonl"
    out.write_text("old\n")

    def boom(f):
        f.write("partial\n")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(out), boom)
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["f.jsonl"]
    write_atomic(str(out), lambda f: f.write("new\n"))
    assert out.read_text() == "new\n" and os.listdir(tmp_path) == ["f.jsonl"]


def test_ctrl_c_exits_cleanly(tmp_path):
    out = tmp_path / "f.jsonl"
    out.write_text("old\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-c", MAIN, "sample", "--space", "resnet", "--n", "1000000",
                          "--flops", "1K:", "--budget", "100000000", "-o", str(out)],
                         env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert out.read_text() == "old\n" and os.listdir(tmp_path) == ["f.jsonl"]


def test_python_api_dataframe():
    df = designspace.sample("regnety", n=20, seed=0, flops=(200e6, 800e6))
    assert len(df) == 20 and df.flops.between(200e6, 800e6).all()
    assert list(df.columns[:2]) == ["space", "id"] and {"w0", "wa", "wm", "depth", "group_width"} <= set(df.columns)
    spec = designspace.NetSpec.from_json(df.spec[0])
    assert spec.id == df.id[0] and designspace.count(spec).flops == df.flops[0]
    df2 = designspace.sample("regnety", n=20, seed=0, flops="200M:800M")
    assert df.equals(df2)


def test_a_finite_space_asked_for_more_networks_than_it_holds(tmp_path):
    """resnet_scaling has 2 methods x 5 phi that share one phi = 0 base: 9 distinct networks."""
    out = tmp_path / "rs.jsonl"
    r = ds("sample", "--space", "resnet_scaling", "--n", "10", "-o", str(out))
    assert r.returncode == 1 and "seems to hold only 9 distinct networks" in r.stderr and "ask for at most 9" in r.stderr
    assert not out.exists()
    assert ds("sample", "--space", "resnet_scaling", "--n", "9", "-o", str(out)).returncode == 0
    assert len(out.read_text().splitlines()) == 9
