"""``govops pr-check`` end to end: a real Git repository, real Rego, a local server answering like GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from tests.helpers.fake_github import Answer, FakeGitHub, review
from tests.helpers.pr_helpers import GitRepo, example_repo

TOKEN = "ghs_prCheckTOKEN0987654321"
TRIAGE = "specs/clinical/readmission-triage.yaml"
WINE = "specs/beverages/wine-cultivar.yaml"
RUN_URL = "https://github.com/acme/models/actions/runs/99"


@pytest.fixture()
def gh():
    with FakeGitHub() as server:
        yield server


def pr_repo(tmp_path: Path, edit) -> tuple[GitRepo, str, str]:
    repo = example_repo(tmp_path / "gitops", policies=True)
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    edit(repo)
    head = repo.commit("the data scientist's change")
    return repo, base, head


def actions_env(monkeypatch, tmp_path: Path, gh: FakeGitHub, base: str, head: str, author: str = "dana.ds") -> Path:
    event = {
        "action": "opened", "number": 7,
        "pull_request": {"number": 7, "user": {"login": author}, "labels": [],
                         "base": {"ref": "main", "sha": base}, "head": {"ref": "feature", "sha": head}},
        "repository": {"full_name": "acme/models"},
    }
    (tmp_path / "event.json").write_text(json.dumps(event))
    summary = tmp_path / "step-summary.md"
    for k, v in {
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_EVENT_NAME": "pull_request", "GITHUB_API_URL": gh.url, "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/models", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "99",
        "GITHUB_STEP_SUMMARY": str(summary), "GOVOPS_GITHUB_BACKOFF_S": "0",
    }.items():
        monkeypatch.setenv(k, v)
    for k in ("GOVOPS_RUN_URL", "GOVOPS_OPA_URL", "GOVOPS_POLICY_BACKEND"):
        monkeypatch.delenv(k, raising=False)
    return summary


def loosen_roc_auc(repo: GitRepo) -> None:
    repo.replace(TRIAGE, "thresholds: {min_roc_auc: 0.78}", "thresholds: {min_roc_auc: 0.76}")


@pytest.mark.slow
def test_loosening_a_high_tier_threshold_needs_risk_approval(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    summary = actions_env(monkeypatch, tmp_path, gh, base, head)
    gh.reviews[7] = [review("fay.lead", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=head),
                     review("eli.mle", "APPROVED", "2026-11-20T10:05:00Z", 2, commit=head)]

    rc = main(["-C", str(repo.path), "pr-check", "--no-validate"])
    out = capsys.readouterr().out
    assert rc == 1
    line = next(x for x in out.splitlines() if "GOV-THR-003" in x)
    assert line == (
        f"::error file={TRIAGE},line=99,col=22,title=GOV-THR-003::this change loosens performance.min_roc_auc "
        "(0.78 -> 0.76); a change may tighten thresholds, never loosen them, unless the risk group approves"
    )
    assert any(x.startswith(f"::error file={TRIAGE},line=13,col=3,title=GOV-APP-002::") for x in out.splitlines())
    statuses = gh.statuses()
    assert [(s["context"], s["state"]) for s in statuses] == [("govops/policy", "pending"),
                                                             ("govops/policy", "failure")]
    assert statuses[1]["description"].startswith("2 violation(s): ")
    assert "GOV-THR-003 clinical/readmission-triage" in statuses[1]["description"]
    assert all(s["target_url"] == RUN_URL and len(s["description"]) <= 140 for s in statuses)
    # (this token may not create check runs: statuses are the fallback; check runs: test_check_runs.py)
    sent = gh.without_checks_and_comments()
    assert {r.path for r in sent if r.method == "POST"} == {f"/repos/acme/models/statuses/{head}"}
    # pending is posted first; the reviews are read before the verdict is posted
    assert [r.path.rsplit("/", 1)[-1] if r.method == "GET" else r.method for r in sent] == [
        "POST", "reviews", "POST"]
    text = summary.read_text()
    assert "## govops pr-check: ❌ failed" in text and "`GOV-THR-003`" in text
    assert "! threshold performance.min_roc_auc: 0.78 -> 0.76 (loosened)" in text
    assert "needs the `risk` group" in text

    # the risk group approves: the same PR passes
    gh.requests.clear()
    gh.reviews[7].append(review("rita.risk", "APPROVED", "2026-11-20T11:00:00Z", 3, commit=head))
    rc = main(["-C", str(repo.path), "pr-check", "--no-validate"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "::error" not in out
    assert gh.statuses() == [
        {"state": "pending", "context": "govops/policy", "description": "govops: evaluating policies",
         "target_url": RUN_URL},
        {"state": "success", "context": "govops/policy", "description": "1 model(s) checked: no violations",
         "target_url": RUN_URL},
    ]
    assert TOKEN not in out


@pytest.mark.slow
def test_flags_instead_of_github(tmp_path, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    for k in ("GITHUB_ACTIONS", "GITHUB_EVENT_PATH", "GITHUB_TOKEN", "GITHUB_STEP_SUMMARY", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(k, raising=False)
    args = ["-C", str(repo.path), "pr-check", "--base", "main", "--head", "feature", "--author", "dana.ds",
            "--no-validate", "--out", str(tmp_path / "out")]
    assert main(args + ["--approved-by", "fay.lead", "--approved-by", "eli.mle"]) == 1
    out = capsys.readouterr().out
    assert 'would send status (dry run): {"context": "govops/policy", "description": "govops: evaluating' in out
    assert "::error" not in out  # annotations only on Actions (or --annotations always)
    doc = json.loads((tmp_path / "out" / "pr-check.json").read_text())
    assert doc["ok"] is False and doc["policy"]["ok"] is False
    assert {v["rule"] for v in doc["policy"]["violations"] if v["severity"] == "error"} == {
        "GOV-THR-003", "GOV-APP-002"}
    assert doc["plan"]["models"][0]["model"] == "clinical/readmission-triage"
    assert doc["context"]["approvals"] == [{"approver": "fay.lead", "group": None},
                                           {"approver": "eli.mle", "group": None}]
    assert doc["statuses"][0]["state"] == "failure" and doc["validation"]["ran"] is False
    assert main(args + ["--approved-by", "fay.lead", "--approved-by", "rita.risk"]) == 0


def test_malformed_event_payload(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    (tmp_path / "event.json").write_text('{"number": 7, "pull_request": {"user": {"login": "dana.ds"}}}')
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'event.json'}: error: malformed event payload: missing pull_request.labels" in err
    assert gh.requests == []


def test_base_that_does_not_exist_sets_error_statuses(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, "f" * 40, head)
    assert main(["-C", str(repo.path), "pr-check"]) == 2
    err = capsys.readouterr().err
    assert f"base ref '{'f' * 40}' does not exist" in err
    assert [(s["context"], s["state"]) for s in gh.statuses()] == [
        ("govops/policy", "pending"), ("govops/validation", "pending"),
        ("govops/policy", "error"), ("govops/validation", "error"),
    ]
    assert "does not exist" in gh.statuses()[2]["description"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(401, {"message": "Bad credentials"}), "refused the credentials (401)"),
        (Answer(403, {"message": "Resource not accessible by integration"}), "statuses: write"),
        (Answer(422, {"message": "Validation Failed", "errors": [{"message": "No commit found for SHA"}]}),
         "rejected POST"),
        (Answer(500, {"message": "Server Error"}), "with 500 after 5 attempt(s)"),
    ],
)
@pytest.mark.slow
def test_github_api_errors_exit_2_without_the_token(tmp_path, gh, monkeypatch, capsys, answer, message) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    gh.reviews[7] = []
    gh.answer("POST", f"/repos/acme/models/statuses/{head}", *[answer] * 10)
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert TOKEN not in captured.err + captured.out
    posts = [r for r in gh.without_checks_and_comments() if r.method == "POST"]
    assert len(posts) == (5 if answer.status == 500 else 1)


@pytest.mark.slow
def test_approvals_of_an_older_commit_do_not_count(tmp_path, gh, monkeypatch, capsys) -> None:
    """The author pushes after the risk group approved: that approval is of something else (staleApprovals)."""
    repo, base, approved_commit = pr_repo(tmp_path, loosen_roc_auc)
    repo.replace(TRIAGE, "thresholds: {min_roc_auc: 0.76}", "thresholds: {min_roc_auc: 0.70}")
    head = repo.commit("loosen further after the approvals")
    summary = actions_env(monkeypatch, tmp_path, gh, base, head)
    gh.reviews[7] = [review("fay.lead", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=head),
                     review("rita.risk", "APPROVED", "2026-11-20T11:00:00Z", 2, commit=approved_commit)]
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 1
    out = capsys.readouterr().out
    # rita.risk approved 0.76; what would merge is 0.70, below the tier's default, and nobody approved that
    assert any("title=GOV-THR-001::performance.min_roc_auc = 0.7 is weaker" in x for x in out.splitlines()), out
    assert any("title=GOV-APP-002::" in x for x in out.splitlines())
    text = summary.read_text()
    assert ("approvals of an older commit, not counted until given again on the latest one: "
            f"rita.risk (on {approved_commit[:12]})") in text
    # rita.risk approves the latest commit: it passes
    gh.reviews[7].append(review("rita.risk", "APPROVED", "2026-11-20T12:00:00Z", 3, commit=head))
    assert main(["-C", str(repo.path), "pr-check", "--no-validate"]) == 0
    assert gh.statuses()[-1]["state"] == "success"


def test_dry_run_sends_nothing(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, loosen_roc_auc)
    actions_env(monkeypatch, tmp_path, gh, base, head)
    gh.reviews[7] = [review("rita.risk", "APPROVED", "2026-11-20T11:00:00Z", commit=head),
                     review("fay.lead", "APPROVED", "2026-11-20T11:00:00Z", commit=head)]
    assert main(["-C", str(repo.path), "pr-check", "--no-validate", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert [r.method for r in gh.requests] == ["GET"]
    assert out.count("would send status (dry run)") == 2


def tighten_wine(value: str):
    def edit(repo: GitRepo) -> None:
        text = repo.read(WINE)
        assert "checks:" not in text.split("validation:")[1].split("monitoring:")[0]
        repo.replace(WINE, "  validation:\n", "  validation:\n    checks:\n      performance:\n"
                     f"        thresholds: {{min_accuracy: {value}}}\n")
    return edit


@pytest.mark.slow
@pytest.mark.parametrize(("value", "expect_rc"), [("0.8", 0), ("0.999", 1)])
def test_validators_report_one_status_each(tmp_path, gh, monkeypatch, capsys, value, expect_rc) -> None:
    repo, base, head = pr_repo(tmp_path, tighten_wine(value))
    actions_env(monkeypatch, tmp_path, gh, base, head, author="ivan.ds")
    gh.reviews[7] = [review("jo.lead", "APPROVED", "2026-11-20T11:00:00Z", commit=head)]
    rc = main(["-C", str(repo.path), "pr-check", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == expect_rc
    statuses = gh.statuses()
    assert [s["context"] for s in statuses] == [
        "govops/policy", "govops/validation", "govops/policy",
        "govops/beverages/wine-cultivar/performance", "govops/beverages/wine-cultivar/data_quality",
        "govops/validation",
    ]
    assert [s["state"] for s in statuses[:3]] == ["pending", "pending", "success"]
    perf = statuses[3]
    doc = json.loads((tmp_path / "out" / "pr-check.json").read_text())
    results = {r["check"]: r for r in doc["validation"]["results"]}
    assert set(results) == {"performance", "data_quality"}
    assert (tmp_path / "out" / "validation" / "beverages" / "wine-cultivar" / "performance.json").is_file()
    accuracy = next(m for m in results["performance"]["metrics"] if m["name"] == "accuracy")
    assert accuracy["threshold"] == float(value)
    if expect_rc == 0:
        assert perf["state"] == "success" and statuses[-1]["state"] == "success"
        assert statuses[-1]["description"] == "2 validator(s) passed"
    else:
        assert accuracy["value"] < 0.999
        assert perf["state"] == "failure" and statuses[-1]["state"] == "failure"
        assert statuses[-1]["description"].startswith("1 of 2 validator(s) failed: beverages/wine-cultivar/perf")
        line = next(x for x in out.splitlines() if "title=govops/beverages/wine-cultivar/performance" in x)
        checks_line = repo.read(WINE).splitlines().index("      performance:") + 1
        assert line.startswith(f"::error file={WINE},line={checks_line},col=7,")
        assert "accuracy=" in line and "(>= 0.999)" in line
    assert perf["description"].startswith("1.") and len(perf["description"]) <= 140


def test_models_to_validate(tmp_path) -> None:
    from engine.change.gitread import plan_between
    from engine.validation.dag import specs_to_validate

    def edit(repo: GitRepo) -> None:
        repo.replace("govops.yaml", "performance: {min_accuracy: 0.7, min_r2: 0.2}",
                     "performance: {min_accuracy: 0.75, min_r2: 0.2}")  # low tier: every low model re-validates
        repo.replace(TRIAGE, "  description: Ranks", "  description: Now ranks")  # metadata only: no validation
        repo.replace("specs/lab/iris-species.yaml", "weight: 20}", "weight: 30}")  # traffic: validated
    repo, _, _ = pr_repo(tmp_path, edit)
    plan = plan_between(repo.path, "main", "feature")
    assert [e["kinds"] for e in plan.entries] == [["metadata_change"], ["traffic_change"]]
    assert [s.id for s in specs_to_validate(plan)] == [
        "beverages/wine-cultivar", "lab/digit-reader", "lab/iris-species"]
