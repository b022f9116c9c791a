"""The HTML report and `designspace analyze`: content, offline rendering in a real headless
Chromium (Debian's package, installed by .ci/install-chromium.sh), atomic writes, bad inputs."""
from __future__ import annotations

import os
from pathlib import Path
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from designspace.analysis import figures
from designspace.analysis.data import AnalysisInputError, groups
from designspace.analysis.report import build_report
from designspace import CONVENTION
from designspace.cli import main

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is missing under CI=true: .ci/install-chromium.sh must install it")
        pytest.skip("chromium is not installed (run .ci/install-chromium.sh); CI is not set")
    return path


def run_chromium(*args: str, profile: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory, two_spaces) -> str:
    p = tmp_path_factory.mktemp("data") / "runs.csv"
    two_spaces.to_csv(p, index=False)
    return str(p)


def test_cli_report_renders_in_headless_chromium(tmp_path, csv_path, capsys):
    out = tmp_path / "report.html"
    assert main(["analyze", csv_path, "--by", "space", "-o", str(out), "--bootstrap", "100"]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)  # opens offline: plotly.js is inlined
    n_figs = text.count('class="plotly-graph-div"')
    assert n_figs >= 8  # EDF, normalized EDF, error vs flops, 5 free parameters
    profile = str(tmp_path / "profile")
    dom = run_chromium("--virtual-time-budget=20000", "--dump-dom", out.as_uri(), profile=profile)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    # plotly drew every figure: one root SVG per figure, with its scatter traces and axes
    assert len(re.findall(r'<div class="[^"]*svg-container', html)) == n_figs
    assert html.count('class="main-svg"') >= n_figs
    assert len(re.findall(r'class="trace scatter', html)) >= 3 * n_figs
    assert len(re.findall(r'<path class="js-line"', html)) >= n_figs
    assert "regnetx_002" in re.sub(r"<script.*?</script>", "", html, flags=re.S)  # named model marked
    shot = tmp_path / "report.png"
    res = run_chromium("--virtual-time-budget=20000", "--window-size=1200,2400", f"--screenshot={shot}",
                       out.as_uri(), profile=profile)
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_report_content(two_spaces):
    html = build_report(two_spaces, by="space", n_boot=50)
    assert CONVENTION in html
    assert "anynet_a" in html and "anynet_e" in html
    assert re.search(r"anynet_a vs anynet_e: (different|equivalent|inconclusive)", html)
    nets = two_spaces.groupby("space")["id"].nunique()  # the synthetic spaces drew some specs twice
    assert f"{nets['anynet_a']} networks, 60 runs (0 diverged)" in html and "simultaneous bootstrap bands" in html
    assert "<p class=warn>" not in html and "No significant" not in html and "noise floor" not in html
    assert "where the best networks lie" in html.lower() and "joint effect" in html
    assert "<h2>Best 15 networks</h2>" in html and html.count("<details>") >= 14  # specs in the table
    assert "RegNet fit of the best models" in html  # widths from the spec column were fitted
    assert 'id="fig-edf-normalized"' in html and 'id="fig-param-wm"' in html


def test_figures_mark_named_models(two_spaces):
    spaces = groups(two_spaces, "space")
    named = two_spaces[two_spaces["name"].notna()]
    f = figures.complexity_figure(spaces, named=named)
    stars = [t for t in f.data if t.name == "named models"]
    assert len(stars) == 1 and list(stars[0].text) == ["regnetx_002"]
    e = figures.edf_figure(spaces, named=named, n_boot=20)
    assert any(s.type == "line" and s.x0 == pytest.approx(45) for s in e.layout.shapes)  # percent
    assert "simultaneous" in e.layout.title.text
    assert CONVENTION in e.layout.title.subtitle.text
    p = figures.param_figure(spaces, "wm", k=0.2, named=named)
    assert [t.name for t in p.data].count("named models") == 1


def test_cli_groups_by_file_and_writes_atomically(tmp_path, two_spaces, capsys):
    a, b = tmp_path / "anynet_a.csv", tmp_path / "anynet_e.csv"
    two_spaces[two_spaces["space"] == "anynet_a"].to_csv(a, index=False)
    two_spaces[two_spaces["space"] == "anynet_e"].to_csv(b, index=False)
    out = tmp_path / "r.html"
    out.write_text("old")
    assert main(["analyze", str(a), str(b), "-o", str(out), "--bootstrap", "50"]) == 0
    nets = two_spaces.groupby("space")["id"].nunique().sum()  # rows sharing an id are one network
    assert f"{nets} networks (120 runs) in 2 group(s)" in capsys.readouterr().out
    text = out.read_text()
    assert "<title>Design space analysis: anynet_a, anynet_e</title>" in text
    assert "Can the comparison be trusted" in text and "prospective sensitivity" in text
    assert sorted(os.listdir(tmp_path)) == ["anynet_a.csv", "anynet_e.csv", "r.html"]  # no temp file left


def test_report_hygiene_small_groups_title_mismatch_and_error_step(tmp_path, two_spaces, capsys):
    """Below 30 networks: a warning and no bands or best-k lines; the title comes from the input's
    name, not "all"; stored parameters that disagree with the spec are flagged, and the spec's values used; the error step."""
    small = two_spaces[two_spaces["space"] == "anynet_a"].head(20).copy()
    small["error"] = np.round(small["error"], 4)  # a 10,000-image validation set
    small.loc[small.index[:3], "depth"] = 99  # stored values that are not what the spec built
    p = tmp_path / "my_study.csv"
    small.to_csv(p, index=False)
    out = tmp_path / "r.html"
    js = tmp_path / "r.json"
    assert main(["analyze", str(p), "-o", str(out), "--bootstrap", "50", "--json", str(js)]) == 0
    text = out.read_text()
    import json

    trends = json.loads(js.read_text())["trends"]["my_study"]
    assert trends["wm"]["best_range"] is None  # no best range below 30 networks
    assert "<title>Design space analysis: my_study</title>" in text
    assert "Warning: my_study has only 20 networks (fewer than 30)" in text
    assert "no bands: fewer than 30 networks" in text
    assert "best networks lie here" not in text and "trend of best" not in text
    assert "stored parameters differ from the built network's spec (depth in 3 network(s))" in text
    assert "steps of 0.01 points: a validation set of about 10,000 images" in text


def test_cli_json_has_the_documented_structure(tmp_path, two_spaces, capsys):
    import json

    a, b = tmp_path / "anynet_a.csv", tmp_path / "anynet_e.csv"
    two_spaces[two_spaces["space"] == "anynet_a"].to_csv(a, index=False)
    two_spaces[two_spaces["space"] == "anynet_e"].to_csv(b, index=False)
    assert main(["analyze", str(a), str(b), "-o", str(tmp_path / "r.html"), "--json", "-", "--bootstrap", "50",
                 "--margin", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == 2 and set(out) == {"version", "groups", "comparisons", "trends"}
    assert set(out["groups"]["anynet_a"]) == {"networks", "runs", "diverged", "seed_sd", "retest_d"}
    rt = out["groups"]["anynet_a"]["retest_d"]
    assert rt is None or set(rt) == {"estimate", "swap_median", "swap_upper", "p"}
    c = out["comparisons"][0]
    assert set(c) == {"a", "b", "unit", "n_a", "n_b", "ks", "mannwhitney", "mean_diff", "tost", "verdict", "mde"}
    assert (c["a"], c["b"], c["unit"], c["tost"]["margin"]) == ("anynet_a", "anynet_e", "network", 1.0)
    assert c["verdict"] in ("different", "equivalent", "inconclusive")
    assert c["mean_diff"]["estimate"] < 0  # b minus a in points: anynet_e has the lower errors (offset 3 points)
    t = out["trends"]["anynet_a"]["wm"]
    assert len(t["best_range"]) == 2 and t["importance"] >= 0


@pytest.mark.parametrize("flags, words", [(["--margin", "0"], "--margin=0.0 must be a positive"),
                                          (["--margin", "nan"], "--margin=nan"),
                                          (["--alpha", "1"], "--alpha=1.0 must be in (0, 1)"),
                                          (["--num-classes", "1"], "--num-classes=1 must be at least 2"),
                                          (["--json", "-", "-o", "-"], "both write to stdout")])
def test_cli_bad_statistics_options_exit_2_before_work(tmp_path, csv_path, capsys, flags, words):
    out = tmp_path / "r.html"
    argv = ["analyze", csv_path, "-o", str(out), *flags] if "-o" not in flags else ["analyze", csv_path, *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and not out.exists()


@pytest.mark.parametrize("content, words", [
    ("", "file is empty"),
    ("error,flops\n", "no models"),
    ("error,flops\n0.3,1e8\n", "only 1 model"),
    ("error,flops\n0.3,1e8\n,2e8\n0.2,3e8\n", "error: 1 missing or non-finite value(s) (NaN/inf) at row(s) 1"),
    ("error,flops\n0.3,1e8\n0.2,\n0.2,3e8\n", "flops: 1 missing"),
    ("err,flops\n0.3,1e8\n0.2,2e8\n", "column 'error' is missing (columns: err, flops"),
])
def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, capsys, content, words):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    out = tmp_path / "r.html"
    assert main(["analyze", str(p), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("designspace analyze: error:") and words in err and "\n" not in err
    assert not out.exists()


def test_cli_speed_only_table_gets_a_speed_report(tmp_path, capsys):
    """`designspace bench` output has no error column: analyze reports speed alone, and its
    correlations are scipy's Spearman rho on the same columns."""
    from scipy import stats

    rng = np.random.default_rng(3)
    flops = rng.uniform(1e8, 1e9, 40)
    df = pd.DataFrame({"id": [f"m{i}" for i in range(40)], "flops": flops, "params": rng.uniform(1e6, 9e6, 40),
                       "acts": flops / 100 * rng.uniform(0.5, 2, 40),
                       "train_images_per_s": 1e11 / flops * rng.uniform(0.8, 1.25, 40),
                       "infer_latency_ms": flops / 1e8 * rng.uniform(0.5, 2, 40)})
    p = tmp_path / "measured.csv"
    df.to_csv(p, index=False)
    out = tmp_path / "speed.html"
    assert main(["analyze", str(p), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "speed only: no error column" in printed and out.exists()
    rho = stats.spearmanr(df["flops"], 1 / df["train_images_per_s"]).statistic
    assert f"measured train_time vs complexity (Spearman, 95% interval, n=40): flops rho {rho:.2f}" in printed
    rho_acts = stats.spearmanr(df["acts"], df["infer_latency_ms"]).statistic
    assert f"acts rho {rho_acts:.2f}" in printed.split("measured latency")[1].split("\n")[0]
    text = out.read_text()
    assert "<h2>Measured speed</h2>" in text and "Measured training time per image (s) vs flops" in text
    # neither errors nor measured speed: one line naming the missing column, exit 2, no file
    df.drop(columns=["train_images_per_s", "infer_latency_ms"]).to_csv(p, index=False)
    out2 = tmp_path / "none.html"
    assert main(["analyze", str(p), "-o", str(out2)]) == 2
    err = capsys.readouterr().err.strip()
    assert "column 'error' is missing" in err and "\n" not in err and not out2.exists()


def test_cli_usage_errors(tmp_path, csv_path, capsys):
    cases = [
        (["analyze", str(tmp_path / "missing.csv")], "missing.csv: file does not exist"),
        (["analyze", csv_path, "--by", "family"], "family: no such column to group by"),
        (["analyze", csv_path, "-o", str(tmp_path / "no" / "r.html")], "folder"),
        (["analyze", csv_path, "--best", "0"], "--best=0.0 must be a fraction"),
        (["analyze", str(tmp_path / "missing.toml")], "study file"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err


def test_data_errors_are_value_errors():
    assert issubclass(AnalysisInputError, ValueError)
    with pytest.raises(AnalysisInputError, match="space: 1 row"):
        groups(pd.DataFrame({"error": [0.1, 0.2], "space": ["a", np.nan]}), "space")


def test_missing_chromium_fails_under_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os.path, "exists", lambda p: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is missing under CI=true"):
        chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        chromium()


def test_study_export_frames_are_adapted(tmp_path, capsys):
    """A table shaped like designspace.search.study's export: unfinished trials dropped, columns mapped."""
    from designspace.analysis.data import from_study_export

    rows = [dict(number=i, state="COMPLETE", role="counted", spec_id=f"s{i}", baseline=None, flops=1e8 * (i + 1),
                 params=1e6, error=0.5 - 0.01 * i, param_depth=i % 3 + 1, param_wm=2.0 + 0.1 * i) for i in range(8)]
    rows += [dict(number=8, state="FAIL", role="counted", error=None, flops=1e8),
             dict(number=9, state="COMPLETE", role="rejected", error=None, flops=1e8),
             dict(number=10, state="COMPLETE", role="counted", spec_id="z", baseline="regnetx_002", flops=2e8,
                  params=2.7e6, error=0.4, param_depth=None, param_wm=None)]
    df, dropped = from_study_export(pd.DataFrame(rows))
    assert dropped == 2 and len(df) == 9
    assert {"id", "name", "depth", "wm"} <= set(df.columns) and not any(c.startswith("param_") for c in df.columns)
    assert df["name"].dropna().tolist() == ["regnetx_002"]
    p = tmp_path / "study.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    assert main(["analyze", str(p), "-o", str(tmp_path / "r.html"), "--bootstrap", "20"]) == 0
    assert "skipped 2 trial(s)" in capsys.readouterr().err
    assert "regnetx_002" in (tmp_path / "r.html").read_text()


def test_report_of_20000_models_renders_in_headless_chromium(tmp_path, capsys):
    # population scale: marker scatters switch to WebGL, the EDFs are computed once per group
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from analyze import synthetic

    csv = tmp_path / "big.csv"
    synthetic(20000).to_csv(csv, index=False)
    out = tmp_path / "big.html"
    assert main(["analyze", str(csv), "--by", "space", "-o", str(out), "--bootstrap", "100"]) == 0
    printed = capsys.readouterr().out
    assert "20000 networks (20000 runs) in 2 group(s)" in printed and "prospective sensitivity" in printed
    text = out.read_text()
    assert '"type":"scattergl"' in text.replace(" ", "") and len(text) < 20 * 2 ** 20  # bounded: under 20 MB
    dom = run_chromium("--virtual-time-budget=30000", "--dump-dom", out.as_uri(), profile=str(tmp_path / "p"))
    assert dom.returncode == 0, dom.stderr[-2000:]
    n_figs = text.count('class="plotly-graph-div"')
    assert len(re.findall(r'<div class="[^"]*svg-container', dom.stdout)) == n_figs  # every figure drawn
    assert dom.stdout.count("gl-container") >= 1  # the WebGL layer plotly adds when it draws scattergl
