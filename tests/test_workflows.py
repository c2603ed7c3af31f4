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
    broken["jobs"]["pr-check"]["permissions"]["statuses"] = "admin"
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
    assert pr["jobs"]["pr-check"]["permissions"] == {"contents": "read", "statuses": "write",
                                                     "pull-requests": "read"}
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
    assert pr["jobs"]["pr-check"]["if"] == "github.event.pull_request.base.ref == 'main'"
    runs = [s.get("run", "") for s in pr["jobs"]["pr-check"]["steps"]]
    assert "govops policy test" in runs and any(r.startswith("govops pr-check") for r in runs)
    checkout = pr["jobs"]["pr-check"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
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


@pytest.mark.parametrize("name", ["govops-pr.yml", "govops-rollout.yml"])
def test_templates_for_init_match_the_workflows(name: str) -> None:
    assert (TEMPLATES / name).read_text() == (WORKFLOWS / name).read_text()
