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
    ("sample-geometry", ["sample", "--geometry", "tiny", "-o", "{d}/s.jsonl"], 2,
     "--geometry='tiny' is not one of imagenet, cifar", ["s.jsonl"]),
    ("show-geometry", ["show", "resnet18", "--geometry", "tiny"], 2, "--geometry='tiny' is not one of imagenet, cifar", []),
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


# ====================================================================================== study runtime
# Rows of the study runtime (issues 27 and 29): flags, spec options and storages, each refused
# with one line before any file exists.  Kept apart from the rows above to ease merging.
def _study_ws(d: Path) -> None:
    tiny_spec(d / "pw.toml", "pw", 2, pruner={"name": "median", "n_warmup_steps": -1})
    tiny_spec(d / "stw.toml", "stw", 2, sampler={"name": "tpe", "n_startup_trials": "ten"})
    tiny_spec(d / "sn.toml", "sn", 2, sampler={"name": "tpe", "n_startup_trials": -1})
    tiny_spec(d / "hb.toml", "hb", 2, pruner={"name": "hyperband", "reduction_factor": 1})
    tiny_spec(d / "sr.toml", "sr", 2, workers={"heartbeat_interval": 1, "grace_period": 3, "storage_retry_s": -5})
    (d / "garbage.db").write_text("this is not a database\n" * 10)
    (d / "garbage.journal").write_text("\x00\x01 not json\n")


STUDY_ROWS = [
    ("study-workers-huge", ["study", "run", "{d}/good.toml", "--workers", "99999999999999999999"], 2,
     "--workers=99999999999999999999 must be <= 1024", ["good.db"]),
    ("study-workers-word", ["study", "run", "{d}/good.toml", "--workers", "two"], 2, "--workers='two' is not an integer",
     ["good.db"]),
    ("study-n-trials-word", ["study", "run", "{d}/good.toml", "--n-trials", "abc"], 2,
     "--n-trials='abc' is not an integer", ["good.db"]),
    ("study-devices-empty", ["study", "run", "{d}/good.toml", "--devices", ""], 2, "--devices='' names no device",
     ["good.db"]),
    ("study-device-bad", ["study", "run", "{d}/good.toml", "--device", "tpu0"], 2, "--device 'tpu0': 'tpu0' is not a device",
     ["good.db"]),
    ("study-device-list", ["study", "run", "{d}/good.toml", "--device", "cpu,cpu"], 2, "use --devices for a list",
     ["good.db"]),
    ("study-device-and-devices", ["study", "run", "{d}/good.toml", "--device", "cpu", "--devices", "cpu"], 2,
     "give one of them", ["good.db"]),
    ("study-storage-retry", ["study", "run", "{d}/good.toml", "--storage-retry", "-1"], 2, "--storage-retry=-1 must be >= 0",
     ["good.db"]),
    ("study-pruner-warmup", ["study", "run", "{d}/pw.toml"], 2, "pruner.n_warmup_steps=-1 must be an integer >= 0",
     ["pw.db"]),
    ("study-sampler-startup-word", ["study", "run", "{d}/stw.toml"], 2, "sampler.n_startup_trials='ten' must be an integer",
     ["stw.db"]),
    ("study-sampler-startup-negative", ["study", "run", "{d}/sn.toml"], 2, "sampler.n_startup_trials=-1", ["sn.db"]),
    ("study-pruner-reduction", ["study", "run", "{d}/hb.toml"], 2, "pruner.reduction_factor=1 must be an integer >= 2",
     ["hb.db"]),
    ("study-spec-storage-retry", ["study", "run", "{d}/sr.toml"], 2, "workers.storage_retry_s=-5", ["sr.db"]),
    ("study-storage-folder", ["study", "run", "{d}/good.toml", "--storage", "{d}/dir"], 2, "dir is a folder", ["good.db"]),
    ("study-storage-sqlite-folder", ["study", "run", "{d}/good.toml", "--storage", "sqlite:///{d}/dir"], 2,
     "dir is a folder", ["good.db"]),
    ("study-storage-not-sqlite", ["study", "run", "{d}/good.toml", "--storage", "{d}/garbage.db"], 2,
     "garbage.db is not a SQLite database", ["good.db"]),
    ("study-storage-not-journal", ["study", "run", "{d}/good.toml", "--storage", "{d}/garbage.journal"], 2,
     "garbage.journal is not an Optuna journal file", ["good.db"]),
    ("study-storage-scheme", ["study", "run", "{d}/good.toml", "--storage", "foo://host/x"], 2, "unknown scheme 'foo'",
     ["good.db"]),
    ("study-storage-mysql-driver", ["study", "run", "{d}/good.toml", "--storage", "mysql://u:pw123@localhost/x"], 2,
     "the mysql driver", ["good.db"]),
    ("study-storage-grpc", ["study", "run", "{d}/good.toml", "--storage", "grpc://localhost"], 2,
     "expected grpc://HOST:PORT", ["good.db"]),
    ("study-status-quiet-after", ["study", "status", "{d}/good.toml", "-q"], 2, "no study storage", ["good.db"]),
    ("study-export-quiet-after", ["study", "export", "{d}/good.toml", "-o", "{d}/x.csv", "-q"], 2, "no study storage",
     ["x.csv"]),
    ("study-status-bad-storage", ["study", "status", "{d}/good.toml", "--storage", "{d}/garbage.db"], 2,
     "is not a SQLite database", []),
]


@pytest.mark.parametrize("row", STUDY_ROWS, ids=[r[0] for r in STUDY_ROWS])
def test_bad_study_input_is_one_line_and_writes_nothing(row, ws, capsys):
    _study_ws(ws)
    test_bad_input_is_one_line_and_writes_nothing(row, ws, capsys)
    err = capsys.readouterr().err
    assert "pw123" not in err  # a password never reaches a message
    assert (ws / "garbage.db").read_text().startswith("this is not")  # a refused storage is left as it was


def test_study_device_cuda_without_cuda_names_the_flag_typed(ws, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is valid here")
    assert main(["study", "run", W(ws, "good.toml"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--device 'cuda': CUDA is not available" in err and "--devices" not in err, err
    assert not (ws / "good.db").exists()


def test_read_only_storage_folder_is_refused_before_anything(tmp_path, capsys):
    """A SQLite file or journal in a folder that cannot be written: one line, exit 2.  The folder
    is made read-only with chmod, or, for root (who writes anywhere), immutable with chattr."""
    import subprocess

    ro = tmp_path / "ro"
    ro.mkdir()
    spec = tiny_spec(tmp_path / "r.toml", "r", 1)
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
            pytest.skip("root, and chattr +i is not available: no folder is read-only for root here")
        undo = ["chattr", "-i", str(ro)]
    else:
        os.chmod(ro, 0o555)
        undo = ["chmod", "755", str(ro)]
    try:
        for storage in (str(ro / "s.db"), str(ro / "s.journal")):
            assert main(["study", "run", str(spec), "--storage", storage]) == 2
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and "cannot write in the folder" in lines[0] and str(ro) in lines[0], lines
            assert list(ro.iterdir()) == []
    finally:
        subprocess.run(undo, check=True)


def test_status_counts_a_run_beyond_the_spec_and_actions_have_descriptions(tmp_path, capsys):
    from designspace.search.study import run_study

    spec = tiny_spec(tmp_path / "s7.toml", "s7", 2)
    run_study(spec, n_trials=3, trainer="designspace.search.study.objective:no_training")
    assert main(["study", "status", str(spec), "-q"]) == 0
    out = capsys.readouterr().out
    assert "3/3 trials finished" in out and "the spec's n_trials is 2" in out, out
    for action, words in (("run", "Run or resume a study"), ("status", "Trials by state"), ("export", "One CSV row")):
        with pytest.raises(SystemExit):
            main(["study", action, "--help"])
        text = capsys.readouterr().out
        assert words in text and "-q, --quiet" in text and "-v, --verbose" in text, text


def test_export_writes_no_binary_float_noise(tmp_path):
    import pandas as pd

    from designspace.search.study.export import write_csv_atomic

    noisy = 1 - 0.82  # 0.18000000000000005: the float noise of an error rate
    assert repr(noisy) != "0.18"
    df = pd.DataFrame({"error": [noisy, 1 / 3], "flops": [123456789012345.0, float("nan")]})
    write_csv_atomic(df, tmp_path / "e.csv")
    back = pd.read_csv(tmp_path / "e.csv")
    text = (tmp_path / "e.csv").read_text()
    assert "0.18," in text and "0.180000" not in text and "123456789012345\n" in text, text
    assert abs(back["error"][1] - 1 / 3) < 1e-14  # nothing that matters is rounded away


def test_a_baseline_outside_the_regime_is_trained_as_a_marked_reference(tmp_path, caplog):
    """``enqueue = ["resnet50"]`` under a 3 MFLOPs constraint: a warning naming it, and the
    trial marked ``outside_regime`` in the export (the analysis keeps baselines out of the sample)."""
    import logging

    from designspace import count, zoo
    from designspace.search.study import export_frame, run_study

    spec = tiny_spec(tmp_path / "b.toml", "b", 3, enqueue=["resnet50"])
    with caplog.at_level(logging.WARNING):
        run_study(spec, trainer="designspace.search.study.objective:no_training")
    said = [r.getMessage() for r in caplog.records if "resnet50" in r.getMessage()]
    assert said and "outside the [constraints]" in said[0] and "flops=" in said[0], said
    df = export_frame(spec)
    base = df[df["baseline"] == "resnet50"]
    assert len(base) == 1 and bool(base["outside_regime"].iloc[0]) is True
    flops = count(zoo["resnet50"].replace(resolution=32, num_classes=10, in_chans=1)).flops
    assert flops > 3e6 and int(base["flops"].iloc[0]) == flops  # it is the network the warning speaks of
    assert df.loc[df["baseline"].isna(), "outside_regime"].isna().all()
