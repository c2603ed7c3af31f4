"""The committed argo/ directory: golden files equal to a fresh render, schema-valid, drift detected by the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from engine.spec.workspace import load_workspace
from engine.validation.argo_manifests import render_files, render_objects
from engine.validation.workflow import WorkflowOptions
from tests.conftest import govops

PROJECT = Path(__file__).resolve().parents[2]
ARGO_DIR = PROJECT / "argo"
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "argo-workflows.schema.json"  # copy of shared/schemas


def _fresh() -> dict[str, str]:
    ws = load_workspace(PROJECT)
    assert ws.config is not None
    return render_files(ws.config, "argo", WorkflowOptions())


def test_committed_argo_dir_matches_a_fresh_render() -> None:
    files = _fresh()
    if os.environ.get("GOVOPS_REGENERATE") == "1":
        ARGO_DIR.mkdir(exist_ok=True)
        for name, text in files.items():
            (ARGO_DIR / name).write_text(text)
    assert sorted(p.name for p in ARGO_DIR.glob("*.yaml")) == sorted(files)
    for name, text in files.items():
        hint = f"argo/{name} drifted: run `govops argo render` (or GOVOPS_REGENERATE=1)"
        assert (ARGO_DIR / name).read_text() == text, hint
    # one template per tier of govops.yaml
    assert {"workflowtemplate-low.yaml", "workflowtemplate-medium.yaml", "workflowtemplate-high.yaml"} <= set(files)


def test_committed_templates_validate_against_argo_schema() -> None:
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"Argo Workflows JSON Schema not found at {SCHEMA_FILE} (the shared/ folder is absent)")
    schema = json.loads(SCHEMA_FILE.read_text())
    ref = {"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.WorkflowTemplate", "definitions": schema["definitions"]}
    yaml = YAML(typ="safe", pure=True)
    seen = 0
    for path in sorted(ARGO_DIR.glob("workflowtemplate-*.yaml")):
        doc: dict[str, Any] = yaml.load(path.read_text())
        errors = [f"{path.name} {list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(ref).iter_errors(doc)]
        assert errors == []
        assert doc["kind"] == "WorkflowTemplate" and doc["metadata"]["name"] == f"govops-validate-{path.stem[17:]}"
        seen += 1
    assert seen == 3


def test_rbac_and_kustomization() -> None:
    ws = load_workspace(PROJECT)
    assert ws.config is not None
    objs = render_objects(ws.config, "ml-validation", WorkflowOptions())
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objs["rbac.yaml"]]
    assert ("ServiceAccount", "govops-validator") in kinds and ("RoleBinding", "govops-submitter") in kinds
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs["rbac.yaml"]}
    role = by[("Role", "govops-validator")]
    rule = {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    assert role["rules"] == [rule]
    binding = by[("RoleBinding", "govops-validator")]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "govops-validator", "namespace": "ml-validation"}]
    kust = objs["kustomization.yaml"][0]
    assert kust["namespace"] == "ml-validation"
    assert sorted(kust["resources"]) == sorted(n for n in objs if n != "kustomization.yaml")
    assert not any(o["kind"] == "Secret" and "data" in o for o in objs["rbac.yaml"])  # no secret values rendered


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}


@pytest.mark.slow  # runs the CLI in subprocesses
def test_cli_render_and_drift_check(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(PROJECT / "govops.yaml", repo / "govops.yaml")
    shutil.copytree(PROJECT / "specs", repo / "specs")
    env = _clean_env()
    r = govops("-C", str(repo), "argo", "render", "--check", env=env)
    assert r.returncode == 1 and "differs from a fresh render" in r.stderr
    r = govops("-C", str(repo), "argo", "render", env=env)
    assert r.returncode == 0, r.stderr
    high = "workflowtemplate-high.yaml"
    assert (repo / "argo" / high).read_text() == (ARGO_DIR / high).read_text()
    r = govops("-C", str(repo), "argo", "render", "--check", env=env)
    assert r.returncode == 0, r.stderr
    (repo / "argo" / "rbac.yaml").write_text("# edited by hand\n")
    r = govops("-C", str(repo), "argo", "render", "--check", env=env)
    assert r.returncode == 1 and "rbac.yaml: differs from a fresh render" in r.stderr
    r = govops("-C", str(repo), "argo", env=env)
    assert r.returncode == 2 and "needs a sub-command" in r.stderr


@pytest.mark.slow  # runs the CLI in a subprocess
def test_cli_workflow_prints_the_pr_workflow() -> None:
    env = _clean_env()
    env["GOVOPS_VALIDATOR_IMAGE"] = "registry.example/validator:7.7.7"
    r = govops("-C", str(PROJECT), "argo", "workflow", "--model", "lab/iris-species", "--pr", "5",
               "--head-sha", "abcdef1234567", env=env)
    assert r.returncode == 0, r.stderr
    doc = YAML(typ="safe", pure=True).load(r.stdout)
    assert doc["kind"] == "Workflow" and doc["metadata"]["labels"]["govops.dev/head-sha"] == "abcdef1234567"
    assert "registry.example/validator:7.7.7" in r.stdout
    r = govops("-C", str(PROJECT), "argo", "workflow", "--model", "nobody/none", env=env)
    assert r.returncode == 2 and "unknown model(s): nobody/none" in r.stderr
    r = govops("-C", str(PROJECT), "argo", "workflow", "--all", "--head-sha", "not-a-sha", env=env)
    assert r.returncode == 2 and "head SHA must be lowercase hex" in r.stderr
