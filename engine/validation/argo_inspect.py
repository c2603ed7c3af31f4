"""What the Argo UI shows, for a terminal: a validation run's steps, their links, and their logs.

Stage: *validate* (read side). ``govops argo status [PR|WORKFLOW]`` and ``govops argo logs
WORKFLOW [--step CHECK]`` read the Argo Server API (hera's ``WorkflowsService``; logs through
``GET /api/v1/workflows/{ns}/{name}/log``, which streams one JSON object per line and which
hera's ``workflow_logs`` reads as a single document), so a reviewer without UI access sees the
same runs, phases, step links and pod logs. Read only: nothing here creates, changes or
deletes anything, and the token is never printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests
from hera.exceptions import NotFound
from hera.workflows import WorkflowsService
from hera.workflows.models import Workflow as WorkflowModel

from engine.spec.errors import InputError
from engine.spec.settings import Settings
from engine.validation.argo_links import node_url, workflow_url
from engine.validation.k8s_names import label_value
from engine.validation.workflow import LABEL_PREFIX

POD_NAME_FORMAT = "workflows.argoproj.io/pod-name-format"
STEP_TYPES = ("Retry", "Pod")
MAX_LOG_BYTES = 8 << 20


@dataclass
class Connection:
    """An Argo Server to read from: base URL, namespace, the hera service and the bearer token."""

    server: str
    namespace: str
    service: WorkflowsService
    token: str
    verify: bool

    def close(self) -> None:
        """Release the HTTP session."""
        self.service.close()


def connect(settings: Settings, namespace: str | None = None) -> Connection:
    """A connection from ``GOVOPS_ARGO_SERVER``/``GOVOPS_ARGO_TOKEN``/``GOVOPS_ARGO_NAMESPACE`` (exit 2 if unset)."""
    server = (settings.argo_server or "").rstrip("/")
    if not server:
        raise InputError("no Argo Server URL: set GOVOPS_ARGO_SERVER")
    if not server.startswith(("http://", "https://")):
        raise InputError(f"GOVOPS_ARGO_SERVER must be an http(s) URL, got {server!r}")
    token = settings.argo_token.get_secret_value() if settings.argo_token else ""
    if not token:
        raise InputError("no Argo token: set GOVOPS_ARGO_TOKEN")
    ns = namespace or settings.argo_namespace
    service = WorkflowsService(host=server + "/", token=token, namespace=ns, verify_ssl=settings.argo_verify_tls)
    return Connection(server, ns, service, token, settings.argo_verify_tls)


def find_runs(conn: Connection, target: str, repository: str | None = None) -> list[WorkflowModel]:
    """The workflows of PR ``target`` (a number; newest first), or the one workflow named ``target``."""
    from engine.validation.executors.argo import ArgoError, _call

    if target.isdigit():
        selector = f"{LABEL_PREFIX}/pr={int(target)}"
        if repository:
            selector += f",{LABEL_PREFIX}/repository={label_value(repository)}"
        found = _call("listing workflows", conn.server,
                      lambda: conn.service.list_workflows(namespace=conn.namespace, label_selector=selector))
        items = list(found.items or [])
        if not items:
            raise ArgoError(f"no validation run of PR {target} in namespace {conn.namespace} ({selector})")
        return sorted(items, key=lambda w: str(w.metadata.creation_timestamp or "") if w.metadata else "",
                      reverse=True)
    try:
        return [_call(f"reading workflow {target}", conn.server,
                      lambda: conn.service.get_workflow(target, namespace=conn.namespace))]
    except NotFound:
        raise ArgoError(f"workflow {target} does not exist in namespace {conn.namespace} "
                        "(deleted, or removed after its TTL)") from None


def steps(wf: WorkflowModel) -> list[dict[str, Any]]:
    """One row per check step: its display name, phase, message, the node holding its pod, its template."""
    nodes = dict(wf.status.nodes or {}) if wf.status else {}
    name = (wf.metadata.name if wf.metadata else None) or ""
    rows = []
    for node in nodes.values():
        if node.type not in STEP_TYPES or not node.display_name or node.display_name.endswith(")"):
            continue
        rest = node.name[len(name) + 1:] if node.name and node.name.startswith(name + ".") else (node.name or "")
        if "." in rest:
            continue  # the exit handler's steps (``NAME.onExit.…``)
        pod = node
        if node.type == "Retry" and node.children:
            pod = nodes.get(node.children[-1], node)
        template = pod.template_name or (pod.template_ref.template if pod.template_ref else None)
        rows.append({
            "step": node.display_name, "phase": node.phase or "Pending", "message": pod.message or node.message or "",
            "node": pod.id, "node_name": pod.name, "template": template,
        })
    return sorted(rows, key=lambda r: r["step"])


def describe(conn: Connection, wf: WorkflowModel) -> dict[str, Any]:
    """A run as plain data: identity, phase, labels of interest, and each step with its UI link."""
    meta = wf.metadata
    name = meta.name if meta and meta.name else "?"
    labels = dict(meta.labels or {}) if meta else {}
    return {
        "name": name,
        "namespace": meta.namespace if meta and meta.namespace else conn.namespace,
        "uid": meta.uid if meta else None,
        "phase": (wf.status.phase if wf.status else None) or "Pending",
        "url": workflow_url(conn.server, conn.namespace, name),
        "pr": labels.get(f"{LABEL_PREFIX}/pr"),
        "head_sha": labels.get(f"{LABEL_PREFIX}/head-sha"),
        "submission": labels.get(f"{LABEL_PREFIX}/submission", "inline"),
        "steps": [
            {**row, "url": node_url(conn.server, conn.namespace, name, row["node"])} for row in steps(wf)
        ],
    }


def pod_name(wf: WorkflowModel, node_name: str, node_id: str, template: str | None) -> str:
    """Argo's pod name for a node (``workflow/util/pod_name.go``): v1 is the node id, v2 (default) hashes."""
    meta = wf.metadata
    name = meta.name if meta and meta.name else ""
    version = (dict(meta.annotations or {}) if meta else {}).get(POD_NAME_FORMAT, "v2")
    if version == "v1":
        return node_id
    if name == node_name:
        return name
    prefix = f"{name}-{template}" if template else name
    prefix = prefix[: 253 - 10 - 1]
    h = 0x811C9DC5  # FNV-1a, 32 bit
    for byte in node_name.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{prefix}-{h}"


def _matches(step: str, wanted: str) -> bool:
    flat = wanted.replace("_", "-").lower()
    return step == wanted or step.endswith(f"-{flat}") or step == flat


def logs(conn: Connection, wf: WorkflowModel, step: str | None = None) -> list[tuple[str, str]]:
    """``(step, line)`` of every matching step's main container, in step order."""
    from engine.validation.executors.argo import ArgoError

    rows = steps(wf)
    if step is not None:
        rows = [r for r in rows if _matches(r["step"], step)]
        if not rows:
            known = ", ".join(r["step"] for r in steps(wf)) or "none"
            raise InputError(f"no step {step!r} in workflow {wf.metadata.name if wf.metadata else '?'}; steps: {known}")
    name = wf.metadata.name if wf.metadata and wf.metadata.name else ""
    out: list[tuple[str, str]] = []
    for row in rows:
        pod = pod_name(wf, row["node_name"] or "", row["node"], row["template"])
        url = f"{conn.server}/api/v1/workflows/{conn.namespace}/{name}/log"
        params = {"podName": pod, "logOptions.container": "main"}
        try:
            resp = requests.get(url, params=params, headers={"Authorization": f"Bearer {conn.token}"},
                                verify=conn.verify, timeout=60)
        except requests.RequestException as exc:
            raise ArgoError(f"Argo Server {conn.server}: reading logs failed: {type(exc).__name__}: {exc}") from None
        if resp.status_code in (401, 403):
            raise ArgoError(f"Argo Server {conn.server}: reading logs was refused ({resp.status_code}); "
                            "check GOVOPS_ARGO_TOKEN and its RBAC (pods/log)")
        if resp.status_code == 404:
            raise ArgoError(f"workflow {name} does not exist in namespace {conn.namespace} (deleted)")
        if not resp.ok:
            raise ArgoError(f"Argo Server {conn.server}: reading logs failed with HTTP {resp.status_code}")
        for line in resp.content[:MAX_LOG_BYTES].decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            result = entry.get("result") if isinstance(entry, dict) else None
            if isinstance(result, dict) and isinstance(result.get("content"), str):
                out.append((row["step"], result["content"]))
    return out
