"""``python -m runners CHECK ...``: the Argo step entry point; exit 0/1/2 and always a result file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from tests.helpers.runner_helpers import FEATURES, classification_data, write_repo

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, str]:
    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    return write_repo(tmp_path_factory.mktemp("cli"), ref, ev, {"2.0.0": model})


def runners(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "runners", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.slow
def test_pass_fail_error_exit_codes_and_result_files(repo, tmp_path):
    root, spec = repo
    cases = [({"min_accuracy": 0.5}, 0, "pass"), ({"min_accuracy": 0.999}, 1, "fail"),
             ({"min_accuracy": "high"}, 2, "error")]
    for th, code, status in cases:
        out = tmp_path / f"{status}.json"
        p = runners("performance", "--spec", spec, "--model", "t/m", "--version", "2.0.0",
                    "--thresholds", json.dumps(th), "--repo", str(root), "--out", str(out), cwd=tmp_path)
        assert p.returncode == code, p.stderr
        doc = json.loads(out.read_text())
        assert doc["status"] == status and doc["model"] == "t/m" and doc["version"] == "2.0.0"
        assert doc["check"] == "performance"
        if status != "error":
            assert {i["role"] for i in doc["inputs"]} == {"evaluation_data", "candidate_model"}
            assert all(len(i["sha256"]) == 64 for i in doc["inputs"])
        assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_bad_input_still_writes_a_result(repo, tmp_path):
    root, spec = repo
    out = tmp_path / "r.json"
    p = runners("drift", "--spec", spec, "--model", "other/model", "--repo", str(root), "--out", str(out),
                cwd=tmp_path)
    assert p.returncode == 2
    doc = json.loads(out.read_text())
    assert doc["status"] == "error" and "declares model 't/m', not 'other/model'" in doc["error"]
    p = runners("drift", "--spec", spec, "--model", "t/m", "--thresholds", "[1,", "--repo", str(root),
                "--out", str(out), cwd=tmp_path)
    assert p.returncode == 2 and "--thresholds" in json.loads(out.read_text())["error"]
    p = runners("drift", "--spec", "specs/nope.yaml", "--model", "t/m", "--repo", str(root), "--out", str(out),
                cwd=tmp_path)
    assert p.returncode == 2 and "no such spec file" in json.loads(out.read_text())["error"]


@pytest.mark.slow
def test_defaults_come_from_the_tier_and_the_spec(tmp_path):
    from tests.conftest import copy_example_repo

    root = copy_example_repo(tmp_path / "repo", git=False)
    out = tmp_path / "perf.json"
    p = runners("performance", "--spec", "specs/oncology/tumor-malignancy.yaml", "--model",
                "oncology/tumor-malignancy", "--repo", str(root), "--out", str(out), cwd=tmp_path)
    doc = json.loads(out.read_text())
    assert p.returncode == 0, doc
    assert doc["version"] == "1.1.0" and doc["champion"] == "1.0.0"  # the ab challenger vs the champion
    # medium tier defaults overlaid with the spec's own thresholds
    assert doc["thresholds"] == {"min_accuracy": 0.9, "min_roc_auc": 0.95, "min_r2": 0.3, "max_slice_gap": 0.15}
