"""The population trainer: the same results as training each model alone, data loaded and
uploaded once per worker, results appended as models finish and never trained twice, failures
recorded without stopping the rest, every bad input refused before training."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import designspace
from designspace import NetSpec, SpecError, StageSpec, StemSpec
from designspace.search import data, train
from designspace.search.population import DataRef, read_results, train_population

RES = 16


def net(width: int, gw: int = 8) -> NetSpec:
    return NetSpec(StemSpec("simple", 8), (StageSpec("regnet", 1, width, 2, group_width=gw),
                                           StageSpec("regnet", 1, 2 * width, 2, group_width=gw)),
                   resolution=224, num_classes=1000)  # classes, size and channels come from the data


SPECS = [net(16), net(24), net(32, 16)]
SCHED = train.Schedule(epochs=2, batch_size=64, lr=0.2, warmup_epochs=0.5)


@pytest.fixture(scope="module")
def digits() -> data.Dataset:
    return data.load("digits", resolution=RES)


def test_equals_training_each_model_alone(digits, tmp_path):
    pop = train_population(SPECS, digits, SCHED, results=tmp_path / "r.jsonl")
    assert [r.index for r in pop] == [0, 1, 2] and all(r.status == "done" for r in pop)
    for spec, r in zip(SPECS, pop):
        alone = spec.replace(num_classes=10, resolution=RES, in_chans=1)
        torch.manual_seed(SCHED.seed)
        res = train.fit(designspace.build(alone), digits, SCHED)
        assert r.id == alone.id and r.source_id == spec.id
        assert r.errors == [h.val_top1_err for h in res.history]  # bit for bit: same seed, same batches
        assert r.flops == designspace.count(alone).flops
        assert r.seconds >= r.train_s + r.eval_s and r.build_s > 0
    lines = read_results(tmp_path / "r.jsonl")
    assert [l["id"] for l in lines] == [r.id for r in pop]


def test_workspace_uploads_the_data_once(digits, monkeypatch):
    made = []
    real = train.Workspace.resident

    def count(self, ds):
        before = self.uploads
        out = real(self, ds)
        made.append(self.uploads - before)
        return out

    monkeypatch.setattr(train.Workspace, "resident", count)
    train_population(SPECS, digits, SCHED)
    assert made == [1, 0, 0]


def test_resume_skips_what_is_done_and_drops_a_torn_line(digits, tmp_path):
    out = tmp_path / "r.jsonl"
    first = train_population(SPECS[:2], digits, SCHED, results=out)
    with open(out, "a") as f:
        f.write('{"index": 2, "id": "trunc')  # a kill mid-write
    seen = []
    again = train_population(SPECS, digits, SCHED, results=out, on_result=seen.append)
    assert [r.index for r in seen] == [2]  # only the third trained now
    assert [r.errors for r in again[:2]] == [r.errors for r in first]
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(l)["status"] == "done" for l in lines)


def test_a_repeated_spec_trains_once(digits):
    seen = []
    train_population([SPECS[0], SPECS[0], SPECS[1]], digits, SCHED, on_result=seen.append)
    assert [r.index for r in seen] == [0, 2]


def test_a_diverging_model_is_recorded_and_the_rest_go_on(digits, tmp_path):
    bad = train.Schedule(epochs=2, batch_size=64, lr=1e7, nesterov=False)
    pop = train_population(SPECS[:2], digits, bad, results=tmp_path / "r.jsonl")
    assert [r.status for r in pop] == ["failed", "failed"] and "diverged" in pop[0].reason
    assert len(read_results(tmp_path / "r.jsonl")) == 2


def test_specs_that_cannot_run_on_the_data_fail_before_training(digits):
    deep = NetSpec(StemSpec("simple", 8), tuple(StageSpec("regnet", 1, 16, 2, group_width=8) for _ in range(5)))
    with pytest.raises(SpecError, match=r"^specs\[1\]\.resolution=16 is too small"):
        train_population([SPECS[0], deep], digits, SCHED)


def test_two_worker_processes(tmp_path):
    ref = DataRef("digits", resolution=RES, shape=(10, RES, 1))
    pop = train_population(SPECS, ref, SCHED, workers=2, threads=1, results=tmp_path / "r.jsonl")
    assert sorted(r.index for r in pop) == [0, 1, 2] and {r.worker for r in pop} <= {0, 1}
    # the same results in other processes (float sums depend on the thread count: both use one)
    inline = train_population(SPECS, data.load("digits", resolution=RES), SCHED, threads=1)
    assert [r.errors for r in pop] == [r.errors for r in inline]
    assert all(r.threads is not None and r.threads >= 1 for r in pop)


def test_cli_population_resumes(tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"id": s.id, "spec": s.to_json()}) + "\n" for s in SPECS))
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "designspace", "train", str(samples), "--data", "digits", "--resolution", str(RES),
           "--epochs", "1", "--batch-size", "64", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("error") >= 3 and "3 trained now" in r.stdout
    lines = [l for l in r.stdout.splitlines() if l.startswith("model ")]
    threads = [rec["threads"] for rec in read_results(out)]
    assert len(lines) == 3 and all(f"cpu, {t} thread" in l and ", seed 0)" in l for l, t in zip(lines, threads)), lines
    # sampled for 1000 classes and 3 channels, trained at 10 and 1: the user is told, once
    assert r.stderr.count("3 of 3 networks were sampled for 1000 classes and 3 channels, digits has 10 and 1") == 1
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0 and "0 trained now, 3 from earlier runs" in r.stdout
    assert len(read_results(out)) == 3
    r = subprocess.run(cmd[:-2], capture_output=True, text=True)  # no --out
    assert r.returncode == 2 and "needs --out" in r.stderr and len(r.stderr.strip().splitlines()) == 1
