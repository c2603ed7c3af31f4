"""The Argo executor: submit the validation DAG to an Argo Server, wait, collect the results.

Stage: *validate* (distributed engine). Same input and output as the local executor
(``engine.validation.executors.local.run_validation``): a list of ``ValidationTask`` in, one result
document per task at ``out_dir/<tenant>/<name>/<check>.json`` plus ``out_dir/summary.json``
out. By default the workflows reference the committed tier WorkflowTemplates
(``engine.validation.submit``: the installed templates are read with ``GET
/api/v1/workflow-templates/{ns}/{name}`` and must be this commit's render); with
``GOVOPS_ARGO_SUBMISSION=inline`` they are the self-contained ones of ``engine.validation.workflow``.
Both are submitted with hera's ``WorkflowsService`` (Argo Server REST API: ``POST/GET
/api/v1/workflows/{ns}[/{name}]``, ``GET /artifacts/{ns}/{name}/{node}/{artifact}``). Each
result gets the link of its step in the Argo UI and the run's identity (name, namespace, UID).

What this module must never do: log or write the token; accept results from a run whose
``govops.dev/head-sha`` label is not the PR's head commit; report a check as passed when
its result could not be read (a missing or unreadable result is an ``error`` result); wait
forever (every wait has a timeout).
"""

from __future__ import annotations

import ast
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from hera.exceptions import HeraException, NotFound
from hera.workflows import WorkflowsService
from hera.workflows.models import Workflow as WorkflowModel
from hera.workflows.models import WorkflowCreateRequest

from engine.spec.config import Governance
from engine.spec.errors import GovopsError, InputError
from engine.spec.settings import Settings, get_settings
from engine.validation.argo_links import node_url
from engine.validation.dag import ValidationTask
from engine.validation.executors import ValidationRun
from engine.validation.workflow import (
    LABEL_PREFIX,
    RESULT_ARTIFACT,
    PlannedWorkflow,
    RunContext,
    WorkflowOptions,
    pr_workflows,
    tasks_digest,
)

FINISHED = ("Succeeded", "Failed", "Error")
HEAD_SHA_LABEL = f"{LABEL_PREFIX}/head-sha"
SUBMISSIONS = ("ref", "inline")
# labels that must match for an existing run to count as this one (besides head SHA, tasks and part)
_REUSE_LABELS = (f"{LABEL_PREFIX}/submission", f"{LABEL_PREFIX}/templates-digest")
T = TypeVar("T")


class ArgoError(GovopsError):
    """The Argo Server failed, timed out, lost a workflow or returned something unusable (exit 2)."""


@dataclass
class ArgoValidationRun(ValidationRun):
    """What a validation run on Argo produced: the local executor's fields, plus the runs' names and links."""

    workflows: list[str] = field(default_factory=list)
    ui_urls: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Each run's identity: ``{"name", "namespace", "uid", "url", "phase", "submission", "templates"}``."""


def ui_url(server: str, namespace: str, name: str) -> str:
    """The Argo UI page of a workflow: ``{server}/workflows/{namespace}/{name}``."""
    return f"{server.rstrip('/')}/workflows/{namespace}/{name}"


def result_path(out_dir: Path, task: ValidationTask) -> Path:
    """``out_dir/<tenant>/<name>/<check>.json`` (the local executor's layout)."""
    tenant, name = task.model.split("/", 1)
    return out_dir / tenant / name / f"{task.check}.json"


def _call(what: str, server: str, fn: Callable[[], T]) -> T:
    """Run one Argo Server call, turning transport and server failures into ``ArgoError``."""
    try:
        return fn()
    except NotFound:
        raise
    except HeraException as exc:
        code = getattr(exc, "status_code", None)
        hint = " (check GOVOPS_ARGO_TOKEN and its RBAC)" if code in (401, 403) else ""
        raise ArgoError(f"Argo Server {server}: {what} failed: {exc}{hint}") from None
    except requests.RequestException as exc:
        raise ArgoError(f"Argo Server {server}: {what} failed: {type(exc).__name__}: {exc}") from None
    except (KeyError, ValueError) as exc:  # hera reads error bodies as JSON with a "message" key
        raise ArgoError(f"Argo Server {server}: {what} failed with an unreadable response ({exc})") from None


def _labels(wf: WorkflowModel) -> dict[str, str]:
    return dict(wf.metadata.labels or {}) if wf.metadata else {}


def _check_head(wf: WorkflowModel, head_sha: str) -> None:
    found = _labels(wf).get(HEAD_SHA_LABEL)
    if found != head_sha:
        name = wf.metadata.name if wf.metadata else "?"
        raise ArgoError(
            f"refusing the results of workflow {name}: its {HEAD_SHA_LABEL} label is {found!r}, "
            f"but the PR's head commit is {head_sha!r}"
        )


def _phase(wf: WorkflowModel) -> str:
    return (wf.status.phase if wf.status and wf.status.phase else "") or "Pending"


def _decode_artifact(raw: Any) -> bytes:
    """Undo hera 7's ``str(response.content)``: it ``str(response.content)`` returns a bytes repr, not the bytes."""
    if isinstance(raw, bytes):
        return raw
    text = str(raw)
    if text[:2] in ("b'", 'b"'):
        value = ast.literal_eval(text)
        if isinstance(value, bytes):
            return value
    return text.encode("utf-8")


def _error_result(task: ValidationTask, summary: str) -> dict[str, Any]:
    return {
        "check": task.check,
        "model": task.model,
        "version": task.version,
        "status": "error",
        "summary": summary,
        "metrics": [],
        "inputs": [],
        "champion": task.champion,
        "thresholds": dict(task.thresholds),
        "error": summary,
    }


class _Session:
    """The submission of one validation run: service, settings and progress output."""

    def __init__(
        self,
        service: WorkflowsService,
        server: str,
        namespace: str,
        head_sha: str,
        log: Callable[[str], None],
    ) -> None:
        self.service = service
        self.server = server
        self.namespace = namespace
        self.head_sha = head_sha
        self.log = log

    def find_existing(self, planned: PlannedWorkflow) -> WorkflowModel | None:
        """A run of exactly these tasks at this head commit that is running or succeeded."""
        tasks = list(planned.tasks.values())
        labels = planned.workflow.labels or {}
        selector = ",".join(
            [
                f"{HEAD_SHA_LABEL}={self.head_sha}",
                f"{LABEL_PREFIX}/tasks-digest={tasks_digest(tasks)}",
                f"{LABEL_PREFIX}/part={planned.part}-of-{planned.parts}",
                *(f"{k}={labels[k]}" for k in _REUSE_LABELS if k in labels),
            ]
        )
        found = _call(
            "listing workflows",
            self.server,
            lambda: self.service.list_workflows(namespace=self.namespace, label_selector=selector),
        )
        candidates = [w for w in (found.items or []) if _phase(w) not in ("Failed", "Error")]
        if not candidates:
            return None
        newest = max(candidates, key=lambda w: str(w.metadata.creation_timestamp or "") if w.metadata else "")
        _check_head(newest, self.head_sha)
        return newest

    def verify_templates(
        self, planned: list[PlannedWorkflow], config: Governance | None, options: WorkflowOptions
    ) -> dict[str, str]:
        """The installed WorkflowTemplates the runs reference are this commit's render (else refused)."""
        from engine.validation.submit import expected_templates, referenced_templates, verify_installed

        assert config is not None

        def fetch(name: str) -> dict[str, Any] | None:
            try:
                found = _call(
                    f"reading WorkflowTemplate {name}",
                    self.server,
                    lambda: self.service.get_workflow_template(name, namespace=self.namespace),
                )
            except NotFound:
                return None
            return dict(found.model_dump(exclude_none=True, by_alias=True))

        digests = verify_installed(fetch, self.namespace, referenced_templates(planned),
                                   expected_templates(config, options))
        for name, digest in digests.items():
            self.log(f"argo: {name} is installed at this commit's version ({digest})")
        return digests

    def submit(self, planned: PlannedWorkflow) -> str:
        """Create the workflow; returns its name."""
        request = WorkflowCreateRequest(workflow=planned.workflow.build())
        created = _call(
            "creating the workflow",
            self.server,
            lambda: self.service.create_workflow(request, namespace=self.namespace),
        )
        if not created.metadata or not created.metadata.name:
            raise ArgoError(f"Argo Server {self.server}: the created workflow has no name")
        _check_head(created, self.head_sha)
        return created.metadata.name

    def wait(self, names: list[str], timeout_s: float, poll_s: float) -> dict[str, WorkflowModel]:
        """Poll until every workflow finished; errors on deletion or timeout."""
        deadline = time.monotonic() + timeout_s
        done: dict[str, WorkflowModel] = {}
        while True:
            for name in names:
                if name in done:
                    continue
                try:
                    wf = _call(
                        f"reading workflow {name}",
                        self.server,
                        lambda n=name: self.service.get_workflow(n, namespace=self.namespace),  # type: ignore[misc]
                    )
                except NotFound:
                    raise ArgoError(
                        f"workflow {name} was deleted while it ran (namespace {self.namespace}); "
                        "no results can be collected"
                    ) from None
                _check_head(wf, self.head_sha)
                if _phase(wf) in FINISHED:
                    done[name] = wf
                    self.log(f"argo: {name} {_phase(wf)}")
            if len(done) == len(names):
                return done
            if time.monotonic() >= deadline:
                pending = [n for n in names if n not in done]
                links = ", ".join(ui_url(self.server, self.namespace, n) for n in pending)
                raise ArgoError(f"timed out after {timeout_s:g} s waiting for {', '.join(pending)} ({links})")
            time.sleep(poll_s)

    def collect(self, wf: WorkflowModel, planned: PlannedWorkflow) -> list[tuple[ValidationTask, dict[str, Any]]]:
        """One result per task of this workflow: its result artifact, else an error result.

        Each result gets the link to its step (``url``: the node in the Argo UI) and the run's
        identity (``argo``), set here: a ``url`` or ``argo`` the step itself wrote is dropped.
        """
        name = wf.metadata.name if wf.metadata and wf.metadata.name else "?"
        uid = wf.metadata.uid if wf.metadata else None
        nodes = dict(wf.status.nodes or {}) if wf.status else {}
        by_display = {n.display_name: n for n in nodes.values() if n.display_name}
        out: list[tuple[ValidationTask, dict[str, Any]]] = []
        for task_name, task in planned.tasks.items():
            node = by_display.get(task_name)
            if node is None:
                doc = _error_result(task, f"Argo workflow {name} has no node for task {task_name}")
                out.append((task, self._linked(doc, name, uid, None, task_name)))
                continue
            if node.type == "Retry" and node.children:
                node = nodes.get(node.children[-1], node)  # the last attempt holds the outputs
            arts = (node.outputs.artifacts or []) if node.outputs else []
            if not any(a.name == RESULT_ARTIFACT for a in arts):
                why = node.message or f"phase {node.phase}"
                doc = _error_result(task, f"no result from Argo node {task_name}: {why}")
                out.append((task, self._linked(doc, name, uid, node.id, task_name)))
                continue
            raw = _call(
                f"reading the result of {task_name}",
                self.server,
                lambda n=node: self.service.get_output_artifact(  # type: ignore[misc]
                    name, n.id, RESULT_ARTIFACT, namespace=self.namespace
                ),
            )
            doc = _parse_result(task, task_name, _decode_artifact(raw))
            out.append((task, self._linked(doc, name, uid, node.id, task_name)))
        return out

    def _linked(self, doc: dict[str, Any], name: str, uid: str | None, node_id: str | None,
                step: str) -> dict[str, Any]:
        doc = {k: v for k, v in doc.items() if k not in ("url", "argo")}
        url = node_url(self.server, self.namespace, name, node_id) if node_id else ui_url(self.server, self.namespace,
                                                                                          name)
        doc["url"] = url
        doc["argo"] = {"workflow": name, "namespace": self.namespace, "uid": uid, "node": node_id, "step": step,
                       "url": url}
        return doc


def _parse_result(task: ValidationTask, task_name: str, raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        return _error_result(task, f"the result of {task_name} is not JSON ({exc})")
    if not isinstance(doc, dict):
        return _error_result(task, f"the result of {task_name} is not a JSON object")
    for key, want in (("check", task.check), ("model", task.model), ("version", task.version)):
        if doc.get(key) != want:
            return _error_result(task, f"the result of {task_name} is for {key} {doc.get(key)!r}, expected {want!r}")
    if doc.get("status") not in ("pass", "fail", "error"):
        return _error_result(task, f"the result of {task_name} has no valid status ({doc.get('status')!r})")
    return doc


def _settings_value(given: str | None, env: str | None, what: str, variable: str) -> str:
    value = given if given is not None else env
    if not value:
        raise InputError(f"no {what}: set {variable} (or pass it explicitly) to run validation on Argo")
    return value


def run_validation_argo(
    root: Path,
    tasks: list[ValidationTask],
    out_dir: Path,
    *,
    head_sha: str,
    server: str | None = None,
    token: str | None = None,
    namespace: str | None = None,
    timeout_s: float = 3600,
    repository: str | None = None,
    pr_number: int | None = None,
    report_status: bool = False,
    options: WorkflowOptions | None = None,
    poll_interval_s: float = 5.0,
    reuse: bool = True,
    log: Callable[[str], None] | None = None,
    settings: Settings | None = None,
    submission: str | None = None,
    config: Governance | None = None,
    tiers: Mapping[str, str] | None = None,
) -> ArgoValidationRun:
    """Validate ``tasks`` on Argo: submit (or attach to a run of the same tasks at ``head_sha``), wait, collect.

    Settings not passed come from the environment (``GOVOPS_ARGO_SERVER``, ``GOVOPS_ARGO_TOKEN``,
    ``GOVOPS_ARGO_NAMESPACE``, ``GOVOPS_VALIDATOR_IMAGE``, ``GOVOPS_ARGO_SUBMISSION``). Prints each
    run's Argo UI link. ``submission="ref"`` (the default) submits a Workflow whose steps reference
    the committed tier WorkflowTemplates rendered from ``config`` (the base's, trusted; ``tiers``
    maps each model to its tier) after checking the installed templates are exactly this commit's;
    ``"inline"`` submits the steps inline, for clusters where templates cannot be installed.
    Raises ``InputError`` for a missing server or token, ``TemplateDriftError`` for missing or
    different templates, ``ArgoError`` for server errors, timeouts, a workflow deleted mid-run,
    or a run whose head-SHA label is not ``head_sha``. ``root`` is the repository the tasks were
    built from (their spec paths are relative to it).
    """
    settings = settings or get_settings()
    say = log or (lambda line: print(line, file=sys.stderr))
    server = _settings_value(server, settings.argo_server, "Argo Server URL", "GOVOPS_ARGO_SERVER").rstrip("/")
    env_token = settings.argo_token.get_secret_value() if settings.argo_token else None
    token = _settings_value(token, env_token, "Argo token", "GOVOPS_ARGO_TOKEN")
    if not server.startswith(("http://", "https://")):
        raise InputError(f"GOVOPS_ARGO_SERVER must be an http(s) URL, got {server!r}")
    namespace = namespace or settings.argo_namespace
    if options is None:
        options = WorkflowOptions(
            image=settings.validator_image,
            service_account=settings.argo_service_account,
            git_secret=settings.argo_git_secret,
            github_secret=settings.argo_github_secret,
        )
    run = RunContext(
        repository=repository,
        pr_number=pr_number,
        head_sha=head_sha,
        argo_ui=server,
        report_status=report_status,
    )
    mode = submission or settings.argo_submission
    planned = _planned(tasks, run, options, mode, config, tiers)  # validates names and values before any request
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t_start = time.monotonic()
    for task in tasks:  # a stale file from an earlier run must never be read as this run's result
        result_path(out_dir, task).unlink(missing_ok=True)
    (out_dir / "summary.json").unlink(missing_ok=True)
    service = WorkflowsService(host=server + "/", token=token, namespace=namespace, verify_ssl=settings.argo_verify_tls)
    session = _Session(service, server, namespace, head_sha, say)
    names: list[str] = []
    try:
        templates = session.verify_templates(planned, config, options) if mode == "ref" else {}
        for part in planned:
            existing = session.find_existing(part) if reuse else None
            if existing is not None and existing.metadata and existing.metadata.name:
                name = existing.metadata.name
                say(f"argo: attaching to {name} (same tasks at {head_sha[:12]}): {ui_url(server, namespace, name)}")
            else:
                name = session.submit(part)
                say(f"argo: submitted {name}: {ui_url(server, namespace, name)}")
            names.append(name)
        finished = session.wait(names, timeout_s, poll_interval_s)
        collected: list[tuple[ValidationTask, dict[str, Any]]] = []
        for name, part in zip(names, planned, strict=True):
            collected.extend(session.collect(finished[name], part))
    finally:
        service.close()
    urls = [ui_url(server, namespace, n) for n in names]
    argo_run = _write(out_dir, collected, names, urls, finished, head_sha, started, t_start)
    argo_run.runs = [_identity(finished[n], namespace, u, mode, templates) for n, u in zip(names, urls, strict=True)]
    _add_summary(argo_run, root, tasks)
    return argo_run


def _planned(
    tasks: list[ValidationTask], run: RunContext, options: WorkflowOptions, mode: str,
    config: Governance | None, tiers: Mapping[str, str] | None,
) -> list[PlannedWorkflow]:
    if mode not in SUBMISSIONS:
        raise InputError(f"GOVOPS_ARGO_SUBMISSION must be one of {', '.join(SUBMISSIONS)}, got {mode!r}")
    if mode == "inline":
        return pr_workflows(tasks, run, options)
    if config is None:
        raise InputError(
            "submitting by reference to the committed WorkflowTemplates needs govops.yaml's tiers; "
            "without them set GOVOPS_ARGO_SUBMISSION=inline"
        )
    from engine.validation.submit import ref_workflows

    return ref_workflows(tasks, run, config, options, tiers)


def _identity(wf: WorkflowModel, namespace: str, url: str, mode: str, templates: dict[str, str]) -> dict[str, Any]:
    """What the trail keeps of a run: enough to find it again in the cluster and in the UI."""
    meta = wf.metadata
    return {
        "name": meta.name if meta else None,
        "namespace": (meta.namespace if meta and meta.namespace else namespace),
        "uid": meta.uid if meta else None,
        "url": url,
        "phase": _phase(wf),
        "submission": "by-reference" if mode == "ref" else "inline",
        "templates": templates,
    }


def _add_summary(run: ArgoValidationRun, root: Path, tasks: list[ValidationTask]) -> None:
    """The runs' identities, and reference profiles for monitoring computed from the repository as locally."""
    from engine.validation.executors.local import store_profiles

    summary = json.loads(run.summary_path.read_text())
    summary["argo_runs"] = run.runs
    summary["profiles"] = store_profiles(root, tasks, run.out_dir)
    run.summary_path.write_text(json.dumps(summary, indent=2) + "\n")


def _write(
    out_dir: Path,
    collected: list[tuple[ValidationTask, dict[str, Any]]],
    names: list[str],
    urls: list[str],
    finished: dict[str, WorkflowModel],
    head_sha: str,
    started: str,
    t_start: float,
) -> ArgoValidationRun:
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for task, doc in collected:
        path = result_path(out_dir, task)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        results.append(doc)
        rows.append(
            {
                "model": task.model,
                "check": task.check,
                "version": task.version,
                "status": doc["status"],
                "summary": doc.get("summary", ""),
                "file": path.relative_to(out_dir).as_posix(),
            }
        )
    from engine.spec.check_result import document_passes

    ok = bool(results) and all(document_passes(r) for r in results)  # a step's "pass" must match its metrics
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("pass", "fail", "error")}
    summary = {
        "ok": ok,
        "executor": "argo",
        "started": started,
        "duration_s": round(time.monotonic() - t_start, 3),
        "head_sha": head_sha,
        "workflows": [
            {"name": n, "url": u, "phase": _phase(finished[n])} for n, u in zip(names, urls, strict=True)
        ],
        "counts": counts,
        "results": rows,
    }
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return ArgoValidationRun(
        results=results,
        ok=ok,
        summary_path=summary_path,
        out_dir=out_dir,
        counts=counts,
        workflows=names,
        ui_urls=urls,
    )
