"""``govops validate``: the tier's checks for chosen models, a table or JSON, exit 1 on any fail/error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import copy_example_repo, govops

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_example_repo(tmp_path_factory.mktemp("validate") / "repo")


@pytest.mark.slow
def test_validate_one_model_text_table(repo, tmp_path):
    out = tmp_path / "out"
    p = govops("-C", str(repo), "validate", "--model", "beverages/wine-cultivar", "--out", str(out), "--jobs", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "VERSION", "CHECK", "STATUS", "KEY", "METRIC"]
    body = [line.split() for line in lines[1:3]]
    assert [row[2] for row in body] == ["performance", "data_quality"]  # the low tier's checks, in order
    assert all(row[3] == "PASS" for row in body)
    assert "accuracy 0.963 (needs >= 0.7)" in lines[1]
    assert "2 passed, 0 failed, 0 error(s)" in lines[-1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is True and summary["counts"] == {"pass": 2, "fail": 0, "error": 0}
    perf = json.loads((out / "beverages" / "wine-cultivar" / "performance.json").read_text())
    assert perf["status"] == "pass" and perf["version"] == "1.0.0"


@pytest.mark.slow
def test_validate_json_and_exit_1_on_failures(repo, tmp_path):
    out = tmp_path / "out"
    p = govops("-C", str(repo), "validate", "--model", "clinical/disease-progression", "--format", "json",
               "--out", str(out))
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] is False
    checks = {r["check"]: r["status"] for r in doc["results"]}
    assert list(checks) == ["performance", "data_quality", "drift", "champion", "robustness", "leakage", "fit"]
    assert checks["fit"] == "fail"  # gradient boosting 1.1.0 overfits (see README)
    assert doc["counts"]["fail"] == sum(s == "fail" for s in checks.values())
    assert Path(doc["summary_path"]) == out / "summary.json"


@pytest.mark.slow
def test_timeout_flag_turns_a_slow_check_into_an_error(repo, tmp_path):
    p = govops("-C", str(repo), "validate", "--model", "lab/digit-reader", "--timeout", "0.01",
               "--out", str(tmp_path / "o"), "--format", "json")
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert {r["status"] for r in doc["results"]} == {"error"}
    assert "exceeded its time limit of 0.01 s" in doc["results_full"][0]["error"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--head", "main"], "--head needs --base"),
        (["--base", "no-such-ref"], "base ref 'no-such-ref' does not exist"),
        (["--base", "main", "--head=--output=x"], "(a ref never starts with '-'; it was not read as an option)"),
        (["--all", "--executor", "argo"], "GOVOPS_ARGO_SERVER"),
        ([], "say which models to validate"),
        (["--model", "nobody/nothing"], "unknown model(s) nobody/nothing"),
        (["--all", "--jobs", "0"], "--jobs must be at least 1"),
        (["--all", "--timeout", "-1"], "--timeout must be a positive number"),
    ],
)
def test_usage_errors_exit_2(repo, args, message):
    p = govops("-C", str(repo), "validate", *args)
    assert p.returncode == 2, p.stdout
    assert message in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_base_head_validates_only_the_changed_model(tmp_path):
    """A change to one spec validates that model's new challenger, nothing else."""
    from tests.conftest import run_git

    repo = copy_example_repo(tmp_path / "r")
    run_git(repo, "checkout", "-q", "-b", "feature")
    spec = repo / "specs/beverages/wine-cultivar.yaml"
    spec.write_text(spec.read_text().replace("    label: cultivar\n", "    label: cultivar\n    checks:\n"
                                              "      performance: {thresholds: {min_accuracy: 0.9}}\n"))
    run_git(repo, "commit", "-qam", "wine: tighten accuracy")
    p = govops("-C", str(repo), "validate", "--base", "main", "--out", str(tmp_path / "o"), "--format", "json")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads(p.stdout)
    assert {(r["model"], r["check"]) for r in doc["results_full"]} == {
        ("beverages/wine-cultivar", "performance"), ("beverages/wine-cultivar", "data_quality")}
    perf = next(r for r in doc["results_full"] if r["check"] == "performance")
    assert perf["thresholds"]["min_accuracy"] == 0.9
    assert "validating 1 model(s) changed between main and HEAD: beverages/wine-cultivar" in p.stderr


def test_base_head_refuses_a_head_that_is_not_checked_out(tmp_path):
    from tests.conftest import run_git

    repo = copy_example_repo(tmp_path / "r")
    run_git(repo, "branch", "other")
    run_git(repo, "commit", "-q", "--allow-empty", "-m", "moves main ahead")
    p = govops("-C", str(repo), "validate", "--base", "main~1", "--head", "other")
    assert p.returncode == 2
    assert "check out other first, or pass --head WORKTREE" in p.stderr
