"""A local HTTP server speaking the Argo Server REST API paths hera's WorkflowsService calls.

``POST /api/v1/workflows/{ns}`` (create), ``GET /api/v1/workflows/{ns}`` (list with
``listOptions.labelSelector``), ``GET /api/v1/workflows/{ns}/{name}`` (get),
``DELETE /api/v1/workflows/{ns}/{name}``, ``GET /artifacts/{ns}/{name}/{node}/{artifact}``,
``GET /api/v1/workflows/{ns}/{name}/log`` (newline-delimited ``{"result": {"content", "podName"}}``),
``GET /api/v1/workflow-templates/{ns}[/{name}]`` and ``GET /api/v1/cron-workflows/{ns}[/{name}]``.
A step with a ``templateRef`` runs the referenced template of an installed WorkflowTemplate
(``install``); a reference to one that is not installed makes the workflow ``Error``, as Argo
does. ``auth_status`` (401, 403) answers every request with that error.

It "runs" a workflow the way Argo would prepare each check pod: it substitutes the DAG
task's arguments into the container template's ``{{inputs.parameters.*}}``, applies
Kubernetes' ``$(VAR)`` expansion to command and args, and hands the resulting argv to
an executor function. Nodes are laid out like Argo's (a ``Retry`` parent whose last child
``Pod`` holds the outputs). Every request is recorded for exact assertions.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Executor = Callable[[list[str]], tuple[int, bytes | None]]


def k8s_expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of ``$(VAR)`` in command/args (``$$`` is an escaped ``$``)."""
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "$" and i + 1 < len(value):
            nxt = value[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = value.find(")", i + 2)
                if end != -1:
                    name = value[i + 2 : end]
                    out.append(env.get(name, f"$({name})"))
                    i = end + 1
                    continue
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def substitute(text: str, params: dict[str, str]) -> str:
    """Argo's ``{{inputs.parameters.x}}`` substitution (fails on unresolved references)."""

    def repl(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        if not key.startswith("inputs.parameters."):
            return m.group(0)
        name = key.removeprefix("inputs.parameters.")
        if name not in params:
            raise KeyError(f"failed to resolve {{{{{key}}}}}")
        return params[name]

    return re.sub(r"\{\{([^}]*)\}\}", repl, text)


def pod_name(workflow: str, node_name: str, template: str) -> str:
    """Argo's v2 pod name: ``<workflow>-<template>-<fnv32a(node name)>`` (prefix cut to fit 253)."""
    h = 0x811C9DC5
    for byte in node_name.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    prefix = f"{workflow}-{template}"[: 253 - 10 - 1]
    return f"{prefix}-{h}"


def default_executor(argv: list[str]) -> tuple[int, bytes | None]:
    """A check that passes: the result document a runner would write for this argv."""
    args = argv[argv.index("runners") + 1:]  # python -I -m runners CHECK ...
    opts = {args[i]: args[i + 1] for i in range(1, len(args) - 1, 2) if args[i].startswith("--")}
    doc = {
        "check": args[0],
        "model": opts["--model"],
        "version": opts["--version"],
        "status": "pass",
        "summary": f"{args[0]} passed",
        "metrics": [],
        "inputs": [],
    }
    return 0, json.dumps(doc).encode()


@dataclass
class FakeArgo:
    """The server's behaviour knobs and its record of requests."""

    executor: Executor = default_executor
    polls_before_done: int = 1
    create_status: int = 200
    get_status: int = 200
    delete_after_polls: int | None = None
    never_finish: bool = False
    head_sha_override: str | None = None
    auth_status: int | None = None
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    cron_workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    artifacts: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    argvs: list[list[str]] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ behaviour

    def install(self, *docs: dict[str, Any]) -> None:
        """``kubectl apply`` for WorkflowTemplates and CronWorkflows (stored as given)."""
        for doc in docs:
            doc = json.loads(json.dumps(doc))
            store = self.templates if doc["kind"] == "WorkflowTemplate" else self.cron_workflows
            store[doc["metadata"]["name"]] = doc

    def named(self, store: dict[str, dict[str, Any]], kind: str, name: str | None) -> tuple[int, Any]:
        if name is None:
            return 200, {"metadata": {}, "items": list(store.values()) or None}
        if name not in store:
            return 404, {"code": 5, "message": f'{kind} "{name}" not found'}
        return 200, store[name]

    def workflow_logs(self, name: str, query: dict[str, str]) -> tuple[int, bytes]:
        if name not in self.workflows:
            return 404, json.dumps({"code": 5, "message": f'workflows.argoproj.io "{name}" not found'}).encode()
        pod = query.get("podName")
        lines = [
            json.dumps({"result": {"content": line, "podName": p}})
            for p, content in self.logs.items()
            if p.startswith(name) and (not pod or p == pod)
            for line in content
        ]
        return 200, ("\n".join(lines) + "\n").encode() if lines else b""

    def _resolve(self, task: dict[str, Any], local: dict[str, Any]) -> dict[str, Any] | None:
        ref = task.get("templateRef")
        if not ref:
            return local[task["template"]]
        installed = self.templates.get(ref["name"])
        if installed is None:
            return None
        return next((t for t in installed["spec"]["templates"] if t["name"] == ref["template"]), None)

    def create(self, ns: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self.create_status != 200:
            return self.create_status, {"code": 13, "message": "etcdserver: request timed out"}
        wf = json.loads(json.dumps(body["workflow"]))
        self.counter += 1
        name = wf["metadata"].get("name") or f"{wf['metadata']['generateName']}{self.counter:05d}"[-63:]
        wf["metadata"].update(
            {"name": name, "namespace": ns, "uid": f"uid-{self.counter}", "creationTimestamp": "2026-11-23T10:00:00Z"}
        )
        if self.head_sha_override is not None:
            wf["metadata"]["labels"]["govops.dev/head-sha"] = self.head_sha_override
        wf["status"] = {"phase": "Pending"}
        self.workflows[name] = wf
        self.polls[name] = 0
        return 200, wf

    def get(self, ns: str, name: str) -> tuple[int, Any]:
        if self.get_status != 200:
            return self.get_status, {"code": 13, "message": "internal error"}
        wf = self.workflows.get(name)
        if wf is None:
            return 404, {"code": 5, "message": f'workflows.argoproj.io "{name}" not found'}
        self.polls[name] += 1
        if self.delete_after_polls is not None and self.polls[name] > self.delete_after_polls:
            del self.workflows[name]
            return 404, {"code": 5, "message": f'workflows.argoproj.io "{name}" not found'}
        due = self.polls[name] >= self.polls_before_done
        if not self.never_finish and due and wf["status"]["phase"] in ("Pending", "Running"):
            self.run(name, wf)
        elif wf["status"]["phase"] == "Pending" and self.polls[name] >= 1:
            wf["status"] = {"phase": "Running"}
        return 200, wf

    def list(self, ns: str, selector: str | None) -> tuple[int, Any]:
        wanted = dict(part.split("=", 1) for part in selector.split(",")) if selector else {}
        items = [
            w
            for w in self.workflows.values()
            if all(w["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        return 200, {"metadata": {}, "items": items or None}

    def run(self, name: str, wf: dict[str, Any]) -> None:
        templates = {t["name"]: t for t in wf["spec"]["templates"]}
        dag = templates[wf["spec"]["entrypoint"]]["dag"]["tasks"]
        nodes: dict[str, Any] = {}
        failed = False
        for task in dag:
            resolved = self._resolve(task, templates)
            if resolved is None:
                ref = task["templateRef"]
                wf["status"] = {"phase": "Error", "message": f'workflowtemplates.argoproj.io "{ref["name"]}" not found'}
                return
            tmpl = resolved
            params = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
            env = {e["name"]: "secret-from-k8s" for e in tmpl["container"].get("env", [])}
            argv = [k8s_expand(substitute(a, params), env) for a in tmpl["container"]["command"]]
            argv += [k8s_expand(substitute(a, params), env) for a in tmpl["container"].get("args", [])]
            self.argvs.append(argv)
            code, result = self.executor(argv)
            parent = f"{name}-{zlib.crc32(task['name'].encode())}"
            child = f"{parent}-0"
            tname = task.get("template") or task["templateRef"]["template"]
            ref_field = {"templateRef": task["templateRef"]} if task.get("templateRef") else {"templateName": tname}
            self.logs[pod_name(name, f"{name}.{task['name']}(0)", tname)] = [
                f"running {argv[argv.index('runners') + 1]}", f"exit code {code}"]
            phase = "Succeeded" if code == 0 else "Failed"
            failed = failed or code != 0
            outputs: dict[str, Any] = {"exitCode": str(code)}
            if result is not None:
                outputs["artifacts"] = [{"name": "result", "path": "/tmp/result.json", "s3": {"key": f"{child}/r"}}]
                self.artifacts[(name, child, "result")] = result
            nodes[parent] = {
                "id": parent,
                "name": f"{name}.{task['name']}",
                "displayName": task["name"],
                "type": "Retry",
                "phase": phase,
                **ref_field,
                "children": [child],
            }
            nodes[child] = {
                "id": child,
                "name": f"{name}.{task['name']}(0)",
                "displayName": f"{task['name']}(0)",
                "type": "Pod",
                "phase": phase,
                **ref_field,
                "message": "" if code == 0 else f"Error (exit code {code})",
                "outputs": outputs,
            }
        wf["status"] = {"phase": "Failed" if failed else "Succeeded", "nodes": nodes}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeArgo

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, payload: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> None:
        fake = self.fake
        if parts[:3] == ["api", "v1", "workflow-templates"] and len(parts) in (4, 5):
            self._reply(*fake.named(fake.templates, "workflowtemplates.argoproj.io", (parts + [None])[4]))
        elif parts[:3] == ["api", "v1", "cron-workflows"] and len(parts) in (4, 5):
            self._reply(*fake.named(fake.cron_workflows, "cronworkflows.argoproj.io", (parts + [None])[4]))
        elif parts[:3] == ["api", "v1", "workflows"] and len(parts) == 6 and parts[5] == "log":
            status, data = fake.workflow_logs(parts[4], query)
            self._reply(status, None, raw=data)
        elif parts[:3] == ["api", "v1", "workflows"] and len(parts) == 4:
            if method == "POST":
                self._reply(*fake.create(parts[3], json.loads(body)))
            else:
                self._reply(*fake.list(parts[3], query.get("listOptions.labelSelector")))
        elif parts[:3] == ["api", "v1", "workflows"] and len(parts) == 5:
            if method == "DELETE":
                fake.workflows.pop(parts[4], None)
                self._reply(200, {})
            else:
                self._reply(*fake.get(parts[3], parts[4]))
        elif parts[0] == "artifacts" and len(parts) == 5:
            art = fake.artifacts.get((parts[2], parts[3], parts[4]))
            if art is None:
                self._reply(404, {"code": 5, "message": "artifact not found"})
            else:
                self._reply(200, None, raw=art)
        else:
            self._reply(404, {"code": 5, "message": f"no route {'/'.join(parts)}"})

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        fake = self.fake
        with fake.lock:
            fake.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(body) if body else None,
                }
            )
            if fake.auth_status is not None:
                message = "token not valid" if fake.auth_status == 401 else "forbidden: RBAC denies this"
                self._reply(fake.auth_status, {"code": 16 if fake.auth_status == 401 else 7, "message": message})
                return
            self._route(method, url.path.strip("/").split("/"), query, body)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")


class ArgoServer:
    """Context manager: the fake server on a free port; ``.url`` and ``.fake``."""

    def __init__(self, fake: FakeArgo | None = None) -> None:
        self.fake = fake or FakeArgo()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ArgoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
