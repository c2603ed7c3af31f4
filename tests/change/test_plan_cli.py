"""``govops plan``: text like terraform plan, a stable JSON document, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli import main
from tests.helpers.pr_helpers import GitRepo, example_repo, minimal_spec

TRIAGE = "specs/clinical/readmission-triage.yaml"
IRIS = "specs/lab/iris-species.yaml"


def change(tmp_path: Path) -> GitRepo:
    repo = example_repo(tmp_path / "gitops")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(TRIAGE, "    champion: 1.1.0\n", "    champion: 2.0.0\n")
    repo.replace(TRIAGE, "      - {version: 2.0.0, mode: shadow}", "      - {version: 1.1.0, mode: canary, weight: 5}")
    repo.replace(TRIAGE, "thresholds: {min_roc_auc: 0.78}", "thresholds: {min_roc_auc: 0.8}")
    repo.git("mv", IRIS, "specs/lab/iris.yaml")
    repo.git("rm", "-q", "specs/lab/digit-reader.yaml")
    repo.write("specs/lab/new-model.yaml", minimal_spec("lab", "new-model"))
    repo.replace("govops.yaml", "approvals: {count: 2, groups: [risk]}", "approvals: {count: 1, groups: [risk]}")
    repo.write("policies/extra.rego", "package govops.extra\n")
    repo.commit("a busy change")
    return repo


def test_text_plan(tmp_path: Path, capsys) -> None:
    repo = change(tmp_path)
    assert main(["-C", str(repo.path), "plan", "--base", "main", "--head", "feature"]) == 0
    out = capsys.readouterr().out
    mb = repo.git("rev-parse", "main")[:12]
    head = repo.git("rev-parse", "feature")[:12]
    assert out == (
        f"govops plan: main (merge base {mb}) -> feature ({head})\n"
        "\n"
        f"  ~ clinical/readmission-triage  ({TRIAGE})\n"
        "      ~ champion: 1.1.0 -> 2.0.0\n"
        "      ~ challengers: 2.0.0 shadow -> 1.1.0 canary 5%\n"
        "      ~ threshold performance.min_roc_auc: 0.78 -> 0.8 (tightened)\n"
        "  - lab/digit-reader  (specs/lab/digit-reader.yaml)\n"
        "      was tier low, champion 1.0.0\n"
        "  > lab/iris-species  (specs/lab/iris.yaml)\n"
        f"      moved: {IRIS} -> specs/lab/iris.yaml\n"
        "  + lab/new-model  (specs/lab/new-model.yaml)\n"
        "      tier: low; versions: 1.0.0; champion: 1.0.0\n"
        "  ~ govops.yaml changed\n"
        "      ! tier high: approvals 2 (groups: risk) -> 1 (groups: risk) (loosened)\n"
        "  ~ policies/ changed: policies/extra.rego\n"
        "\n"
        "Plan: 1 to add, 1 to change, 1 to move, 1 to remove. govops.yaml changed; policies/ changed.\n"
    )


def test_json_plan(tmp_path: Path, capsys) -> None:
    repo = change(tmp_path)
    assert main(["-C", str(repo.path), "plan", "--base", "main", "--head", "feature", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"base", "head", "models", "summary", "config_changed", "config_changes",
                        "policies_changed", "policy_files", "changed_files", "files", "diagnostics"}
    assert doc["base"] == {"ref": "main", "sha": repo.git("rev-parse", "main"),
                           "merge_base": repo.git("rev-parse", "main")}
    assert doc["head"] == {"ref": "feature", "sha": repo.git("rev-parse", "feature")}
    assert doc["summary"] == {"added": 1, "modified": 1, "moved": 1, "removed": 1, "unchanged": 0}
    assert [m["model"] for m in doc["models"]] == [
        "clinical/readmission-triage", "lab/digit-reader", "lab/iris-species", "lab/new-model"]
    assert doc["models"][0]["kinds"] == ["champion_change", "challenger_change", "traffic_change",
                                         "threshold_tightened"]
    assert doc["config_changes"] == [{"what": "approvals", "tier": "high", "from": {"count": 2, "groups": ["risk"]},
                                      "to": {"count": 1, "groups": ["risk"]}, "change": "loosened"}]
    assert {"status": "R", "path": "specs/lab/iris.yaml", "old_path": IRIS} in doc["files"]


def test_plan_bad_inputs_exit_2(tmp_path: Path, capsys) -> None:
    repo = change(tmp_path)
    assert main(["-C", str(repo.path), "plan", "--base", "nope"]) == 2
    assert "error: base ref 'nope' does not exist" in capsys.readouterr().err
    assert main(["-C", str(repo.path), "plan", "--base=--output=/tmp/x", "--head", "feature"]) == 2
    assert "never starts with '-'" in capsys.readouterr().err
    repo.write("specs/lab/broken.yaml", "apiVersion: govops/v1\nkind: Model\nmetadata: [\n")
    assert main(["-C", str(repo.path), "plan", "--base", "main", "--head", "WORKTREE"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specs/lab/broken.yaml:")
