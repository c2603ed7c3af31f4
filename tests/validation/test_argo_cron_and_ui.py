"""CronWorkflows (policy re-check of main, monitoring per tenant) and the Argo UI snippet: golden, schema-valid.

Golden files under tests/golden/argo/, rewritten with GOVOPS_REGENERATE=1. The committed argo/
carries the same CronWorkflows (with an empty git-url) and `govops argo render --check` covers them.
"""

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
from engine.validation.argo_links import ui_columns, ui_configmap, ui_links
from engine.validation.argo_manifests import render_files, ui_config_text
from engine.validation.cron import CronOptions, cron_workflows
from engine.validation.workflow import WorkflowOptions
from tests.conftest import govops

PROJECT = Path(__file__).resolve().parents[2]
GOLDEN = PROJECT / "tests" / "golden" / "argo"
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "argo-workflows.schema.json"
CRON = CronOptions(git_url="https://github.com/acme/models.git")


def _fresh() -> dict[str, str]:
    ws = load_workspace(PROJECT)
    assert ws.config is not None
    rendered = render_files(ws.config, "argo", WorkflowOptions(), CRON)
    files = {name: rendered[name] for name in cron_workflows(ws.config, WorkflowOptions(), CRON)}
    files["workflow-controller-configmap.yaml"] = ui_config_text()
    return files


def test_golden_cron_workflows_and_ui_snippet() -> None:
    files = _fresh()
    if os.environ.get("GOVOPS_REGENERATE") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (GOLDEN / name).write_text(text)
    assert sorted(p.name for p in GOLDEN.glob("*.yaml")) == sorted(files)
    for name, text in files.items():
        assert (GOLDEN / name).read_text() == text, f"tests/golden/argo/{name} drifted (GOVOPS_REGENERATE=1)"


def _schema() -> dict[str, Any]:
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"Argo Workflows JSON Schema not found at {SCHEMA_FILE}")
    return dict(json.loads(SCHEMA_FILE.read_text()))


def _errors(doc: Any, kind: str, schema: dict[str, Any]) -> list[str]:
    ref = {"$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}", "definitions": schema["definitions"]}
    return [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(ref).iter_errors(doc)]


def test_cron_workflows_are_valid_and_safe_to_run_unattended() -> None:
    schema = _schema()
    yaml = YAML(typ="safe", pure=True)
    crons = {p.name: yaml.load(p.read_text()) for p in sorted((PROJECT / "argo").glob("cronworkflow-*.yaml"))}
    ws = load_workspace(PROJECT)
    assert ws.config is not None
    assert set(crons) == {"cronworkflow-policy-recheck.yaml"} | {f"cronworkflow-monitor-{t}.yaml"
                                                                  for t in ws.config.tenants}
    for name, doc in crons.items():
        assert _errors(doc, "CronWorkflow", schema) == [], name
        spec = doc["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"  # a slow run skips a slot, never piles up
        assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 5
        assert spec["timezone"] == "UTC" and "schedule" not in spec and len(spec["schedules"]) == 1
        assert spec["workflowMetadata"]["labels"] == doc["metadata"]["labels"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "govops"
        (step,) = spec["workflowSpec"]["templates"]
        assert step["container"]["command"] == ["govops"]
        assert step["container"]["securityContext"]["allowPrivilegeEscalation"] is False
    recheck = crons["cronworkflow-policy-recheck.yaml"]
    assert recheck["spec"]["workflowSpec"]["templates"][0]["container"]["args"] == ["check", "--all"]
    clinical = crons["cronworkflow-monitor-clinical.yaml"]
    assert clinical["spec"]["workflowSpec"]["templates"][0]["container"]["args"] == [
        "monitor", "--once", "--tenant", "clinical"]
    assert clinical["metadata"]["labels"]["govops.dev/tenant"] == "clinical"
    kust = yaml.load((PROJECT / "argo" / "kustomization.yaml").read_text())
    assert set(crons) <= set(kust["resources"])


def test_ui_snippet_links_back_to_the_pr_and_lists_model_tier_pr() -> None:
    schema = _schema()
    for link in ui_links():
        assert _errors(link, "Link", schema) == []
    for column in ui_columns():
        assert _errors(column, "Column", schema) == []
    doc = YAML(typ="safe", pure=True).load(ui_config_text("https://github.example.com/"))
    assert doc == ui_configmap("https://github.example.com/")
    links = YAML(typ="safe", pure=True).load(doc["data"]["links"])
    assert links[0]["url"] == ("https://github.example.com/${workflow.metadata.annotations.govops-repository}"
                               "/pull/${workflow.metadata.annotations.govops-pr}")
    columns = YAML(typ="safe", pure=True).load(doc["data"]["columns"])
    assert [c["key"] for c in columns] == ["govops.dev/model", "govops.dev/tier", "govops.dev/pr"]


@pytest.mark.slow  # runs the CLI in subprocesses
def test_drift_check_covers_the_cron_workflows(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(PROJECT / "govops.yaml", repo / "govops.yaml")
    shutil.copytree(PROJECT / "specs", repo / "specs")
    shutil.copytree(PROJECT / "argo", repo / "argo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    assert govops("-C", str(repo), "argo", "render", "--check", env=env).returncode == 0
    path = repo / "argo" / "cronworkflow-policy-recheck.yaml"
    path.write_text(path.read_text().replace("Forbid", "Allow"))
    r = govops("-C", str(repo), "argo", "render", "--check", env=env)
    assert r.returncode == 1 and "cronworkflow-policy-recheck.yaml: differs from a fresh render" in r.stderr
    r = govops("-C", str(repo), "argo", "render", "--git-url", "https://github.com/acme/models.git", env=env)
    assert r.returncode == 0, r.stderr
    for path in (repo / "argo").glob("cronworkflow-*.yaml"):
        assert path.read_text() == (GOLDEN / path.name).read_text()


@pytest.mark.slow  # a local HTTP server
def test_installed_cron_workflows_read_back_through_hera() -> None:
    from hera.workflows import WorkflowsService

    from tests.helpers.argo_fake_server import ArgoServer, FakeArgo
    from tests.validation.test_argo_templates_by_reference import committed

    fake = FakeArgo()
    fake.install(*committed())
    with ArgoServer(fake) as server:
        service = WorkflowsService(host=server.url + "/", token="t", namespace="argo")
        cron = service.get_cron_workflow("govops-policy-recheck")
        listed = service.list_cron_workflows()
        service.close()
    assert cron.spec.concurrency_policy == "Forbid" and cron.spec.schedules == ["17 5 * * *"]
    assert sorted(str(c.metadata.name) for c in listed.items or []) == sorted(fake.cron_workflows)
