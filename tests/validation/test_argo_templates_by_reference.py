"""PR runs reference the committed WorkflowTemplates of argo/, pinned by digest (local Argo Server stand-in).

The cluster's templates are the committed argo/ files, "applied" to the stand-in as they are. Each
bad input (template missing, drifted, edited in place, parameters changed; server down, 401, 403;
a workflow deleted mid-run) is a clear error and never a pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from engine.spec.errors import InputError
from engine.spec.settings import Settings
from engine.spec.workspace import load_workspace
from engine.validation.dag import ValidationTask, build_dag
from engine.validation.executors.argo import ArgoError, run_validation_argo
from engine.validation.submit import (
    DIGEST_LABEL,
    TemplateDriftError,
    expected_templates,
    ref_workflows,
    spec_digest,
)
from engine.validation.workflow import RunContext, WorkflowOptions
from tests.helpers.argo_fake_server import ArgoServer, FakeArgo, default_executor

PROJECT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "argo-workflows.schema.json"
pytestmark = pytest.mark.slow  # each test starts a local HTTP server
SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "s3cr3t-token"
OPTIONS = WorkflowOptions()  # what `govops argo render` used for the committed argo/


@pytest.fixture(scope="module")
def ws() -> Any:
    return load_workspace(PROJECT)


@pytest.fixture(scope="module")
def tasks(ws: Any) -> list[ValidationTask]:
    specs = [s for s in ws.specs if s.id in ("lab/iris-species", "clinical/readmission-triage")]  # medium, high
    return build_dag(specs, ws.config)


@pytest.fixture(scope="module")
def tiers(ws: Any) -> dict[str, str]:
    return {s.id: s.spec.spec.tier for s in ws.specs}


def committed() -> list[dict[str, Any]]:
    """The WorkflowTemplates and CronWorkflows of the committed argo/, as `kubectl apply -k argo/` sends them."""
    yaml = YAML(typ="safe", pure=True)
    docs = [d for p in sorted((PROJECT / "argo").glob("*.yaml")) for d in yaml.load_all(p.read_text())]
    return [d for d in docs if d.get("kind") in ("WorkflowTemplate", "CronWorkflow")]


def _validate(doc: dict[str, Any], kind: str) -> None:
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"Argo Workflows JSON Schema not found at {SCHEMA_FILE}")
    schema = json.loads(SCHEMA_FILE.read_text())
    ref = {"$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}", "definitions": schema["definitions"]}
    assert [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(ref).iter_errors(doc)] == []


def _run(server: ArgoServer, tasks: list[ValidationTask], out: Path, ws: Any, tiers: dict[str, str],
         **kw: Any) -> tuple[Any, list[str]]:
    lines: list[str] = []
    kw.setdefault("poll_interval_s", 0.01)
    kw.setdefault("timeout_s", 10)
    settings = Settings(argo_server=None, argo_token=None, argo_namespace="argo",
                        validator_image=OPTIONS.image)
    run = run_validation_argo(PROJECT, tasks, out, head_sha=SHA, server=server.url, token=TOKEN,
                              repository="octo/gitops", pr_number=7, log=lines.append, settings=settings,
                              config=ws.config, tiers=tiers, **kw)
    return run, lines


def _installed() -> FakeArgo:
    fake = FakeArgo()
    fake.install(*committed())
    return fake


def test_committed_templates_carry_the_digest_of_their_spec(ws: Any) -> None:
    templates = [d for d in committed() if d["kind"] == "WorkflowTemplate"]
    expected = expected_templates(ws.config, OPTIONS)
    assert sorted(d["metadata"]["name"] for d in templates) == sorted(expected)
    for doc in templates:
        digest = doc["metadata"]["labels"][DIGEST_LABEL]
        assert digest == spec_digest(doc["spec"]) == expected[doc["metadata"]["name"]]["metadata"]["labels"][
            DIGEST_LABEL]


def test_pr_submission_references_the_committed_templates(
    tmp_path: Path, ws: Any, tasks: list[ValidationTask], tiers: dict[str, str]
) -> None:
    with ArgoServer(_installed()) as server:
        run, lines = _run(server, tasks, tmp_path / "out", ws, tiers)
    reqs = server.fake.requests
    # the referenced templates are read (and checked) before anything is created
    first_post = next(i for i, r in enumerate(reqs) if r["method"] == "POST")
    template_gets = [r["path"] for r in reqs[:first_post] if "/workflow-templates/" in r["path"]]
    assert template_gets == ["/api/v1/workflow-templates/argo/govops-validate-high",
                             "/api/v1/workflow-templates/argo/govops-validate-medium"]
    create = reqs[first_post]
    expected = ref_workflows(
        tasks, RunContext(repository="octo/gitops", pr_number=7, head_sha=SHA, argo_ui=server.url),
        ws.config, OPTIONS, tiers,
    )[0].to_dict()
    assert create["body"] == {"workflow": expected}  # exactly what the engine built: nothing else
    wf = create["body"]["workflow"]
    _validate(wf, "Workflow")
    # no inline container anywhere: every step and the exit handler are references
    assert not any("container" in t for t in wf["spec"]["templates"])
    refs = [task["templateRef"] for t in wf["spec"]["templates"] for task in t["dag"]["tasks"]]
    assert {r["name"] for r in refs} == {"govops-validate-high", "govops-validate-medium"}
    assert {"check-vs-champion", "github-status"} <= {r["template"] for r in refs} <= {
        "check", "check-vs-champion", "github-status"}
    digests = {d["metadata"]["name"]: d["metadata"]["labels"][DIGEST_LABEL] for d in committed()
               if d["kind"] == "WorkflowTemplate"}
    labels = wf["metadata"]["labels"]
    assert labels["template.govops.dev/high"] == digests["govops-validate-high"]
    assert labels["template.govops.dev/medium"] == digests["govops-validate-medium"]
    assert labels["govops.dev/submission"] == "by-reference"
    assert json.loads(wf["metadata"]["annotations"]["govops.dev/templates"]) == {
        "govops-validate-high": digests["govops-validate-high"],
        "govops-validate-medium": digests["govops-validate-medium"]}
    assert wf["metadata"]["annotations"]["govops-pr"] == "7"  # what the UI's links read
    # display names say model, version and check
    names = [t["name"] for t in next(t for t in wf["spec"]["templates"] if t["name"] == "validate")["dag"]["tasks"]]
    assert "lab-iris-species-v1-1-0-performance" in names
    assert all(n.startswith(("lab-iris-species-v", "clinical-readmission-triage-v")) for n in names)
    # the pods ran exactly the installed template's container
    assert all(argv[:4] == ["python", "-I", "-m", "runners"] for argv in server.fake.argvs)
    assert len(server.fake.argvs) == len(tasks)
    assert run.ok and any("is installed at this commit's version" in line for line in lines)
    assert TOKEN not in json.dumps(create["body"])


def test_results_link_to_their_step_and_the_run_is_identified(
    tmp_path: Path, ws: Any, tasks: list[ValidationTask], tiers: dict[str, str]
) -> None:
    def executor(argv: list[str]) -> tuple[int, bytes | None]:
        code, raw = default_executor(argv)
        doc = json.loads(raw or b"{}")
        doc["url"] = "https://evil.example/phish"  # a step cannot choose where its status links
        doc["argo"] = {"workflow": "someone-else"}
        return code, json.dumps(doc).encode()

    fake = _installed()
    fake.executor = executor
    with ArgoServer(fake) as server:
        run, _ = _run(server, tasks, tmp_path / "out", ws, tiers)
    name = run.workflows[0]
    wf = fake.workflows[name]
    pods = {n["displayName"].removesuffix("(0)"): n["id"] for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}
    for doc in run.results:
        step = doc["argo"]["step"]
        assert doc["url"] == f"{server.url}/workflows/argo/{name}?nodeId={pods[step]}"
        assert doc["argo"] == {"workflow": name, "namespace": "argo", "uid": wf["metadata"]["uid"],
                               "node": pods[step], "step": step, "url": doc["url"]}
    assert run.runs == [{
        "name": name, "namespace": "argo", "uid": wf["metadata"]["uid"],
        "url": f"{server.url}/workflows/argo/{name}", "phase": "Succeeded", "submission": "by-reference",
        "templates": json.loads(wf["metadata"]["annotations"]["govops.dev/templates"]),
    }]
    summary = json.loads(run.summary_path.read_text())
    assert summary["argo_runs"] == run.runs


def _drifted(mutate: Any) -> FakeArgo:
    fake = _installed()
    mutate(fake.templates["govops-validate-high"])
    return fake


def _step(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["metadata"]["labels"].__setitem__(DIGEST_LABEL, "0000000000000000"),
         r"govops-validate-high in namespace argo is version 0000000000000000, this commit's argo/ is"),
        (lambda d: _step(d, "check")["container"].__setitem__("image", "evil/validator:1"),
         r"content digests to .*edited in the cluster"),
        (lambda d: _step(d, "check")["inputs"]["parameters"].append({"name": "extra"}),
         r"template 'check' takes parameters .*extra.*the template's parameters changed"),
        (lambda d: d["metadata"]["labels"].pop(DIGEST_LABEL), r"is version unlabelled"),
    ],
    ids=["older-version", "edited-in-place", "parameters-changed", "unlabelled"],
)
def test_template_drift_is_refused_before_anything_runs(
    tmp_path: Path, ws: Any, tasks: list[ValidationTask], tiers: dict[str, str], mutate: Any, message: str
) -> None:
    with ArgoServer(_drifted(mutate)) as server:
        with pytest.raises(TemplateDriftError, match=message) as err:
            _run(server, tasks, tmp_path / "out", ws, tiers)
    assert "kubectl apply -k argo/" in str(err.value) and err.value.exit_code == 2
    assert not any(r["method"] == "POST" for r in server.fake.requests)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_missing_template_is_refused(tmp_path: Path, ws: Any, tasks: list[ValidationTask],
                                     tiers: dict[str, str]) -> None:
    fake = _installed()
    del fake.templates["govops-validate-medium"]
    with ArgoServer(fake) as server:
        with pytest.raises(TemplateDriftError, match=r"govops-validate-medium is not installed in namespace argo.*"
                                                     r"kubectl apply -k argo/"):
            _run(server, tasks, tmp_path / "out", ws, tiers)
    assert not any(r["method"] == "POST" for r in server.fake.requests)


def test_template_removed_after_the_check_fails_the_run(
    tmp_path: Path, ws: Any, tasks: list[ValidationTask], tiers: dict[str, str]
) -> None:
    fake = _installed()
    fake.polls_before_done = 2
    with ArgoServer(fake) as server:
        original = fake.create

        def create_then_uninstall(ns: str, body: dict[str, Any]) -> tuple[int, Any]:
            fake.templates.clear()  # someone deletes the templates between the check and the run
            return original(ns, body)

        fake.create = create_then_uninstall  # type: ignore[method-assign]
        run, _ = _run(server, tasks, tmp_path / "out", ws, tiers)
    assert not run.ok
    assert {r["status"] for r in run.results} == {"error"}


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_a_clear_error(tmp_path: Path, ws: Any, tasks: list[ValidationTask],
                                        tiers: dict[str, str], status: int) -> None:
    fake = _installed()
    fake.auth_status = status
    with ArgoServer(fake) as server:
        with pytest.raises(ArgoError, match=rf"reading WorkflowTemplate govops-validate-high failed: .*{status}.*"
                                            r"check GOVOPS_ARGO_TOKEN and its RBAC"):
            _run(server, tasks, tmp_path / "out", ws, tiers)


def test_server_down_is_a_clear_error(tmp_path: Path, ws: Any, tasks: list[ValidationTask],
                                      tiers: dict[str, str]) -> None:
    with ArgoServer(_installed()) as server:
        pass
    with pytest.raises(ArgoError, match=r"reading WorkflowTemplate govops-validate-high failed: ConnectionError"):
        _run(server, tasks, tmp_path / "out", ws, tiers)


def test_workflow_deleted_mid_run(tmp_path: Path, ws: Any, tasks: list[ValidationTask],
                                  tiers: dict[str, str]) -> None:
    fake = _installed()
    fake.never_finish, fake.delete_after_polls = True, 2
    with ArgoServer(fake) as server:
        with pytest.raises(ArgoError, match="was deleted while it ran"):
            _run(server, tasks, tmp_path / "out", ws, tiers)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_nothing_a_pr_writes_chooses_the_template(ws: Any, tasks: list[ValidationTask], tiers: dict[str, str]) -> None:
    run = RunContext(repository="octo/gitops", pr_number=7, head_sha=SHA)
    t = tasks[0]
    # a tier the base's govops.yaml does not define cannot name a template
    with pytest.raises(InputError, match="names tier 'x-evil', which govops.yaml does not define"):
        ref_workflows([t], run, ws.config, OPTIONS, {t.model: "x-evil"})
    # names and values with Argo syntax never reach the manifest
    odd = ValidationTask("lab/{{workflow.name}}", t.check, t.spec_file, t.version, t.champion, {})
    with pytest.raises(InputError, match="Argo would expand"):
        ref_workflows([odd], run, ws.config, OPTIONS, tiers)
    # a model, version or check name only ever becomes a step's display name and its parameters
    weird = ValidationTask("Lab/Iris Species;rm -rf", t.check, t.spec_file, "1.0.0+build.7", t.champion, {})
    doc = ref_workflows([weird], run, ws.config, OPTIONS, {})[0].to_dict()
    _validate(doc, "Workflow")
    (step,) = next(x for x in doc["spec"]["templates"] if x["name"] == "validate")["dag"]["tasks"]
    assert step["templateRef"]["name"] == "govops-validate-high"  # the default: the first tier, never the model's
    assert step["templateRef"]["template"] in ("check", "check-vs-champion")
    assert step["name"].startswith("lab-iris-species-rm-rf-v1-0-0-build-7-")


def test_attaches_only_to_a_run_of_the_same_templates(
    tmp_path: Path, ws: Any, tasks: list[ValidationTask], tiers: dict[str, str]
) -> None:
    fake = _installed()
    with ArgoServer(fake) as server:
        _run(server, tasks, tmp_path / "a", ws, tiers)
        _, lines = _run(server, tasks, tmp_path / "b", ws, tiers)  # same tasks, same templates: attach
        assert len([r for r in fake.requests if r["method"] == "POST"]) == 1
        assert any(line.startswith("argo: attaching to ") for line in lines)
        selector = [r["query"]["listOptions.labelSelector"] for r in fake.requests if r["method"] == "GET"
                    and r["path"] == "/api/v1/workflows/argo"][-1]
        assert "govops.dev/submission=by-reference" in selector and "govops.dev/templates-digest=" in selector
        (wf,) = fake.workflows.values()
        wf["metadata"]["labels"]["govops.dev/templates-digest"] = "0" * 16  # a run of older templates
        _run(server, tasks, tmp_path / "c", ws, tiers)
        assert len([r for r in fake.requests if r["method"] == "POST"]) == 2
