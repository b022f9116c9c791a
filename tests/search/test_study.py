"""Study specs, fault tolerance (SIGKILL, Ctrl-C, divergence), export and status, end to end on CPU."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_study_helpers import by_state, cli, env, popen, tiny_spec, trained, trials, write_spec  # noqa: E402

from designspace.search.study import NoStudyError, StudySpecError, export_frame, load_spec, mask  # noqa: E402
from designspace.search.study.storage import Scrub  # noqa: E402


# --------------------------------------------------------------------------------- spec errors
@pytest.mark.parametrize("key, value, needle", [
    ("sampler", {"name": "annealing"}, "sampler.name='annealing'"),
    ("pruner", {"name": "median", "patience": 3}, "pruner.patience=3"),
    ("objectives", ["flops"], "objectives=['flops']"),
    ("space", "regnetz", "space='regnetz'"),
    ("n_trials", 0, "n_trials=0"),
    ("enqueue", ["regnetx_999"], "enqueue[0]='regnetx_999'"),
    ("constraints", {"flops": [5e6, 1e6]}, "constraints.flops=[5000000.0, 1000000.0]"),
    ("colour", "blue", "colour='blue'"),
    ("workers", {"heartbeat_interval": 5, "grace_period": 5}, "workers.grace_period=5"),
    ("space_options", {"colour": 1}, "space_options.colour=1 is not an option of space regnetx"),
    ("space_options", {"se_ratio": "big"}, "space_options.se_ratio='big' must be a float"),
])
def test_bad_spec_names_the_key_and_runs_nothing(tmp_path: Path, key: str, value: object, needle: str) -> None:
    over = {} if key == "n_trials" else {key: value}
    spec = tiny_spec(tmp_path / "bad.toml", "bad", value if key == "n_trials" else 2, **over)  # type: ignore[arg-type]
    with pytest.raises(StudySpecError) as e:
        load_spec(spec)
    assert needle in str(e.value) and str(spec) in str(e.value)
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.db").exists()


@pytest.mark.parametrize("options, needle", [
    ({"bases": 49}, "space_options.bases=49 must be in 0..48"),
    ({"phi_step": 0.3}, "space_options.phi_step=0.3 must divide 2"),
    ({"bases": "six"}, "space_options.bases='six' must be an int"),
])
def test_bad_resnet_scaling_bases_are_named_before_anything_runs(tmp_path: Path, options: dict, needle: str) -> None:
    spec = tiny_spec(tmp_path / "rs.toml", "rs", 2, space="resnet_scaling", constraints={}, space_options=options)
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "rs.db").exists()


def test_bad_schedule_key_is_named_before_anything_runs(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "s.toml", "s", 2, schedule={"epochs": 1, "learning_rate": 0.1})
    r = cli("study", "run", str(spec))
    assert r.returncode == 2 and "schedule.learning_rate=0.1" in r.stderr
    assert not (tmp_path / "s.db").exists()


# ------------------------------------------------------------------------------- credentials
def test_credentials_are_masked_in_messages_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql+psycopg2://alice:s3cr3t-pw@db.example:5432/studies"
    assert mask(f"storage {url}") == "storage postgresql+psycopg2://***@db.example:5432/studies"
    assert "hunter22" not in mask("mysql://db/x?user=bob&password=hunter22")
    from designspace.search.study.storage import resolve

    resolve(load_spec(Path(__file__).resolve().parents[2] / "studies" / "regnetx_digits.toml"), url)
    assert mask("connection failed for s3cr3t-pw") == "connection failed for ***"  # remembered secret
    logger = logging.getLogger("test_study_scrub")
    logger.addFilter(Scrub())
    with caplog.at_level(logging.INFO, logger="test_study_scrub"):
        logger.info("connecting to %s", url)
    assert "s3cr3t-pw" not in caplog.text and "alice" not in caplog.text and "***@db.example" in caplog.text


# -------------------------------------------------------------------------- SIGKILL and resume
def test_sigkilled_worker_resumes_to_exactly_n_complete_trials(tmp_path: Path) -> None:
    """Real training on digits; the worker is killed mid-training in its third trial or later."""
    spec = tiny_spec(tmp_path / "kill.toml", "kill", 6, schedule={"epochs": 3, "batch_size": 512, "lr": 0.1})
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    p = popen("study", "run", str(spec))
    victim = None
    deadline = time.time() + 150
    try:
        while time.time() < deadline and p.poll() is None:
            if (tmp_path / "kill.db").exists():
                try:
                    ts = trials(url, "kill")
                except Exception:  # the worker is still creating the study (no table, no study yet)
                    ts = []
                done = [t for t in ts if t.state == optuna.trial.TrialState.COMPLETE]
                mid = [t for t in ts if t.state == optuna.trial.TrialState.RUNNING and t.intermediate_values]
                if len(done) >= 2 and mid:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    # the trial that was running when the kill landed (a loaded machine may have
                    # finished the one seen above between the read and the kill)
                    victim = next((t for t in trials(url, "kill") if t.state == optuna.trial.TrialState.RUNNING
                                   and t.intermediate_values), None)
                    break
            time.sleep(0.05)
    finally:
        if p.poll() is None and victim is None:
            p.kill()
        p.wait()
    assert victim is not None, f"no trial was caught mid-training: {p.stderr.read() if p.stderr else ''}"
    assert p.returncode == -signal.SIGKILL
    ts = trials(url, "kill")
    assert [t.state for t in ts if t.number == victim.number] == [optuna.trial.TrialState.RUNNING]

    r = cli("study", "run", str(spec), timeout=240)
    assert r.returncode == 0, r.stderr
    ts = trials(url, "kill")
    runs = trained(ts)
    complete = [t for t in runs if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6, by_state(runs)
    assert not [t for t in runs if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
    killed = next(t for t in ts if t.number == victim.number)
    assert killed.state == optuna.trial.TrialState.FAIL  # failed by the heartbeat check, then retried
    retries = [t for t in complete if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1 and retries[0].params == victim.params
    # none duplicated: each completed trial holds its own slot, and only the retry re-ran a spec
    slots = [t.system_attrs.get("failed_trial", t.number) for t in complete]
    assert len(set(slots)) == 6
    assert all(len(t.intermediate_values) == 3 and t.user_attrs["spec_id"] for t in complete)
    assert all(t.user_attrs["device"] == "cpu" and t.user_attrs["flops"] <= 3e6 and t.user_attrs["acts"] <= 26000
               for t in complete)
    out = cli("study", "status", str(spec))
    assert out.returncode == 0 and "6/6 trials finished" in out.stdout and "best: trial" in out.stdout


def test_diverged_trial_is_recorded_failed_and_the_study_goes_on(tmp_path: Path) -> None:
    """A learning rate of 1e6 makes the real trainer's loss non-finite: every trial diverges."""
    spec = tiny_spec(tmp_path / "div.toml", "div", 2, schedule={"epochs": 1, "batch_size": 256, "lr": 1e6})
    r = cli("study", "run", str(spec), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("the study goes on") == 2
    runs = trained(trials(f"sqlite:///{tmp_path / 'div.db'}", "div"))
    assert by_state(runs) == {"FAIL": 2}
    assert all(t.user_attrs["reason"].startswith("diverged: training diverged in epoch 1") for t in runs)


def test_ctrl_c_finishes_the_current_trial_then_resume_completes(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "int.toml", "int", 4)
    url = f"sqlite:///{tmp_path / 'int.db'}"
    # epochs of 1.5 s: the poll below must see a trial between its two epochs even on a loaded
    # machine (at 0.5 s a run beside two trainers and a niced suite missed every window)
    p = popen("study", "run", str(spec), env=env(fake=True, epoch_s=1.5))
    deadline = time.time() + 60
    while time.time() < deadline:
        if (tmp_path / "int.db").exists():
            try:
                if any(t.state == optuna.trial.TrialState.RUNNING and t.intermediate_values
                       for t in trials(url, "int")):
                    break
            except Exception:  # the worker is still creating the study
                pass
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "finishing trial" in err and "stopped after finishing its trial" in err
    ts = trained(trials(url, "int"))
    assert by_state(ts) == {"COMPLETE": 1}

    # Ctrl-C twice: the running trial is abandoned (FAIL) and re-queued (WAITING, same parameters)
    p = popen("study", "run", str(spec), env=env(fake=True, epoch_s=1.0))
    victim = _wait_mid_trial(url, "int", exclude={t.number for t in ts})
    p.send_signal(signal.SIGINT)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and f"trial {victim.number} abandoned (interrupted) and re-queued" in err, err
    ts = trials(url, "int")
    assert next(t for t in ts if t.number == victim.number).state == optuna.trial.TrialState.FAIL
    queued = [t for t in ts if t.state == optuna.trial.TrialState.WAITING]
    assert len(queued) == 1 and queued[0].params == victim.params

    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    ts = trials(url, "int")
    assert by_state(trained(ts)) == {"COMPLETE": 4, "FAIL": 1}
    retry = [t for t in ts if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state == optuna.trial.TrialState.COMPLETE


def _wait_mid_trial(url: str, name: str, exclude: set[int]) -> optuna.trial.FrozenTrial:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            for t in trials(url, name):
                if t.number not in exclude and t.state == optuna.trial.TrialState.RUNNING and t.intermediate_values:
                    return t
        except Exception:  # the worker is still opening the study
            pass
        time.sleep(0.05)
    raise AssertionError("no trial reached its second epoch")


# ------------------------------------------------------------------------------ Pareto export
def test_a_study_not_yet_created_raises_its_own_error_type(tmp_path: Path) -> None:
    """No storage, or storage without the spec's study: ``NoStudyError`` (a FileNotFoundError, so
    callers that caught that keep working), which a results writer can catch as "not started"."""
    spec = tiny_spec(tmp_path / "a.toml", "a", 1)
    with pytest.raises(NoStudyError, match="no study storage"):
        export_frame(spec)
    assert not (tmp_path / "a.db").exists()  # looking did not create it
    optuna.create_study(study_name="other", storage=f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(NoStudyError, match="no study named 'a'"):
        export_frame(spec)
    assert issubclass(NoStudyError, FileNotFoundError)


def test_pareto_study_export_marks_the_front(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "mo.toml", "mo", 10, objectives=["error", "flops"],
                     constraints={"flops": [1e6, 40e6]}, enqueue=["regnetx_002"])
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "mo.csv"
    r = cli("study", "export", str(spec), "-o", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    study = optuna.load_study(study_name="mo", storage=f"sqlite:///{tmp_path / 'mo.db'}")
    counted = df[(df.role == "counted") & (df.state == "COMPLETE")]
    assert len(counted) == 10 and counted.number.is_unique
    assert (counted.origin == "baseline regnetx_002").sum() == 1
    # oracle 1: a brute-force dominance check on the exported values
    pts = list(zip(counted.value_error, counted.value_flops))
    expect = [not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in pts) for p in pts]
    assert counted.pareto.astype(bool).tolist() == expect and 1 <= sum(expect) < len(expect)
    # oracle 2: optuna's own Pareto front
    assert set(counted.number[counted.pareto.astype(bool)]) == {t.number for t in study.best_trials}
    assert (counted.value_flops == counted.flops).all()
    assert {"spec", "spec_id", "params", "acts", "error_epoch1", "error_epoch2", "wall_seconds", "device",
            "param_w0"} <= set(df.columns)
    assert not list(out.parent.glob(".*.tmp"))  # atomic write left no temporary file
    frame = export_frame(spec)  # what the analysis package reads
    assert list(frame.columns) == list(df.columns) and frame.number.tolist() == df.number.tolist()


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_study_specs_are_valid(path: Path) -> None:
    from designspace.search.study.checks import check_schedule

    spec = load_spec(path)
    check_schedule(spec)
    assert spec.name == path.stem and spec.n_trials >= 1


# ------------------------------------------------------------------- resolution-scaling spaces
def test_scaling_space_trains_each_model_at_its_own_resolution(tmp_path: Path) -> None:
    import test_study_helpers as h

    from designspace.search import run_study

    spec = tiny_spec(tmp_path / "sc.toml", "sc", 12, space="efficientnet_scaling", enqueue=["efficientnet_b0"],
                     space_options={"base_width": 0.25, "base_depth": 0.25}, constraints={})
    h.SEEN.clear()
    run_study(spec, trainer="test_study_helpers:recording_trainer")
    df = export_frame(spec)
    done = df[(df.role == "counted") & (df.state == "COMPLETE")]
    # this space (base width and depth 0.25) cannot express efficientnet_b0: a reference, beside the 12
    base = df[(df.role == "reference") & (df.state == "COMPLETE")]
    assert len(done) == 12 and len(base) == 1 and len(h.SEEN) == 13
    # every network got images of its own size: the base (dataset) 32 px or a scaled-up one
    assert all(res == got for _, res, got in h.SEEN)
    res = {sid: r for sid, r, _ in h.SEEN}
    assert base.origin.iloc[0] == "baseline efficientnet_b0"
    assert res[base.spec_id.iloc[0]] == 32  # baselines run at the data's resolution
    sampled = done[done.origin.str.startswith("space")]
    for _, row in sampled.iterrows():  # resolution = round(32 * growth**phi) along the method's rule
        growth = {"compound": 1.15, "resolution": 2 ** 0.5}.get(row.param_scaling, 1.0)
        assert res[row.spec_id] == int(32 * growth ** row.param_phi + 0.5), (row.param_scaling, row.param_phi)
    assert sampled.param_scaling.isin(["compound", "resolution"]).any()


def test_export_lists_the_parameters_the_network_was_built_from(tmp_path: Path) -> None:
    # AnyNetX_E sorts the drawn depths and widths (non-decreasing): export lists the sorted ones
    spec = tiny_spec(tmp_path / "e.toml", "e", 4, space="anynetx_e", constraints={})
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    df = export_frame(spec)
    done = df[(df.role == "counted") & (df.state == "COMPLETE")]
    assert len(done) == 4
    for _, row in done.iterrows():
        net = json.loads(row.spec)
        assert [row[f"param_d{i}"] for i in range(1, 5)] == [s["depth"] for s in net["stages"]]
        ws = [row[f"param_w{i}"] for i in range(1, 5)]  # before the group-width compatibility rounding
        assert ws == sorted(ws)
    assert (done.params > 1000).all()  # the parameter count, not the space's assignment
    assert "threads" not in df  # a trainer that reports no thread count adds no column (older exports stay as they were)


# ----------------------------------------------------------------- random draws inside the regime
def test_random_study_draws_inside_the_regime_without_recording_rejections(tmp_path: Path) -> None:
    # RegNetX in this regime keeps under 1 draw in 20 (outside the space or the constraints);
    # the worker draws through the space's own rejection sampler, so no rejected trial is stored
    spec = tiny_spec(tmp_path / "r.toml", "r", 8, enqueue=["regnetx_002"])
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    df = export_frame(spec)
    assert (df.role == "counted").sum() == 8 and not (df.role == "rejected").any()
    done = df[df.state == "COMPLETE"]
    assert len(done) == 8 and done.spec_id.is_unique
    sampled = done[done.origin.str.startswith("space")]
    assert len(sampled) == 7 and (sampled.flops <= 3e6).all() and (sampled.acts <= 26000).all()
    from designspace.spaces import get_space

    space = get_space("regnetx", resolution=32, num_classes=10)
    for _, row in sampled.iterrows():  # the trained network is the space's network of those values
        p = {k: row[f"param_{k}"] for k in space.params}  # ints read back as floats (NaN in baseline rows)
        p = {k: int(v) if float(v).is_integer() else float(v) for k, v in p.items()}
        assert space.contains(p) and space.build(p).replace(num_classes=10, in_chans=1).id == row.spec_id  # grey digits
    # the same command on a fresh storage draws the same models (seeded by study seed and progress)
    spec2 = tiny_spec(tmp_path / "r2.toml", "r", 8, enqueue=["regnetx_002"])
    assert cli("study", "run", str(spec2), env=env(fake=True)).returncode == 0
    assert export_frame(spec2).spec_id.tolist() == df.spec_id.tolist()


def test_unreachable_constraints_stop_the_study_with_a_clear_message(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "u.toml", "u", 3, constraints={"flops": [1, 2]})
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode != 0
    assert "[constraints] are out of reach" in r.stderr and "flops 1:2" in r.stderr and "widen them" in r.stderr
    assert "--budget" not in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------------ a sample is a set
def test_tpe_study_trains_distinct_networks_and_stores_no_rejected_draws(tmp_path: Path) -> None:
    # TPE proposes values that round to networks already trained (e.g. wa 11.57 and 11.89) and
    # values outside the regime: neither may become a stored trial
    spec = tiny_spec(tmp_path / "t.toml", "t", 20, sampler={"name": "tpe", "n_startup_trials": 5})
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    ts = trials(f"sqlite:///{tmp_path / 't.db'}", "t")  # read with plain optuna
    assert len(ts) == 20 and by_state(ts) == {"COMPLETE": 20}
    assert len({t.user_attrs["spec_id"] for t in ts}) == 20
    from designspace.spaces import get_space

    space = get_space("regnetx", resolution=32, num_classes=10)
    for t in ts:  # the stored parameters are the values the network was built from
        p = {k: int(v) if float(v).is_integer() else v for k, v in t.params.items()}  # w0 log-int: a float domain
        assert set(p) == set(space.params) and space.contains(p)
        assert space.build(p).replace(num_classes=10, in_chans=1).id == t.user_attrs["spec_id"]


@pytest.mark.parametrize("key, value, needle", [
    ("repeats", {"models": 2}, "repeats"),
    ("repeats", {"models": 2, "seeds": 1}, "repeats.seeds=1"),
    ("repeats", {"models": 9, "seeds": 2}, "repeats.models=9 exceeds n_trials=6"),
    ("fidelity", {"models": 2, "epochs": 4}, "fidelity.models=2"),
    ("fidelity", {"models": 3, "epochs": 2}, "fidelity.epochs=2 equals schedule.epochs"),
])
def test_bad_retrain_options_are_named(tmp_path: Path, key: str, value: dict, needle: str) -> None:
    spec = tiny_spec(tmp_path / "b.toml", "b", 6, **{key: value})
    with pytest.raises(StudySpecError) as e:
        load_spec(spec)
    assert needle in str(e.value)


def test_repeats_and_fidelity_retrain_exactly_what_they_ask_with_two_workers(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "x.toml", "x", 8, repeats={"models": 3, "seeds": 3},
                     fidelity={"models": 4, "epochs": 3})
    r = cli("study", "run", str(spec), "--workers", "2", env=env(fake=True), timeout=240)
    assert r.returncode == 0, r.stderr
    df = export_frame(spec)
    main = df[df.role == "counted"]
    assert len(main) == 8 and (main.state == "COMPLETE").all() and main.spec_id.is_unique
    rep, fid = df[df.role == "repeat"], df[df.role == "fidelity"]
    assert len(rep) == 3 * 2 and (rep.state == "COMPLETE").all()
    assert len(fid) == 4 and (fid.state == "COMPLETE").all()
    assert not df.role.isin(["rejected", "retried"]).any()
    # a worker that asks while the other trains the last main trial gets a surplus trial: closed untrained
    surplus = df[df.role == "surplus"]
    assert len(surplus) <= 2 and surplus.error.isna().all()  # at most one per phase (main, retrains)
    by_number = main.set_index("number")
    # a repeat trains the same network as its original with another seed
    assert rep.of.nunique() == 3 and (rep.groupby("of").size() == 2).all()
    for _, row in rep.iterrows():
        orig = by_number.loc[int(row.of)]
        assert row.spec_id == orig.spec_id and row.seed != orig.seed
    assert rep.groupby("of").seed.nunique().eq(2).all()
    # fidelity retrains the same network with the same seed for 3 epochs, spread over the error range
    for _, row in fid.iterrows():
        orig = by_number.loc[int(row.of)]
        assert row.spec_id == orig.spec_id and row.seed == orig.seed
        assert pd.notna(row.error_epoch3) and pd.isna(orig.error_epoch3)
    errs = main.error.sort_values().tolist()
    assert by_number.loc[fid.of.astype(int)].error.min() == errs[0]
    assert by_number.loc[fid.of.astype(int)].error.max() == errs[-1]
    st = cli("study", "status", str(spec), env=env(fake=True))
    assert "repeat 6/6 complete" in st.stdout and "fidelity 4/4 complete" in st.stdout
    assert st.stdout.rstrip().endswith("done")
    # a second run owes nothing: the study is complete, retrains included
    again = cli("study", "run", str(spec), env=env(fake=True))
    assert again.returncode == 0 and len(export_frame(spec)) == len(df)


def test_resuming_with_a_changed_setup_names_each_changed_setting(tmp_path: Path) -> None:
    """The trials of one study must be comparable: a resume whose spec changed the schedule or the
    regime says which settings differ (the study goes on: some changes are harmless)."""
    spec = tiny_spec(tmp_path / "c.toml", "c", 1)
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    assert "mix both settings" not in r.stderr
    tiny_spec(tmp_path / "c.toml", "c", 2, schedule={"epochs": 3, "batch_size": 512, "lr": 0.1},
              constraints={"flops": [0, 2e6], "acts": [0, 26000]})
    r = cli("study", "run", str(spec), env=env(fake=True))
    assert r.returncode == 0, r.stderr
    assert "schedule.epochs = 3 (the study started with 2)" in r.stderr
    assert "constraints.flops = [0.0, 2000000.0] (the study started with [0.0, 3000000.0])" in r.stderr
    assert "mix both settings" in r.stderr and r.stderr.count("mix both settings") == 1
