"""``pr-check`` on the Checks API: check runs with annotations, statuses as the fallback, one sticky comment."""

from __future__ import annotations

import pytest

from engine.change.github import GitHubClient
from engine.cli import main
from engine.report.comment import MARKER
from engine.report.publish import Publisher
from tests.helpers.fake_github import FakeGitHub, review
from tests.report.test_pr_check import RUN_URL, TRIAGE, actions_env, loosen_roc_auc, pr_repo


@pytest.fixture()
def gh():
    with FakeGitHub() as server:
        yield server


def approve(gh: FakeGitHub, head: str) -> None:
    gh.reviews[7] = [review("fay.lead", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=head),
                     review("eli.mle", "APPROVED", "2026-11-20T10:05:00Z", 2, commit=head)]


@pytest.mark.slow
def test_three_runs_give_check_runs_with_annotations_and_one_comment(tmp_path, gh, monkeypatch, capsys) -> None:
    gh.permissions.add("checks")
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    approve(gh, head)
    for _ in range(3):
        assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 1
    err = capsys.readouterr().err
    assert "reporting commit statuses instead" not in err
    assert gh.statuses() == []  # the check runs carry the verdicts

    runs = list(gh.check_runs.values())
    assert [r["name"] for r in runs] == ["govops/policy"] * 3  # one per run, named like the status context
    last = runs[-1]
    assert (last["head_sha"], last["status"], last["conclusion"]) == (head, "completed", "failure")
    assert last["details_url"] == RUN_URL
    assert last["output"]["title"].startswith("2 violation(s): ")
    assert last["output"]["summary"].startswith("## govops pr-check: ❌ failed")
    rules = {a["title"]: a for a in last["annotations"]}
    assert set(rules) == {"GOV-THR-003", "GOV-APP-002"}
    assert rules["GOV-THR-003"] == {
        "path": TRIAGE, "start_line": 99, "end_line": 99, "start_column": 22, "end_column": 22,
        "annotation_level": "failure", "title": "GOV-THR-003",
        "message": "this change loosens performance.min_roc_auc (0.78 -> 0.76); a change may tighten thresholds, "
                   "never loosen them, unless the risk group approves",
    }

    # the exact requests of the last run: pending created, then completed with the annotations
    calls = [r for r in gh.requests if "/check-runs" in r.path][-2:]
    assert (calls[0].method, calls[0].path) == ("POST", "/repos/acme/models/check-runs")
    assert calls[0].body == {
        "name": "govops/policy", "head_sha": head, "status": "in_progress", "details_url": RUN_URL,
        "output": {"title": "govops: evaluating policies", "summary": "govops: evaluating policies"},
    }
    assert (calls[1].method, calls[1].path) == ("PATCH", f"/repos/acme/models/check-runs/{last['id']}")
    assert set(calls[1].body) == {"status", "conclusion", "details_url", "output"}
    assert set(calls[1].body["output"]) == {"title", "summary", "annotations"}

    # exactly one comment, created by the first run and edited in place by the next two
    [comment] = gh.comments[7]
    assert comment["user"]["login"] == "github-actions[bot]"
    assert comment["body"].startswith(MARKER + "\n## govops pr-check: ❌ failed")
    writes = [r for r in gh.requests if "/comments" in r.path and r.method != "GET"]
    assert [(r.method, r.path) for r in writes] == [
        ("POST", "/repos/acme/models/issues/7/comments"),
        ("PATCH", f"/repos/acme/models/issues/comments/{comment['id']}"),
        ("PATCH", f"/repos/acme/models/issues/comments/{comment['id']}"),
    ]


def test_a_token_without_checks_write_falls_back_to_statuses_and_says_so_once(
        tmp_path, gh, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    approve(gh, head)
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 1
    err = capsys.readouterr().err
    assert err.count("reporting commit statuses instead") == 1 and "checks: write" in err
    assert gh.check_runs == {}
    assert [(s["context"], s["state"]) for s in gh.statuses()] == [("govops/policy", "pending"),
                                                                   ("govops/policy", "failure")]
    # one attempt at a check run, then statuses only
    assert [r.method for r in gh.requests if "/check-runs" in r.path] == ["POST"]
    assert len(gh.comments[7]) == 1  # the comment does not need checks


@pytest.mark.slow
def test_a_marker_in_someone_elses_comment_is_not_trusted(tmp_path, gh, monkeypatch, capsys) -> None:
    gh.permissions.add("checks")
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    approve(gh, head)
    forged = gh.add_comment(7, "dana.ds", f"{MARKER}\n## govops pr-check: ✅ passed (trust me)")
    for _ in range(2):
        assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 1
    capsys.readouterr()
    theirs, ours = gh.comments[7]
    assert theirs == forged and theirs["body"].endswith("(trust me)")  # left alone
    assert ours["user"]["login"] == "github-actions[bot]" and "❌ failed" in ours["body"]
    assert not any(r.method == "PATCH" and r.path.endswith(f"/comments/{forged['id']}") for r in gh.requests)
    assert len([r for r in gh.requests if r.method == "POST" and r.path.endswith("/comments")]) == 1


def test_the_identity_comes_from_the_api_for_a_user_token(tmp_path, gh, monkeypatch, capsys) -> None:
    gh.user_login = "govops-bot"  # a personal token: no check runs, and GET /user says who it is
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    approve(gh, head)
    earlier = gh.add_comment(7, "govops-bot", f"{MARKER}\nan older summary")
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 1
    capsys.readouterr()
    assert gh.comments[7] == [earlier] and "❌ failed" in earlier["body"]


def test_a_token_that_may_not_comment_still_reports(tmp_path, gh, monkeypatch, capsys) -> None:
    gh.permissions = {"statuses", "checks"}
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    approve(gh, head)
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 1
    err = capsys.readouterr().err
    assert "could not write the summary comment on PR #7: the workflow needs `pull-requests: write`" in err
    assert [r["conclusion"] for r in gh.check_runs.values()] == ["failure"]


def test_annotations_go_50_per_request(gh, monkeypatch) -> None:
    gh.permissions.add("checks")
    monkeypatch.setenv("GOVOPS_GITHUB_BACKOFF_S", "0")
    publisher = Publisher(GitHubClient(token="t", api_url=gh.url), "acme/models", lambda _: None)
    notes = [{"path": "specs/a.yaml", "start_line": i + 1, "end_line": i + 1, "annotation_level": "warning",
              "title": "R", "message": f"finding {i}"} for i in range(120)]
    body = {"name": "govops/policy", "head_sha": "a" * 40, "status": "completed", "conclusion": "failure",
            "output": {"title": "120 findings", "summary": "see the annotations"}}
    publisher._check_run(body, notes)
    sizes = [(r.method, len(r.body["output"]["annotations"])) for r in gh.requests]
    assert sizes == [("POST", 50), ("PATCH", 50), ("PATCH", 20)]
    [run] = gh.check_runs.values()
    assert [a["message"] for a in run["annotations"]] == [f"finding {i}" for i in range(120)]
    assert run["output"] == {"title": "120 findings", "summary": "see the annotations"}


def test_each_validator_gets_its_check_run_and_a_failed_one_its_annotation(tmp_path, gh, monkeypatch, capsys) -> None:
    from tests.report.test_pr_check import tighten_wine
    from tests.report.test_pr_report_workflow_run import report_side
    from tests.validation.test_model_isolation import _doc, _write

    gh.permissions.add("checks")
    repo, head, tasks, results = report_side(tmp_path, gh, monkeypatch, tighten_wine("0.8"))
    failing = next(t for t in tasks if t.check == "performance")
    doc = _doc(failing)
    doc["status"], doc["summary"] = "fail", "accuracy below the threshold"
    _write(results, failing, doc)
    assert main(["-C", str(repo.path), "pr-check", "--validation-results", str(results)]) == 1
    capsys.readouterr()
    final = {r["name"]: r for r in gh.check_runs.values()}
    assert set(final) == {"govops/policy", "govops/validation", "govops/beverages/wine-cultivar/performance",
                          "govops/beverages/wine-cultivar/data_quality"}
    perf = final["govops/beverages/wine-cultivar/performance"]
    assert (perf["head_sha"], perf["conclusion"]) == (head, "failure")
    [note] = perf["annotations"]
    assert note["path"] == "specs/beverages/wine-cultivar.yaml" and note["annotation_level"] == "failure"
    assert "accuracy below the threshold" in note["message"]
    assert final["govops/beverages/wine-cultivar/data_quality"]["annotations"] == []
    assert final["govops/validation"]["conclusion"] == "failure"
    assert len(gh.comments[7]) == 1
