"""``designspace dashboard``: optuna-dashboard on 127.0.0.1 serves our study and its trial attributes."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
import optuna  # noqa: E402
from test_study_helpers import env, popen, tiny_spec  # noqa: E402

from designspace.search.study import run_study  # noqa: E402


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_dashboard_lists_the_study_and_our_trial_attributes(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path / "dash.toml", "dash", 2, enqueue=["regnetx_002"])
    run_study(spec, trainer="designspace.search.study.objective:no_training")
    p = popen("dashboard", str(spec), "--port", "0", env=env())
    try:
        line = p.stdout.readline() if p.stdout else ""
        assert "http://127.0.0.1:" in line, (line, p.stderr.read() if p.poll() is not None and p.stderr else "")
        base = line.split("at ", 1)[1].split("/dashboard")[0]
        studies = None
        for _ in range(50):
            try:
                studies = _get(f"{base}/api/studies")
                break
            except OSError:
                time.sleep(0.1)
        assert isinstance(studies, dict)
        mine = [s for s in studies["study_summaries"] if s["study_name"] == "dash"]
        assert len(mine) == 1
        detail = _get(f"{base}/api/studies/{mine[0]['study_id']}")
        done = [t for t in detail["trials"] if t["state"] == "Complete"]
        assert len(done) == 2
        study = optuna.load_study(study_name="dash", storage=f"sqlite:///{tmp_path / 'dash.db'}")
        for t in done:
            attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
            mine_t = study.trials[t["number"]]
            assert {"spec", "spec_id", "flops", "params", "acts", "errors"} <= set(attrs)
            assert attrs["spec"] == mine_t.user_attrs["spec"] and attrs["flops"] == str(mine_t.user_attrs["flops"])
            assert len(t["intermediate_values"]) == 2  # per-epoch errors, for the dashboard's curves
        assert sorted(next((a["value"] for a in t["user_attrs"] if a["key"] == "baseline"), "") for t in done) == [
            "", "regnetx_002"]
        # the baseline carries the space's parameters: the dashboard's search space is the whole space
        assert sorted(s["name"] for s in detail["intersection_search_space"]) == sorted(
            ["depth", "w0", "wa", "wm", "group_width"])
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=20)
        except Exception:
            p.kill()
            p.wait()
    assert p.returncode == 0
