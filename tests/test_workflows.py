"""The GitHub workflows: valid against the GitHub workflow JSON Schema, pinned, least privilege, no races."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

PROJECT = Path(__file__).resolve().parents[1]
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


@pytest.mark.parametrize("name", ["govops-pr.yml", "govops-rollout.yml", "ci.yml"])
def test_valid_against_the_workflow_schema(schema: dict, name: str) -> None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [e.message for e in validator.iter_errors(load(WORKFLOWS / name))]
    assert errors == []


def test_schema_catches_a_broken_workflow(schema: dict) -> None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = load(WORKFLOWS / "govops-pr.yml")
    broken["jobs"]["report"]["permissions"]["statuses"] = "admin"
    assert list(validator.iter_errors(broken))


@pytest.mark.parametrize("name", ["govops-pr.yml", "govops-rollout.yml", "ci.yml"])
def test_actions_pinned_to_full_shas_with_version_comment(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    uses = re.findall(r"(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", text)
    assert uses
    for ref, rest in uses:
        assert PINNED.match(ref), ref
        assert re.match(r"\s+# v\d+\.\d+\.\d+$", rest), f"{ref} lacks a '# vX.Y.Z' comment"


def test_least_privilege_permissions() -> None:
    pr = load(WORKFLOWS / "govops-pr.yml")
    assert pr["permissions"] == {}
    # the job that runs the PR's files (model artifacts are code) holds no write scope and no secret;
    # the job that may post statuses never runs them
    assert set(pr["jobs"]) == {"validate", "report"}
    assert pr["jobs"]["validate"]["permissions"] == {"contents": "read"}
    # contents: write only to push the evidence note (refs/notes/govops-evidence); the job runs nothing of the PR
    assert pr["jobs"]["report"]["permissions"] == {"contents": "write", "statuses": "write", "pull-requests": "read"}
    rollout = load(WORKFLOWS / "govops-rollout.yml")
    assert rollout["permissions"] == {}
    assert rollout["jobs"]["rollout"]["permissions"] == {"contents": "write"}
    ci = load(WORKFLOWS / "ci.yml")
    assert ci["permissions"] == {"contents": "read"}
    assert "permissions" not in ci["jobs"]["test"]


def test_triggers_steps_and_concurrency() -> None:
    pr = load(WORKFLOWS / "govops-pr.yml")
    # never pull_request_target: fork code must not get a write token
    assert pr["on"] == {"pull_request": {"branches": ["main"]},
                        "pull_request_review": {"types": ["submitted", "dismissed"]}}
    assert pr["jobs"]["validate"]["if"] == "github.event.pull_request.base.ref == 'main'"
    runs = [s.get("run", "") for s in pr["jobs"]["validate"]["steps"]]
    assert "govops policy test" in runs and any("govops validate --base" in r for r in runs)
    assert not any("pr-check" in r for r in runs)  # the validation job posts nothing
    for job in pr["jobs"].values():
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
    assert pr["jobs"]["validate"]["steps"][0]["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert pr["jobs"]["report"]["steps"][0]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    upload = next(s for s in pr["jobs"]["validate"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "govops-validation" and upload["if"] == "${{ always() }}"
    report = pr["jobs"]["report"]
    assert report["needs"] == "validate" and "!cancelled()" in report["if"]
    download = next(s for s in report["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == "govops-validation"
    post = next(s for s in report["steps"] if "pr-check" in s.get("run", ""))
    assert post["run"].startswith("govops pr-check --validation-results govops-results/validation")
    assert post["env"] == {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"}
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


def test_secrets_and_tokens_reach_only_the_reporting_job() -> None:
    pr = load(WORKFLOWS / "govops-pr.yml")
    validate = json.dumps(pr["jobs"]["validate"])
    assert "secrets." not in validate and "github.token" not in validate and "GITHUB_TOKEN" not in validate
    report = pr["jobs"]["report"]
    # nothing of the head is checked out, installed or run where the token is
    for step in report["steps"]:
        text = json.dumps(step)
        assert "head.ref" not in text and "pip install -e" not in text and "pip install ." not in text
        if "actions/checkout@" in step.get("uses", ""):
            assert "head" not in json.dumps(step["with"])
    fetch = next(s for s in report["steps"] if "git" in s.get("run", "") and "fetch" in s.get("run", ""))
    assert "checkout" not in fetch["run"] and "switch" not in fetch["run"] and "git cat-file -e" in fetch["run"]
    # the statuses' commit comes from the event, never from the uploaded results
    post = next(s for s in report["steps"] if "pr-check" in s.get("run", ""))
    assert "--sha" not in post["run"]


@pytest.mark.parametrize("name", ["govops-pr.yml", "govops-rollout.yml"])
def test_templates_for_init_match_the_workflows(name: str) -> None:
    assert (TEMPLATES / name).read_text() == (WORKFLOWS / name).read_text()
