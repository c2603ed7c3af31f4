"""The report workflow's ``govops pr-check`` on ``workflow_run``: the PR from the API, never from the PR's workflow.

The validation workflow (``pull_request``) runs the PR's own copy of govops-pr.yml; the report
workflow (``workflow_run``) runs the default branch's. These tests play the report side: a real
Git repository with the base checked out, real Rego, a local server answering like GitHub, a
``workflow_run`` payload as GitHub sends it, and results handed over as the validation run
(or a PR that rewrote it) would upload them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.change.gitread import plan_between
from engine.cli import main
from engine.spec.workspace import load_config
from engine.validation.dag import build_plan_dag
from tests.helpers.fake_github import FakeGitHub, pull, review
from tests.helpers.pr_helpers import GitRepo
from tests.report.test_pr_check import TOKEN, actions_env, pr_repo, tighten_wine
from tests.validation.test_model_isolation import _doc, _write


@pytest.fixture()
def gh():
    with FakeGitHub() as server:
        yield server


def workflow_run_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gh: FakeGitHub, run_head: str,
                     number: int | None = 7) -> None:
    pulls = [] if number is None else [{"number": number, "head": {"ref": "feature", "sha": run_head},
                                        "base": {"ref": "main", "sha": "0" * 40}}]
    event = {"action": "completed", "repository": {"full_name": "acme/models"},
             "workflow_run": {"id": 555, "name": "govops PR check", "event": "pull_request", "head_sha": run_head,
                              "head_branch": "feature", "conclusion": "success", "pull_requests": pulls}}
    (tmp_path / "event.json").write_text(json.dumps(event))
    for k, v in {
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_API_URL": gh.url, "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/models", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "600",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"), "GOVOPS_GITHUB_BACKOFF_S": "0",
    }.items():
        monkeypatch.setenv(k, v)
    for k in ("GOVOPS_RUN_URL", "GOVOPS_OPA_URL", "GOVOPS_POLICY_BACKEND"):
        monkeypatch.delenv(k, raising=False)


def report_side(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch, edit: Any,
                ) -> tuple[GitRepo, str, list[Any], Path]:
    """A PR (``edit``) whose validation run uploaded a passing result for every task; the base checked out."""
    repo, base, head = pr_repo(tmp_path, edit)
    repo.git("checkout", "-q", "main")  # the report side: the head is only Git objects
    workflow_run_env(monkeypatch, tmp_path, gh, head)
    gh.pulls[7] = pull(7, author="ivan.ds", base_sha=base, head_sha=head)
    gh.reviews[7] = [review("jo.lead", "APPROVED", "2026-11-20T11:00:00Z", commit=head)]
    config, _, _ = load_config(repo.path)
    tasks = build_plan_dag(plan_between(repo.path, base, head), config)
    assert tasks
    results = tmp_path / "govops-results" / "validation"
    for task in tasks:
        _write(results, task, _doc(task))
    return repo, head, tasks, results


def test_workflow_run_reports_on_the_runs_head_with_the_pr_from_the_api(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, head, _, results = report_side(tmp_path, gh, monkeypatch, tighten_wine("0.8"))
    out = tmp_path / "o"
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results), "--out", str(out)])
    capsys.readouterr()
    assert rc == 0
    assert [(s["context"], s["state"]) for s in gh.statuses()[2:]] == [
        ("govops/policy", "success"),
        ("govops/beverages/wine-cultivar/performance", "success"),
        ("govops/beverages/wine-cultivar/data_quality", "success"),
        ("govops/validation", "success"),
    ]
    sent = gh.without_checks_and_comments()  # this token may not create check runs: statuses
    assert {r.path for r in sent if r.method == "POST"} == {f"/repos/acme/models/statuses/{head}"}
    # read once for both contexts (one view of the PR), then its reviews
    assert [r.path for r in sent if r.method == "GET"] == ["/repos/acme/models/pulls/7",
                                                                  "/repos/acme/models/pulls/7/reviews"]
    ctx = json.loads((out / "pr-check.json").read_text())["context"]
    assert (ctx["author"], ctx["pr_number"], ctx["head_sha"], ctx["event"]) == ("ivan.ds", 7, head, "workflow_run")


def test_a_pr_that_moved_on_is_not_reported(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, head, _, results = report_side(tmp_path, gh, monkeypatch, tighten_wine("0.8"))
    gh.pulls[7]["head"]["sha"] = "e" * 40  # pushed again while this run's validation ran
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"pull request #7 moved on: its head is now {'e' * 12}, but the run being reported checked " \
           f"{head[:12]}" in err
    assert "Traceback" not in err
    assert gh.statuses() == []  # nothing posted, not even pending: the run for the new head reports


def test_a_fork_pr_without_a_linked_pull_request_is_refused(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, head, _, results = report_side(tmp_path, gh, monkeypatch, tighten_wine("0.8"))
    workflow_run_env(monkeypatch, tmp_path, gh, head, number=None)
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results)])
    assert rc == 2 and "pass --pr-number N" in capsys.readouterr().err
    assert gh.statuses() == []


def edit_wine_and_the_workflow(repo: GitRepo) -> None:
    """The attack: the PR's own govops-pr.yml wrote 'pass' results without running anything."""
    tighten_wine("0.8")(repo)
    repo.write(".github/workflows/govops-pr.yml", "name: govops PR check\n# rewritten: uploads forged passes\n")


@pytest.mark.parametrize("event", ["workflow_run", "pull_request"])
@pytest.mark.slow
def test_results_from_a_run_of_a_pr_that_edits_github_are_not_trusted(tmp_path, gh, monkeypatch, capsys,
                                                                       event) -> None:
    repo, head, tasks, results = report_side(tmp_path, gh, monkeypatch, edit_wine_and_the_workflow)
    if event == "pull_request":  # the rule holds wherever the results are read, whatever the event
        actions_env(monkeypatch, tmp_path, gh, gh.pulls[7]["base"]["sha"], head, author="ivan.ds")
    # even with the risk group's approval (GOV-META-001 satisfied), the results stay untrusted
    gh.reviews[7].append(review("rita.risk", "APPROVED", "2026-11-20T12:00:00Z", commit=head))
    out = tmp_path / "o"
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results), "--out", str(out)])
    capsys.readouterr()
    assert rc == 1
    final = gh.statuses()[2:]
    assert [(s["context"], s["state"]) for s in final] == [
        ("govops/policy", "success"),
        ("govops/beverages/wine-cultivar/performance", "error"),
        ("govops/beverages/wine-cultivar/data_quality", "error"),
        ("govops/validation", "failure"),
    ]
    handed = json.loads((out / "pr-check.json").read_text())["validation"]["results"]
    assert [r["status"] for r in handed] == ["error"] * len(tasks)
    assert all(r["error"] == (
        "results not trusted: this change edits .github/workflows/govops-pr.yml, so the validation run used the "
        "PR's own workflow; a code owner must review the workflow change (GOV-META-001), which belongs in a PR "
        "of its own") for r in handed)
    assert all(r["metrics"] == [] for r in handed)  # nothing of the forged documents is kept


@pytest.mark.slow
def test_without_risk_approval_the_workflow_edit_is_also_denied(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, _, _, results = report_side(tmp_path, gh, monkeypatch, edit_wine_and_the_workflow)
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results)])
    out = capsys.readouterr().out
    assert rc == 1 and "GOV-META-001" in out
    assert [(s["context"], s["state"]) for s in gh.statuses()[2:]][0] == ("govops/policy", "failure")
