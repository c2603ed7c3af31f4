"""The GitHub workflows: valid against the GitHub workflow JSON Schema, pinned, least privilege, no races."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT / ".github" / "workflows"
TEMPLATES = PROJECT / "engine" / "templates" / "github"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    # schemastore's github-workflow schema, as vendored by the check-jsonschema package
    text = (resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json").read_text()
    return json.loads(text)


ALL = ["govops-pr.yml", "govops-pr-report.yml", "govops-rollout.yml", "ci.yml"]
SCAFFOLDED = ["govops-pr.yml", "govops-pr-report.yml", "govops-rollout.yml"]


@pytest.mark.parametrize("name", ALL)
def test_valid_against_the_workflow_schema(schema: dict, name: str) -> None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [e.message for e in validator.iter_errors(load(WORKFLOWS / name))]
    assert errors == []


def test_schema_catches_a_broken_workflow(schema: dict) -> None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = load(WORKFLOWS / "govops-pr-report.yml")
    broken["jobs"]["report"]["permissions"]["checks"] = "admin"
    assert list(validator.iter_errors(broken))


@pytest.mark.parametrize("name", ALL)
def test_actions_pinned_to_full_shas_with_version_comment(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    uses = re.findall(r"(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", text)
    assert uses
    for ref, rest in uses:
        assert PINNED.match(ref), ref
        assert re.match(r"\s+# v\d+\.\d+\.\d+$", rest), f"{ref} lacks a '# vX.Y.Z' comment"


def test_least_privilege_permissions() -> None:
    pr = load(WORKFLOWS / "govops-pr.yml")
    # GitHub runs this file as it is in the PR: it holds nothing a rewrite of it could abuse
    assert pr["permissions"] == {"contents": "read"}
    assert set(pr["jobs"]) == {"validate"}
    assert pr["jobs"]["validate"]["permissions"] == {"contents": "read"}
    report = load(WORKFLOWS / "govops-pr-report.yml")
    assert report["permissions"] == {}
    assert set(report["jobs"]) == {"report"}
    # contents: write only to push the evidence note (refs/notes/govops-evidence); actions: read for the
    # validation run's artifact; checks: write for the check runs, pull-requests: write for the one summary
    # comment (no statuses: write: GITHUB_TOKEN can create check runs); the job runs nothing of the PR
    assert report["jobs"]["report"]["permissions"] == {
        "contents": "write", "checks": "write", "pull-requests": "write", "actions": "read"}
    rollout = load(WORKFLOWS / "govops-rollout.yml")
    assert rollout["permissions"] == {}
    assert rollout["jobs"]["rollout"]["permissions"] == {"contents": "write"}
    ci = load(WORKFLOWS / "ci.yml")
    assert ci["permissions"] == {"contents": "read"}
    assert "permissions" not in ci["jobs"]["test"]


def test_triggers_steps_and_concurrency() -> None:
    pr = load(WORKFLOWS / "govops-pr.yml")
    # never pull_request_target: fork code must not get a write token
    assert pr["name"] == "govops PR check"
    assert pr["on"] == {"pull_request": {"branches": ["main"]},
                        "pull_request_review": {"types": ["submitted", "dismissed"]}}
    validate = pr["jobs"]["validate"]
    assert validate["if"] == "github.event.pull_request.base.ref == 'main'"
    runs = [s.get("run", "") for s in validate["steps"]]
    assert "govops policy test" in runs and any("govops validate --base" in r for r in runs)
    assert not any("pr-check" in r or "ledger" in r for r in runs)  # the validation run posts nothing
    checkout = validate["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"] == {"ref": "${{ github.event.pull_request.head.sha }}", "fetch-depth": 0,
                                "persist-credentials": False}
    upload = next(s for s in validate["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "govops-validation" and upload["if"] == "${{ always() }}"

    wf = load(WORKFLOWS / "govops-pr-report.yml")
    # workflow_run: GitHub runs the default branch's copy of this file, whatever the PR changes
    assert wf["on"] == {"workflow_run": {"workflows": [pr["name"]], "types": ["completed"]}}
    assert wf["concurrency"]["cancel-in-progress"] is False
    report = wf["jobs"]["report"]
    assert "needs" not in report
    for cond in ("conclusion != 'cancelled'", "event == 'pull_request'", "pull_requests[0].base.ref == 'main'"):
        assert cond in report["if"]
    checkout = report["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    # the default branch (no ref: the workflow_run's own commit), never the head
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    download = next(s for s in report["steps"] if "download-artifact" in s.get("uses", ""))
    # exactly the artifact of the run that triggered this one (not "the latest govops-validation")
    assert download["with"] == {"name": "govops-validation", "path": "govops-results",
                                "run-id": "${{ github.event.workflow_run.id }}",
                                "github-token": "${{ github.token }}"}
    post = next(s for s in report["steps"] if "pr-check" in s.get("run", ""))
    assert post["run"] == "govops pr-check --validation-results govops-results/validation --out govops-report"
    assert post["env"] == {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}
    record = next(s for s in report["steps"] if "record-pr" in s.get("run", ""))
    assert "govops ledger record-pr govops-report --push" in record["run"]
    assert record["env"]["SIGNING_KEY"] == "${{ secrets.GOVOPS_SIGNING_KEY }}"

    rollout = load(WORKFLOWS / "govops-rollout.yml")
    assert rollout["on"] == {"push": {"branches": ["main"]}}
    assert rollout["concurrency"] == {"group": "govops-rollout", "cancel-in-progress": False}
    assert any("govops rollout" in s.get("run", "") for s in rollout["jobs"]["rollout"]["steps"])
    ci = load(WORKFLOWS / "ci.yml")
    ci_runs = [s.get("run", "") for s in ci["jobs"]["test"]["steps"]]
    assert any("make test" in r for r in ci_runs)
    # nothing CI-only: `make test` sets up what the tests need (OPA's release included,
    # scripts/system-deps.sh), so a developer's run and CI's are the same
    assert [r for r in ci_runs if r] == ["make test PYTHON=python"]


def test_the_pr_run_workflow_holds_no_secret_and_no_write_scope() -> None:
    """A PR can rewrite govops-pr.yml (pull_request runs the PR's copy): nothing in it may be worth stealing."""
    pr = load(WORKFLOWS / "govops-pr.yml")
    text = json.dumps(pr)
    assert "secrets." not in text and "github.token" not in text and "GITHUB_TOKEN" not in text
    assert "write" not in json.dumps(pr["permissions"]) and "pull_request_target" not in pr["on"]
    assert "workflow_run" not in pr["on"]
    for job in pr["jobs"].values():
        assert set(job.get("permissions", {}).values()) <= {"read", "none"}


def test_the_reporting_workflow_never_runs_the_pr() -> None:
    wf = load(WORKFLOWS / "govops-pr-report.yml")
    # no pull_request* trigger: that would run the PR's copy of this file, with its write scopes and secrets
    assert list(wf["on"]) == ["workflow_run"]
    report = wf["jobs"]["report"]
    # nothing of the head is checked out, installed or run where the token is
    for step in report["steps"]:
        text = json.dumps(step)
        assert "head.ref" not in text and "head_branch" not in text
        assert "pip install -e" not in text and "pip install ." not in text
        # the PR number and head come from GitHub's record of the run, never from the artifact
        assert "govops-results/" not in step.get("run", "") or "pr-check" in step["run"]
        if "actions/checkout@" in step.get("uses", ""):
            assert "head" not in json.dumps(step["with"]) and "ref" not in step["with"]
    fetch = next(s for s in report["steps"] if "git" in s.get("run", "") and "refs/pull/" in s.get("run", ""))
    assert "checkout" not in fetch["run"] and "switch" not in fetch["run"] and "git cat-file -e" in fetch["run"]
    assert fetch["env"]["PR_NUMBER"] == "${{ github.event.workflow_run.pull_requests[0].number }}"
    assert fetch["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    # the statuses' commit comes from the event (workflow_run.head_sha, checked against the PR's head)
    post = next(s for s in report["steps"] if "pr-check" in s.get("run", ""))
    assert "--sha" not in post["run"] and "--pr-number" not in post["run"]
    # no expression is expanded inside a script (an attacker names branches): only env values
    for step in report["steps"]:
        assert "${{" not in step.get("run", "")


@pytest.mark.parametrize("name", SCAFFOLDED)
def test_templates_for_init_match_the_workflows(name: str) -> None:
    assert (TEMPLATES / name).read_text() == (WORKFLOWS / name).read_text()


def test_init_scaffolds_both_pr_workflows(tmp_path: Path) -> None:
    from engine.scaffold import init_repo

    files = init_repo(tmp_path / "repo")
    assert {f".github/workflows/{n}" for n in SCAFFOLDED} <= set(files)
    for name in SCAFFOLDED:
        assert (tmp_path / "repo" / ".github" / "workflows" / name).read_text() == (TEMPLATES / name).read_text()


@pytest.mark.parametrize("name", ["govops-pr.yml", "govops-pr-report.yml", "govops-rollout.yml"])
def test_python_never_imports_from_the_checkout(name: str) -> None:
    # `python -m pip` with a PR checkout as the working directory runs a committed pip/ package
    # (a red-team forged every validator's result that way): every `python` a step runs is -I
    steps = [s for job in load(WORKFLOWS / name)["jobs"].values() for s in job["steps"] if "run" in s]
    calls = [ln.strip() for s in steps for ln in s["run"].splitlines() if re.match(r"\s*python3?\s", ln)]
    assert calls, name
    assert all(re.match(r"python3? -I ", c) for c in calls), calls
