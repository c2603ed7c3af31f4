"""Workflows rendered with hera from build_dag's tasks: schema-valid, safe names, safe arguments, bounded size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.spec.errors import InputError
from engine.spec.workspace import LoadedSpec, Workspace, load_workspace
from engine.validation.dag import ValidationTask, build_dag
from engine.validation.k8s_names import ARGO_FIELD_NAME, dns_label, is_dns_label, is_label_value
from engine.validation.workflow import (
    CHAMPION_TEMPLATE,
    CHECK_TEMPLATE,
    EXIT_TEMPLATE,
    RunContext,
    WorkflowOptions,
    manifest_tasks,
    pr_workflows,
    tier_template,
)

PROJECT = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[1]  # tests/schemas/: copies of shared/schemas (SOURCES.md there)
SCHEMA_FILE = SHARED / "schemas" / "argo-workflows.schema.json"
SHA = "0123456789abcdef0123456789abcdef01234567"
RUN = RunContext(repository="octo/gitops", pr_number=12, head_sha=SHA, argo_ui="https://argo.example.com")
K8S_MAX_OBJECT = 1_500_000  # etcd's default request limit (~1.5 MiB)


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return load_workspace(PROJECT)


@pytest.fixture(scope="module")
def tasks(ws: Workspace) -> list[ValidationTask]:
    return build_dag(ws.specs, ws.config)


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"Argo Workflows JSON Schema not found at {SCHEMA_FILE} (the shared/ folder is absent)")
    schema = json.loads(SCHEMA_FILE.read_text())

    def validate(doc: dict[str, Any], kind: str) -> None:
        ref = {"$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}", "definitions": schema["definitions"]}
        errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(ref).iter_errors(doc)]
        assert errors == []

    return validate


def _dag(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    return list(templates[manifest["spec"]["entrypoint"]]["dag"]["tasks"])


def _template(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def test_pr_workflow_validates_against_argo_schema(tasks: list[ValidationTask], validator: Any) -> None:
    planned = pr_workflows(tasks, RUN)
    assert len(planned) == 1
    manifest = planned[0].to_dict()
    validator(manifest, "Workflow")
    assert manifest["apiVersion"] == "argoproj.io/v1alpha1" and manifest["kind"] == "Workflow"


def test_every_tier_template_validates(ws: Workspace, validator: Any) -> None:
    assert ws.config is not None
    for tier in ws.config.tiers:
        doc = tier_template(tier, ws.config).to_dict()
        validator(doc, "WorkflowTemplate")
        checks = [t["arguments"]["parameters"][0]["value"] for t in _dag(doc)]
        assert checks == ws.config.tiers[tier].required_checks


def test_parity_with_build_dag(tasks: list[ValidationTask]) -> None:
    """The manifest holds exactly build_dag's tasks: same models, checks, versions, champions, thresholds."""
    manifest = pr_workflows(tasks, RUN)[0].to_dict()
    from_manifest = sorted(
        (
            t["model"], t["check"], t["spec_file"], t["version"], t["champion"],
            json.dumps(t["thresholds"], sort_keys=True),
        )
        for t in manifest_tasks(manifest)
    )
    from_dag = sorted(
        (t.model, t.check, t.spec_file, t.version, t.champion, json.dumps(t.thresholds, sort_keys=True)) for t in tasks
    )
    assert from_manifest == from_dag
    assert len(tasks) == 35
    # DAG dependencies mirror the task description (build_dag's checks are independent)
    assert all("dependencies" not in t and "depends" not in t for t in _dag(manifest))
    # the champion comparison, and only it, uses the template that passes --champion
    for t in _dag(manifest):
        params = {p["name"] for p in t["arguments"]["parameters"]}
        assert (t["template"] == CHAMPION_TEMPLATE) == ("champion" in params)


def test_step_is_an_argv_with_result_artifact_and_infra_only_retries(tasks: list[ValidationTask]) -> None:
    manifest = pr_workflows(tasks, RUN, WorkflowOptions(image="registry.example/validator:1.2.3"))[0].to_dict()
    step = _template(manifest, CHAMPION_TEMPLATE)
    c = step["container"]
    assert c["command"] == ["python", "-I", "-m", "runners"]
    assert c["args"] == [
        "{{inputs.parameters.check}}",
        "--spec",
        "{{inputs.parameters.spec}}",
        "--model",
        "{{inputs.parameters.model}}",
        "--version",
        "{{inputs.parameters.version}}",
        "--champion",
        "{{inputs.parameters.champion}}",
        "--thresholds",
        "{{inputs.parameters.thresholds}}",
        "--out",
        "/tmp/result.json",
        "--summary",
        "/tmp/summary.md",
    ]
    assert c["image"] == "registry.example/validator:1.2.3"
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert step["retryStrategy"]["retryPolicy"] == "OnError"  # never a check that failed on its merits
    assert step["activeDeadlineSeconds"] == "1800"
    assert step["outputs"]["artifacts"] == [{"archive": {"none": {}}, "name": "result", "path": "/tmp/result.json"},
                                            {"archive": {"none": {}}, "name": "summary", "path": "/tmp/summary.md"}]
    git = step["inputs"]["artifacts"][0]
    assert git["git"] == {"repo": "{{workflow.parameters.git-url}}", "revision": "{{workflow.parameters.head-sha}}"}
    spec = manifest["spec"]
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert spec["ttlStrategy"] == {"secondsAfterFailure": 604800, "secondsAfterSuccess": 172800}
    assert spec["activeDeadlineSeconds"] == 14400
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["onExit"] == EXIT_TEMPLATE


def test_exit_handler_sets_the_commit_status_without_a_shell(tasks: list[ValidationTask]) -> None:
    run = RunContext(repository="octo/gitops", pr_number=12, head_sha=SHA, argo_ui="https://argo.example.com",
                     report_status=True)
    manifest = pr_workflows(tasks, run)[0].to_dict()
    params = {p["name"]: p["value"] for p in manifest["spec"]["arguments"]["parameters"]}
    assert params["report-status"] == "true" and params["head-sha"] == SHA and params["repository"] == "octo/gitops"
    exit_dag = _template(manifest, EXIT_TEMPLATE)["dag"]["tasks"]
    states = {t["arguments"]["parameters"][0]["value"]: t["when"] for t in exit_dag}
    assert states == {
        "success": "'{{workflow.status}}' == 'Succeeded' && '{{workflow.parameters.report-status}}' == 'true'",
        "failure": "'{{workflow.status}}' == 'Failed' && '{{workflow.parameters.report-status}}' == 'true'",
        "error": "'{{workflow.status}}' == 'Error' && '{{workflow.parameters.report-status}}' == 'true'",
    }
    curl = _template(manifest, "github-status")["container"]
    assert curl["command"] == ["curl"]
    assert curl["args"][-1] == (
        "{{workflow.parameters.github-api}}/repos/{{workflow.parameters.repository}}/statuses/"
        "{{workflow.parameters.head-sha}}"
    )
    assert "Authorization: Bearer $(GITHUB_TOKEN)" in curl["args"]
    assert curl["env"] == [
        {"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"key": "token", "name": "govops-github"}}}
    ]
    with pytest.raises(InputError, match="needs the repository, the head SHA and the Argo UI URL"):
        pr_workflows(tasks, RunContext(report_status=True))


def test_labels_and_annotations_make_runs_findable(tasks: list[ValidationTask]) -> None:
    manifest = pr_workflows(tasks, RUN)[0].to_dict()
    labels = manifest["metadata"]["labels"]
    assert labels["govops.dev/head-sha"] == SHA
    assert labels["govops.dev/pr"] == "12"
    assert labels["govops.dev/repository"] == "octo.gitops"
    assert labels["model.govops.dev/clinical.readmission-triage"] == "true"
    assert labels["tenant.govops.dev/clinical"] == "true"
    assert all(is_label_value(v) for v in labels.values())
    for key in labels:
        prefix, _, name = key.rpartition("/")
        assert is_label_value(name) and len(name) <= 63 and len(prefix) <= 253
    ann = manifest["metadata"]["annotations"]
    assert ann["govops.dev/repository"] == "octo/gitops" and ann["govops.dev/head-sha"] == SHA
    assert "clinical/readmission-triage" in json.loads(ann["govops.dev/models"])
    step = _template(manifest, CHECK_TEMPLATE)
    assert step["metadata"]["labels"]["govops.dev/model"] == "{{inputs.parameters.model-label}}"
    one = pr_workflows([t for t in tasks if t.model == "lab/iris-species"], RUN)[0].to_dict()
    assert one["metadata"]["labels"]["govops.dev/model"] == "lab.iris-species"
    assert one["metadata"]["labels"]["govops.dev/tenant"] == "lab"


def _task(model: str, check: str = "performance", **kw: Any) -> ValidationTask:
    base: dict[str, Any] = {"spec_file": "specs/x.yaml", "version": "1.0.0", "champion": None, "thresholds": {}}
    base.update(kw)
    return ValidationTask(model=model, check=check, **base)


def test_invalid_kubernetes_names_are_mapped_never_emitted(validator: Any) -> None:
    weird = [
        _task("Clinical/Readmission_Triage.V2"),
        _task("clinical/readmission-triage-v2"),
        _task("team/" + "a" * 140, version="1.0.0+Build_7"),
        _task("Ünïcode/mödel"),
    ]
    manifest = pr_workflows(weird, RUN)[0].to_dict()
    validator(manifest, "Workflow")
    names = [t["name"] for t in _dag(manifest)]
    assert len(set(names)) == 4
    assert all(ARGO_FIELD_NAME.match(n) and len(n) <= 128 for n in names)
    assert names[1] == "clinical-readmission-triage-v2-performance"  # valid names stay as they are
    assert names[0] != names[1] and names[0].startswith("clinical-readmission-triage-v2-performance-")
    labels = [p["value"] for t in _dag(manifest) for p in t["arguments"]["parameters"] if p["name"] == "model-label"]
    assert all(is_label_value(v) for v in labels)
    assert all(is_label_value(v) for v in manifest["metadata"]["labels"].values())
    assert all(is_label_value(k.rpartition("/")[2]) for k in manifest["metadata"]["labels"])
    # the full values stay available, unchanged, as parameters and annotations
    assert {t["model"] for t in manifest_tasks(manifest)} == {t.model for t in weird}
    assert is_dns_label(manifest["metadata"]["generateName"].rstrip("-"))


def test_unmappable_or_unsafe_values_are_refused() -> None:
    with pytest.raises(InputError, match="not tenant/name with letters or digits"):
        pr_workflows([_task("///")], RUN)
    with pytest.raises(InputError, match="no letters or digits"):
        dns_label("---", what="tier")
    with pytest.raises(InputError, match="which Argo would expand"):
        pr_workflows([_task("a/b", spec_file="specs/{{workflow.name}}.yaml")], RUN)
    with pytest.raises(InputError, match="not a known check name"):
        pr_workflows([_task("a/b", check="perf; rm -rf /")], RUN)
    with pytest.raises(InputError, match="appears twice"):
        pr_workflows([_task("a/b"), _task("a/b")], RUN)
    with pytest.raises(InputError, match="head SHA must be lowercase hex"):
        pr_workflows([_task("a/b")], RunContext(head_sha="main; rm -rf /"))
    with pytest.raises(InputError, match="owner/name"):
        pr_workflows([_task("a/b")], RunContext(repository="not a repo"))


def test_shell_metacharacters_are_separate_argv_items(tmp_path: Path) -> None:
    """Substitute the task's arguments as Argo and Kubernetes do, then really exec the argv."""
    marker = tmp_path / "pwned"
    nasty = f"specs/a $(touch {marker}) ; touch {marker} `touch {marker}` | & > < $HOME.yaml"
    manifest = pr_workflows([_task("a/b", spec_file=nasty, thresholds={"min_accuracy": 0.9})], RUN)[0].to_dict()
    step = _template(manifest, CHECK_TEMPLATE)
    params = {p["name"]: p["value"] for p in _dag(manifest)[0]["arguments"]["parameters"]}
    assert params["spec"] == nasty.replace("$", "$$")  # Kubernetes' escape for $(VAR) in args
    from tests.helpers.argo_fake_server import k8s_expand, substitute

    args = [k8s_expand(substitute(a, params), {"HOME": "/root"}) for a in step["container"]["args"]]
    probe = "import json, sys; print(json.dumps(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
    received = json.loads(out.stdout)
    assert received[received.index("--spec") + 1] == nasty
    assert not marker.exists()


def _many_specs(ws: Workspace, n: int) -> list[LoadedSpec]:
    template = next(s for s in ws.specs if s.id == "clinical/readmission-triage")
    out = []
    for i in range(n):
        meta = template.spec.metadata.model_copy(update={"name": f"model-{i:03d}", "tenant": f"tenant-{i % 7}"})
        spec = template.spec.model_copy(update={"metadata": meta})
        out.append(LoadedSpec(file=f"specs/tenant-{i % 7}/model-{i:03d}.yaml", doc=template.doc, spec=spec))
    return out


@pytest.mark.slow  # renders ~25 workflows of 200 tasks (about 6 s)
def test_500_models_stay_under_the_object_size_limit(ws: Workspace, validator: Any) -> None:
    tasks = build_dag(_many_specs(ws, 500), ws.config)
    assert len(tasks) >= 500 * 9  # the high tier's checks for every model
    options = WorkflowOptions()
    planned = pr_workflows(tasks, RUN, options)
    sizes = [len(json.dumps(p.to_dict())) for p in planned]
    assert len(planned) > 1
    assert max(sizes) <= options.max_workflow_bytes < K8S_MAX_OBJECT
    assert all(len(p.tasks) <= options.max_tasks_per_workflow for p in planned)
    # every task is in exactly one part, and a model's checks stay together
    keys = [t.key for p in planned for t in p.tasks.values()]
    assert sorted(keys) == sorted(t.key for t in tasks)
    for p in planned:
        models = {t.model for t in p.tasks.values()}
        assert all(sum(1 for q in planned for t in q.tasks.values() if t.model == m) ==
                   sum(1 for t in p.tasks.values() if t.model == m) for m in models)
    parts = [p.to_dict()["metadata"]["labels"]["govops.dev/part"] for p in planned]
    assert parts == [f"{i}-of-{len(planned)}" for i in range(1, len(planned) + 1)]
    contexts = {
        next(x["value"] for x in p.to_dict()["spec"]["arguments"]["parameters"] if x["name"] == "status-context")
        for p in planned
    }
    assert len(contexts) == len(planned)  # each part reports its own commit status
    validator(planned[0].to_dict(), "Workflow")


def test_a_too_small_byte_budget_is_refused(tasks: list[ValidationTask]) -> None:
    with pytest.raises(InputError, match="lower max_tasks_per_workflow"):
        pr_workflows(tasks, RUN, WorkflowOptions(max_workflow_bytes=5_000))
