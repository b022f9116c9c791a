"""The catalogue of bad inputs: one row per input, for every subcommand and the public Python API.

A row is (command line, expected exit status, a fragment of the one-line message, files that must
not exist afterwards).  Every usage or input error exits 2 with exactly one line on standard
error that names the flag, field or file and its value; nothing is written.  New commands add
their rows here.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import designspace
from designspace import NetSpec, SpecError
from designspace.cli import main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent / "search"))

from test_study_helpers import tiny_spec, write_spec  # noqa: E402


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "dir").mkdir()
    (d / "ok.csv").write_text("error,flops,space\n" + "".join(f"{0.1 + i / 100},{1e6 + i},a\n" for i in range(10)))
    (d / "neg.csv").write_text("error,flops\n-0.2,1e6\n0.3,2e6\n0.4,3e6\n")
    (d / "big.csv").write_text("error,flops\n1.5,1e6\n0.3,2e6\n0.4,3e6\n")
    (d / "abc.csv").write_text("error,flops\nabc,1e6\n0.3,2e6\n0.4,3e6\n")
    (d / "net.json").write_text(designspace.zoo["regnetx_002"].replace(resolution=32).to_json())
    (d / "bad.json").write_text("{not json")
    (d / "samples.jsonl").write_text(json.dumps({"spec": designspace.zoo["regnetx_002"].to_json()}) + "\n")
    (d / "notjson.jsonl").write_text("oops\n")
    for name, sched in (("e0", {"epochs": 0}), ("eone", {"epochs": "one"}), ("lrneg", {"lr": -1.0})):
        tiny_spec(d / f"{name}.toml", name, 2, schedule=sched)
    tiny_spec(d / "mnistt.toml", "mnistt", 2, dataset={"name": "mnistt"})
    tiny_spec(d / "nodata.toml", "nodata", 2, dataset={"name": "kmnist", "root": str(d / "none")})
    tiny_spec(d / "good.toml", "good", 2)
    # a finite space: 1 + 4 x 8 = 33 distinct networks (4 methods x phi 0.25..2, the phi = 0 base shared)
    tiny_spec(d / "finite.toml", "finite", 40, space="efficientnet_scaling", constraints={})
    tiny_spec(d / "rep.toml", "rep", 2, repeats={"models": 1, "seeds": 1})
    tiny_spec(d / "fid.toml", "fid", 4, fidelity={"models": 3, "epochs": 2})
    write_spec(d / "space_bad.toml", {"family": "regnet", "resolution": 32},
               **{"params.depth": {"type": "int", "low": -4, "high": 6}, "params.w0": {"type": "int", "low": 16, "high": 32, "step": 8},
                  "fixed": {"wa": 20.0, "wm": 2.5, "group_width": 8}})
    return d


def W(d: Path, *parts: str) -> str:
    return str(d.joinpath(*parts))


#: (id, argv with {d} for the workspace, exit status, message fragment, paths that must not exist)
ROWS = [
    # sample
    ("sample-n0", ["sample", "--n", "0", "-o", "{d}/s.jsonl"], 2, "--n=0 must be >= 1", ["s.jsonl"]),
    ("sample-n-word", ["sample", "--n", "many", "-o", "{d}/s.jsonl"], 2, "--n='many' is not an integer", ["s.jsonl"]),
    ("sample-flops-negative", ["sample", "--flops", "-5M:1M", "-o", "{d}/s.jsonl"], 2, "--flops: '-5M'", ["s.jsonl"]),
    ("sample-flops-not-range", ["sample", "--flops", "5M", "-o", "{d}/s.jsonl"], 2, "is not a range LO:HI", ["s.jsonl"]),
    ("sample-space", ["sample", "--space", "regnetz", "-o", "{d}/s.jsonl"], 2, "space 'regnetz' is neither", ["s.jsonl"]),
    ("sample-fixed-resolution", ["sample", "--resolution", "100:200", "-o", "{d}/s.jsonl"], 2,
     "regnetx has resolution 224 (the space does not sample it)", ["s.jsonl"]),
    ("sample-missing-dir", ["sample", "-o", "{d}/missing/s.jsonl"], 2, "does not exist", ["missing"]),
    ("sample-out-dir", ["sample", "-o", "{d}/dir"], 2, "is a folder, not a file", []),
    ("sample-format", ["sample", "--format", "xml", "-o", "{d}/s.xml"], 2, "--format='xml' is not one of", ["s.xml"]),
    ("sample-sampler", ["sample", "--sampler", "halton", "-o", "{d}/s.jsonl"], 2, "--sampler='halton'", ["s.jsonl"]),
    ("sample-unreachable", ["sample", "--flops", "1:2", "--budget", "5000", "-o", "{d}/s.jsonl"], 1, "nothing written",
     ["s.jsonl"]),
    ("sample-bad-space-file", ["sample", "--space", "{d}/space_bad.toml", "-o", "{d}/s.jsonl"], 2,
     "params.depth.low: -4 is a value families.regnet refuses", ["s.jsonl"]),
    ("sample-in-chans", ["sample", "--in-chans", "0", "-o", "{d}/s.jsonl"], 2, "--in-chans=0 must be >= 1", ["s.jsonl"]),
    # upper bounds, refused at once (issue 27: --n 99999999999999999999 ran silently for 150 s)
    ("sample-n-huge", ["sample", "--n", "99999999999999999999", "-o", "{d}/s.jsonl"], 2,
     "--n=99999999999999999999 must be <= 1,000,000", ["s.jsonl"]),
    ("sample-resolution-huge", ["sample", "--resolution", "10000000", "-o", "{d}/s.jsonl"], 2,
     "--resolution=10000000 must be <= 4,096", ["s.jsonl"]),
    ("sample-params-no-bound", ["sample", "--params", ":", "-o", "{d}/s.jsonl"], 2, "--params ':' sets neither end",
     ["s.jsonl"]),
    ("sample-seed-huge", ["sample", "--seed", "99999999999999999999", "-o", "{d}/s.jsonl"], 2,
     "--seed=99999999999999999999 must be <=", ["s.jsonl"]),
    ("sample-budget-huge", ["sample", "--budget", "99999999999999999999", "-o", "{d}/s.jsonl"], 2,
     "--budget=99999999999999999999 must be <=", ["s.jsonl"]),
    ("sample-num-classes-huge", ["sample", "--num-classes", "10000000000", "-o", "{d}/s.jsonl"], 2,
     "--num-classes=10000000000 must be <= 1,000,000", ["s.jsonl"]),
    ("sample-measure-batch-huge", ["sample", "--measure-batch", "10000000", "-o", "{d}/s.jsonl"], 2,
     "--measure-batch=10000000 must be <=", ["s.jsonl"]),
    ("sample-unknown-flag", ["sample", "--bogus", "-o", "{d}/s.jsonl"], 2, "unrecognized arguments: --bogus", ["s.jsonl"]),
    # show, list, spaces
    ("show-unknown", ["show", "resnet51"], 2, "model='resnet51' is not a named model; did you mean", []),
    ("show-missing-file", ["show", "{d}/missing.json"], 2, "spec file", []),
    ("show-bad-json", ["show", "{d}/bad.json"], 2, "is not valid JSON", []),
    ("show-resolution", ["show", "resnet50", "--resolution", "8"], 2, "resolution=8 is too small", []),
    ("show-resolution-huge", ["show", "resnet50", "--resolution", "10000000"], 2, "--resolution=10000000 must be <= 4,096",
     []),
    ("list-family", ["list", "--family", "vgg"], 2, "--family='vgg' is not one of", []),
    ("list-format", ["list", "--format", "xml"], 2, "argument --format: invalid choice: 'xml'", []),
    # bench
    ("bench-batch0", ["bench", "regnetx_002", "--batch", "0"], 2, "--batch 0 must be >= 1", []),
    ("bench-batch-huge", ["bench", "regnetx_002", "--batch", "10000000"], 2, "--batch 10000000 must be <= 65,536", []),
    ("bench-rounds-huge", ["bench", "regnetx_002", "--rounds", "99999999999999999999"], 2,
     "--rounds 99999999999999999999 must be <=", []),
    ("bench-steps-word", ["bench", "regnetx_002", "--steps", "two"], 2, "argument --steps: invalid int value: 'two'", []),
    ("bench-resolution-huge", ["bench", "regnetx_002", "--resolution", "10000000"], 2, "--resolution 10000000 must be <=",
     []),
    ("bench-threads-huge", ["bench", "regnetx_002", "--threads", "100000"], 2, "--threads 100000 must be <= 1,024", []),
    ("bench-compare-unnamed", ["bench", "--compare", "{d}/net.json"], 2, "--compare needs named models", []),
    ("spaces-unknown", ["spaces", "anynetx_z"], 2, "space 'anynetx_z' is neither", []),
    # train: one model
    ("train-out-missing-dir", ["train", "{d}/net.json", "--data", "digits", "--out", "{d}/missing/r.json"], 2,
     "--out {d}/missing/r.json: folder", ["missing"]),
    ("train-out-dir", ["train", "{d}/net.json", "--data", "digits", "--out", "{d}/dir"], 2, "is a folder", []),
    ("train-data", ["train", "{d}/net.json", "--data", "mnistt"], 2, "--data 'mnistt' is not one of", []),
    ("train-epochs", ["train", "{d}/net.json", "--data", "digits", "--epochs", "0"], 2, "--epochs 0 must be", []),
    ("train-lr", ["train", "{d}/net.json", "--data", "digits", "--lr", "-1"], 2, "--lr -1.0 must be", []),
    ("train-amp", ["train", "{d}/net.json", "--data", "digits", "--amp", "fp8"], 2, "--amp 'fp8' is not one of", []),
    ("train-graphs", ["train", "{d}/net.json", "--data", "digits", "--cuda-graphs", "maybe"], 2, "--cuda-graphs 'maybe'", []),
    ("train-device", ["train", "{d}/net.json", "--data", "digits", "--device", "tpu"], 2, "--device 'tpu' is not a device", []),
    ("train-train-size", ["train", "{d}/net.json", "--data", "fashion_mnist", "--train-size", "5"], 2,
     "--train-size 5 must be >= 10", []),
    ("train-train-size-digits", ["train", "{d}/net.json", "--data", "digits", "--train-size", "100"], 2,
     "apply to the MNIST-family", []),
    ("train-split", ["train", "{d}/net.json", "--data", "fashion_mnist", "--split", "dev"], 2, "--split 'dev'", []),
    ("train-epochs-word", ["train", "{d}/net.json", "--data", "digits", "--epochs", "abc"], 2,
     "argument --epochs: invalid int value: 'abc'", []),
    ("train-epochs-huge", ["train", "{d}/net.json", "--data", "digits", "--epochs", "99999999999999999999"], 2,
     "--epochs 99999999999999999999 must be <= 10,000", []),
    ("train-batch-huge", ["train", "{d}/net.json", "--data", "digits", "--batch-size", "100000000"], 2,
     "--batch-size 100000000 must be <= 65,536", []),
    ("train-seed-huge", ["train", "{d}/net.json", "--data", "digits", "--seed", "99999999999999999999"], 2,
     "--seed 99999999999999999999 must be <=", []),
    ("train-seed-negative", ["train", "{d}/net.json", "--data", "digits", "--seed", "-1"], 2,
     "--seed -1 must be an integer >= 0", []),
    ("train-threads-huge", ["train", "{d}/net.json", "--data", "digits", "--threads", "100000"], 2,
     "--threads 100000 must be <= 1,024", []),
    ("train-resolution-huge", ["train", "{d}/net.json", "--data", "digits", "--resolution", "10000000"], 2,
     "--resolution 10000000 must be <= 4,096", []),
    ("train-eval-every-huge", ["train", "{d}/net.json", "--data", "digits", "--eval-every", "99999999999999999999"], 2,
     "--eval-every 99999999999999999999 must be <=", []),
    ("train-val-size-huge", ["train", "{d}/net.json", "--data", "fashion_mnist", "--val-size", "99999999999999999999"], 2,
     "--val-size 99999999999999999999 must be <=", []),
    ("train-lr-nan", ["train", "{d}/net.json", "--data", "digits", "--lr", "nan"], 2, "--lr nan must be a number", []),
    ("train-momentum", ["train", "{d}/net.json", "--data", "digits", "--momentum", "1.5"], 2,
     "--momentum 1.5 must be a number in [0.0, 1.0)", []),
    ("train-weight-decay-inf", ["train", "{d}/net.json", "--data", "digits", "--weight-decay", "inf"], 2,
     "--weight-decay inf must be a number", []),
    ("train-warmup", ["train", "{d}/net.json", "--data", "digits", "--epochs", "2", "--warmup-epochs", "3"], 2,
     "--warmup-epochs 3.0 must be <= epochs (2)", []),
    ("train-unknown-model", ["train", "resnet51", "--data", "digits"], 2, "model='resnet51'", []),
    ("train-bad-json", ["train", "{d}/bad.json", "--data", "digits"], 2, "is not valid JSON", []),
    ("train-no-data", ["train", "{d}/net.json", "--data", "cifar10", "--no-download", "--data-root", "{d}/cifar"], 1,
     "cifar10: neither", ["cifar"]),
    # train: a population
    ("population-no-out", ["train", "{d}/samples.jsonl", "--data", "digits"], 2, "needs --out", []),
    ("population-stdout", ["train", "{d}/samples.jsonl", "--data", "digits", "--out", "-"], 2,
     "cannot write to standard output", ["-"]),
    ("population-bad-line", ["train", "{d}/notjson.jsonl", "--data", "digits", "--out", "{d}/r.jsonl"], 2,
     "line 1 is not JSON", ["r.jsonl"]),
    ("population-workers", ["train", "{d}/samples.jsonl", "--data", "digits", "--out", "{d}/r.jsonl", "--workers", "0"], 2,
     "--workers 0 must be >= 1", ["r.jsonl"]),
    ("population-devices", ["train", "{d}/samples.jsonl", "--data", "digits", "--out", "{d}/r.jsonl", "--devices", "gpu0"],
     2, "'gpu0' is not a device", ["r.jsonl"]),
    ("population-workers-huge", ["train", "{d}/samples.jsonl", "--data", "digits", "--out", "{d}/r.jsonl", "--workers",
                                 "99999999999999999999"], 2, "--workers 99999999999999999999 must be <= 1,024", ["r.jsonl"]),
    ("population-threads0", ["train", "{d}/samples.jsonl", "--data", "digits", "--out", "{d}/r.jsonl", "--threads", "0"],
     2, "--threads 0 must be >= 1", ["r.jsonl"]),
    # study
    ("study-workers0", ["study", "run", "{d}/good.toml", "--workers", "0"], 2, "--workers=0 must be >= 1", ["good.db"]),
    ("study-workers-neg", ["study", "run", "{d}/good.toml", "--workers", "-3"], 2, "--workers=-3 must be >= 1", ["good.db"]),
    ("study-n-trials", ["study", "run", "{d}/good.toml", "--n-trials", "-1"], 2, "--n-trials=-1 must be >= 1", ["good.db"]),
    ("study-epochs0", ["study", "run", "{d}/e0.toml"], 2, "schedule.epochs=0 must be a positive integer", ["e0.db"]),
    ("study-epochs-word", ["study", "run", "{d}/eone.toml"], 2, "schedule.epochs='one'", ["eone.db"]),
    ("study-lr", ["study", "run", "{d}/lrneg.toml"], 2, "schedule.lr=-1.0", ["lrneg.db"]),
    ("study-dataset", ["study", "run", "{d}/mnistt.toml"], 2, "dataset='mnistt' is not one of", ["mnistt.db"]),
    ("study-dataset-files", ["study", "run", "{d}/nodata.toml"], 1, "kmnist: train-images-idx3-ubyte", ["nodata.db", "none"]),
    ("study-repeats-seeds", ["study", "run", "{d}/rep.toml"], 2, "repeats.seeds=1", ["rep.db"]),
    ("study-fidelity-epochs", ["study", "run", "{d}/fid.toml"], 2, "fidelity.epochs=2 equals schedule.epochs", ["fid.db"]),
    ("study-space-exhausted", ["study", "run", "{d}/finite.toml"], 2, "seems to hold only 33 distinct networks",
     ["finite.db"]),
    ("study-missing-spec", ["study", "run", "{d}/nope.toml"], 2, "no such study spec file", ["nope.db"]),
    ("study-devices", ["study", "run", "{d}/good.toml", "--devices", "gpu0"], 2, "'gpu0' is not a device", ["good.db"]),
    ("study-status-no-db", ["study", "status", "{d}/good.toml"], 2, "no study storage", ["good.db"]),
    ("study-export-no-db", ["study", "export", "{d}/good.toml", "-o", "{d}/x.csv"], 2, "no study storage", ["x.csv"]),
    ("study-export-dir", ["study", "export", "{d}/good.toml", "-o", "{d}/dir"], 2, "is a folder", []),
    ("study-export-missing-dir", ["study", "export", "{d}/good.toml", "-o", "{d}/missing/x.csv"], 2, "does not exist",
     ["missing"]),
    ("study-no-action", ["study"], 2, "choose an action", []),
    # dashboard
    ("dashboard-port", ["dashboard", "{d}/good.toml", "--port", "70000"], 2, "--port=70000 must be in", []),
    ("dashboard-no-db", ["dashboard", "{d}/good.toml", "--port", "0"], 2, "no study storage", ["good.db"]),
    # analyze
    ("analyze-out-dir", ["analyze", "{d}/ok.csv", "-o", "{d}/dir"], 2, "is a folder", []),
    ("analyze-missing-dir", ["analyze", "{d}/ok.csv", "-o", "{d}/missing/r.html"], 2, "does not exist", ["missing"]),
    ("analyze-negative-error", ["analyze", "{d}/neg.csv", "-o", "{d}/r.html"], 2, "row 0 holds -0.2: errors are fractions",
     ["r.html"]),
    ("analyze-error-above-1", ["analyze", "{d}/big.csv", "-o", "{d}/r.html"], 2, "row 0 holds 1.5", ["r.html"]),
    ("analyze-error-word", ["analyze", "{d}/abc.csv", "-o", "{d}/r.html"], 2, "row 0 holds 'abc', which is not a number",
     ["r.html"]),
    ("analyze-missing-input", ["analyze", "{d}/none.csv", "-o", "{d}/r.html"], 2, "file does not exist", ["r.html"]),
    ("analyze-top", ["analyze", "{d}/ok.csv", "--top", "0", "-o", "{d}/r.html"], 2, "--top=0 must be at least 1", ["r.html"]),
    ("analyze-best", ["analyze", "{d}/ok.csv", "--best", "2", "-o", "{d}/r.html"], 2, "--best=2.0 must be a fraction",
     ["r.html"]),
    ("analyze-study-no-db", ["analyze", "{d}/good.toml", "-o", "{d}/r.html"], 2, "no study storage", ["r.html"]),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_and_writes_nothing(row, ws, capsys):
    _, argv, code, fragment, absent = row
    d = str(ws)
    args = [a.replace("{d}", d) for a in argv]
    rc = main(args)
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines and fragment.replace("{d}", d) in lines[-1], err
    if code == 2:
        assert len(lines) == 1, err  # one line: no usage dump, no traceback
    for p in absent:
        assert not (ws / p).exists(), p


def test_dash_means_stdout(ws, capsys):
    assert main(["analyze", W(ws, "ok.csv"), "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!DOCTYPE html>") and not (ws / "-").exists()
    from designspace.search.study import run_study

    spec = tiny_spec(ws / "st.toml", "st", 2)
    run_study(spec, trainer="designspace.search.study.objective:no_training")
    assert main(["study", "export", str(spec), "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("number,state,role") and len(out.splitlines()) == 3


# ------------------------------------------------------------------------------ Python API
API = [
    ("count-resolution-0", lambda: designspace.count("resnet50", resolution=0), SpecError, "resolution=0 must be >= 1"),
    ("count-resolution-neg", lambda: designspace.count("resnet50", resolution=-32), SpecError, "resolution=-32"),
    ("count-resolution-float", lambda: designspace.count("resnet50", resolution=224.5), SpecError, "must be an integer"),
    ("count-resolution-small", lambda: designspace.count("resnet50", resolution=8), SpecError, "too small"),
    ("count-s2d-multiple", lambda: designspace.count("tresnet_m", resolution=226), SpecError, "multiple of 4"),
    ("count-none", lambda: designspace.count(None), SpecError, "spec=None is neither"),
    ("build-none", lambda: designspace.build(None), SpecError, "spec=None is neither"),
    ("build-dict", lambda: designspace.build({}), SpecError, "spec={} is neither"),
    ("from-json-none", lambda: NetSpec.from_json(None), SpecError, "json=None is not a JSON text"),
    ("replace-field", lambda: designspace.zoo["resnet50"].replace(colour=1), SpecError, "colour=1 is not a field"),
    ("replace-type", lambda: designspace.zoo["resnet50"].replace(num_classes="ten"), SpecError, "num_classes='ten'"),
    ("sample-space", lambda: designspace.sample("nope", 3), ValueError, "space 'nope' is neither"),
    ("sample-n", lambda: designspace.sample("regnetx", 0), ValueError, "n=0 must be a positive integer"),
    ("regnet-family", lambda: designspace.families.regnet(12, 1.0, 2.0, 4, 8), SpecError, "w0=12 must be a multiple"),
    ("resnet-rs-depth", lambda: designspace.families.resnet_rs(300), SpecError, "depth=300 is not a ResNet-RS depth"),
    ("zoo-name", lambda: designspace.zoo["regnetx_003"], SpecError, "did you mean"),
]


@pytest.mark.parametrize("row", API, ids=[r[0] for r in API])
def test_bad_python_input_is_a_named_error(row):
    _, call, exc, fragment = row
    with pytest.raises(exc) as e:
        call()
    assert fragment in str(e.value)
    assert isinstance(e.value, designspace.InputError)  # what the command line turns into exit 2


def test_bad_data_and_population_input():
    from designspace.search import data
    from designspace.search.population import train_population
    from designspace.search.train import Schedule

    with pytest.raises(data.UnknownDataset, match="dataset='mnistt'"):
        data.load("mnistt")
    with pytest.raises(data.UnknownDataset, match="fashion_mnist: split='dev' is not one of"):
        data.load("fashion_mnist", split="dev")
    with pytest.raises(designspace.UsageError, match="workers=0"):
        train_population([], data.load("digits"), Schedule(), workers=0)
    with pytest.raises(ValueError, match="schedule.eval_every=0"):
        Schedule(eval_every=0)


def test_postgres_without_its_driver_names_the_extra(tmp_path):
    import subprocess

    spec = tiny_spec(tmp_path / "pg.toml", "pg", 1)
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] in ('psycopg2', 'psycopg'): raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import importlib.util\n"
            "importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in ('psycopg2', 'psycopg') else "
            "importlib.util._find_spec_orig(n, *a)\n"
            "from designspace.cli import main; sys.exit(main(sys.argv[1:]))\n")
    code = code.replace("import importlib.util\n", "import importlib.util\nimportlib.util._find_spec_orig = importlib.util.find_spec\n")
    env = dict(os.environ, DESIGNSPACE_STUDY_TRAINER="designspace.search.study.objective:no_training")
    r = subprocess.run([sys.executable, "-c", code, "study", "run", str(spec), "--storage", "postgresql://u@localhost/x"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "pip install 'designspace[postgres]'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2  # the start line and the error


def test_bench_compare_without_timm_fails_before_measuring(tmp_path):
    import subprocess

    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] == 'timm': raise ImportError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import designspace.measure as m\n"
            "def measured(*a, **k): raise SystemExit('measured before checking timm')\n"
            "m._measure = measured\n"
            "from designspace.cli import main; sys.exit(main(sys.argv[1:]))\n")
    env = dict(os.environ, DESIGNSPACE_CACHE=str(tmp_path / "m.sqlite"))
    r = subprocess.run([sys.executable, "-c", code, "bench", "--compare", "resnet18", "--resolution", "64", "--rounds",
                        "1"], capture_output=True, text=True, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == ("designspace bench: error: bench --compare needs timm, which is not installed: "
                                "pip install 'designspace[timm]'"), r.stderr
