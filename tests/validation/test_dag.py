"""The validation DAG: which (model, check) tasks a change runs, with which versions and thresholds."""

from __future__ import annotations

from pathlib import Path

from engine.spec.workspace import load_workspace
from engine.validation.dag import build_dag
from tests.conftest import copy_example_repo


def _tasks(root: Path, model: str, **kw):
    ws = load_workspace(root)
    return build_dag([s for s in ws.specs if s.id == model], ws.config, **kw)


def test_high_tier_candidate_is_the_newest_challenger_judged_against_the_champion(project_root):
    tasks = _tasks(project_root, "clinical/readmission-triage")
    assert [t.check for t in tasks] == [
        "performance", "data_quality", "drift", "champion", "robustness", "leakage", "fit", "bias", "importance",
        "serving_parity",
    ]
    assert {(t.version, t.champion) for t in tasks} == {("2.0.0", "1.1.0")}
    perf = tasks[0]
    assert perf.thresholds["min_roc_auc"] == 0.78  # the spec tightens the tier's 0.75
    assert perf.thresholds["max_slice_gap"] == 0.1  # the tier's default stays


def test_a_new_version_in_the_change_is_the_candidate(project_root):
    tasks = _tasks(project_root, "clinical/readmission-triage", new_versions={"clinical/readmission-triage": ["1.1.0"]})
    assert {(t.version, t.champion) for t in tasks} == {("1.1.0", None)}


def test_no_comparison_checks_when_the_candidate_is_the_champion(tmp_path):
    repo = copy_example_repo(tmp_path / "r", git=False)
    spec = repo / "specs/clinical/readmission-triage.yaml"
    spec.write_text(spec.read_text().replace("    challengers:\n      - {version: 2.0.0, mode: shadow}\n", ""))
    tasks = _tasks(repo, "clinical/readmission-triage")
    checks = [t.check for t in tasks]
    assert "champion" not in checks and "importance" not in checks
    assert {"bias", "serving_parity", "fit"} <= set(checks)
    assert {t.version for t in tasks} == {"1.1.0"}
