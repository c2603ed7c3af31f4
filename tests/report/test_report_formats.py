"""engine.report: statuses, annotations, markdown and JSON rendered from one PR report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from engine.change.context import ChangeContext
from engine.change.gitread import plan_between
from engine.report import PrReport, get, one_line, run_url
from engine.report.statuses import build
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import UsageError
from engine.spec.workspace import load_config
from engine.validation.dag import build_dag
from tests.helpers.pr_helpers import PROJECT, example_repo

TRIAGE = "specs/clinical/readmission-triage.yaml"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> PrReport:
    repo = example_repo(tmp_path_factory.mktemp("r") / "gitops")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(TRIAGE, "thresholds: {min_roc_auc: 0.78}", "thresholds: {min_roc_auc: 0.7}")
    repo.commit("loosen")
    cfg, _, _ = load_config(PROJECT)
    plan = plan_between(repo.path, "main", "feature")
    tasks = build_dag([plan.head_specs["clinical/readmission-triage"]], cfg)[:3]
    long = "a, b: 100% of the time\nsecond line " + "x" * 300
    results = [
        {"check": tasks[0].check, "model": tasks[0].model, "version": "2.0.0", "status": "pass", "summary": "ok",
         "metrics": [{"name": "roc_auc", "value": 0.81, "threshold": 0.7, "op": ">=", "passed": True,
                      "scope": "overall"}]},
        {"check": tasks[1].check, "model": tasks[1].model, "version": "2.0.0", "status": "fail", "summary": long,
         "metrics": [{"name": "missing_rate", "value": 0.2, "threshold": 0.01, "op": "<=", "passed": False,
                      "scope": "bmi"}]},
    ]  # the third task has no result: an error
    return PrReport(
        plan=plan, context=ChangeContext(author="dana.ds", pr_number=3, target_branch="main",
                                         approvals=[{"approver": "rita.risk", "group": "risk"}]),
        config=cfg,
        policy_diagnostics=[Diagnostic(TRIAGE, 98, 22, "GOV-THR-003", "loosens, 50%: see\nnext", model=tasks[0].model)],
        models_checked=1, validation_ran=True, tasks=tasks, results=results, run_url="https://ci/run/1",
    )


def test_statuses_in_order_with_one_line_descriptions(report: PrReport) -> None:
    statuses = build(report)
    assert [(s["context"], s["state"]) for s in statuses] == [
        ("govops/policy", "failure"),
        ("govops/clinical/readmission-triage/performance", "success"),
        ("govops/clinical/readmission-triage/data_quality", "failure"),
        ("govops/clinical/readmission-triage/drift", "error"),
        ("govops/validation", "failure"),
    ]
    for s in statuses:
        assert len(s["description"]) <= 140 and "\n" not in s["description"]
        assert s["target_url"] == "https://ci/run/1"
    assert statuses[2]["description"].endswith("…")
    assert statuses[3]["description"] == "drift produced no result"
    assert statuses[4]["description"] == (
        "2 of 3 validator(s) failed: clinical/readmission-triage/data_quality, clinical/readmission-triage/drift")
    assert [json.loads(x) for x in get("statuses").render(report).splitlines()] == [
        dict(sorted(s.items())) for s in statuses]


def test_annotations_escape_and_point_at_spec_lines(report: PrReport) -> None:
    lines = get("annotations").render(report).splitlines()
    assert lines[0] == f"::error file={TRIAGE},line=98,col=22,title=GOV-THR-003::loosens, 50%25: see%0Anext"
    dq = [x for x in lines if "data_quality" in x][0]
    tier_line = report.plan.head_specs["clinical/readmission-triage"].doc.position(("spec", "tier"))[0]
    assert dq.startswith(f"::error file={TRIAGE},line={tier_line},col=3,"
                         "title=govops/clinical/readmission-triage/data_quality::")
    assert "failing: missing_rate=0.2 (<= 0.01)" in dq
    perf = [x for x in lines if "title=govops/clinical/readmission-triage/performance" in x]
    assert perf == []  # passed validators are not annotated
    assert lines[-1].startswith("::notice::govops pr-check failed")


def test_markdown_summary(report: PrReport) -> None:
    md = get("markdown").render(report)
    assert md.startswith("## govops pr-check: ❌ failed\n")
    assert "PR #3 by `dana.ds` into `main`" in md
    assert "| model | performance | data_quality | drift |" in md
    assert "✅ roc_auc 0.81 >= 0.7" in md and "❌ missing_rate [bmi] 0.2 <= 0.01 ❌" in md
    assert "⚠️ no result" in md
    assert "! threshold performance.min_roc_auc: 0.78 -> 0.7 (loosened)" in md
    assert "- `clinical/readmission-triage` (tier high): 2 approval(s) including one from each of: `risk`" in md
    assert "- approvals so far: rita.risk (risk)" in md
    assert "older commit" not in md


def test_markdown_lists_stale_approvals_with_their_commit(report: PrReport) -> None:
    stale = [{"approver": "omar.compliance", "group": "risk", "commit": "a" * 40},
             {"approver": "fay.lead", "group": None, "commit": None}]  # its commit was force-pushed away
    md = get("markdown").render(replace(report, context=replace(report.context, stale_approvals=stale)))
    assert ("- approvals of an older commit, not counted until given again on the latest one: "
            f"omar.compliance (on {'a' * 12}), fay.lead (on an unknown commit)") in md


def test_json_report(report: PrReport) -> None:
    doc = json.loads(get("json").render(report))
    assert doc["version"] == 1 and doc["ok"] is False
    assert doc["policy"]["violations"][0] == {"rule": "GOV-THR-003", "severity": "error",
                                              "model": "clinical/readmission-triage", "file": TRIAGE,
                                              "line": 98, "col": 22, "message": "loosens, 50%: see\nnext",
                                              "path": None}
    assert doc["validation"]["ok"] is False and len(doc["validation"]["tasks"]) == 3
    assert doc["statuses"] == build(report)


def test_helpers() -> None:
    assert one_line("a\n b   c") == "a b c"
    assert len(one_line("y" * 500)) == 140
    env = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5"}
    assert run_url(env) == "https://github.example/o/r/actions/runs/5"
    assert run_url(env, "https://argo/workflows/ns/wf") == "https://argo/workflows/ns/wf"
    assert run_url({**env, "GOVOPS_RUN_URL": "https://x"}) == "https://x"
    assert run_url({}) is None
    with pytest.raises(UsageError, match="unknown report format 'sarif'"):
        get("sarif")


def test_report_paths_are_repository_relative(report: PrReport) -> None:
    assert not Path(report.policy_diagnostics[0].file).is_absolute()
