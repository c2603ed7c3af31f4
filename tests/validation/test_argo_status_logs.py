"""``govops argo status`` and ``govops argo logs``: what the Argo UI shows, from a terminal (Argo Server stand-in)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from engine.spec.settings import Settings
from engine.spec.workspace import load_workspace
from engine.validation.dag import build_dag
from engine.validation.executors.argo import run_validation_argo
from tests.conftest import govops
from tests.helpers.argo_fake_server import ArgoServer, FakeArgo, default_executor, pod_name
from tests.validation.test_argo_templates_by_reference import committed

PROJECT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"
pytestmark = pytest.mark.slow  # a local HTTP server and the CLI in subprocesses


def _failing_drift(argv: list[str]) -> tuple[int, bytes | None]:
    code, raw = default_executor(argv)
    if argv[argv.index("runners") + 1] == "drift":
        doc = json.loads(raw or b"{}")
        doc["status"] = "fail"
        return 1, json.dumps(doc).encode()
    return code, raw


@pytest.fixture(scope="module")
def argo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = load_workspace(PROJECT)
    tasks = build_dag([s for s in ws.specs if s.id == "lab/iris-species"], ws.config)
    fake = FakeArgo(executor=_failing_drift)
    fake.install(*committed())
    with ArgoServer(fake) as server:
        settings = Settings(argo_server=None, argo_token=None, argo_namespace="argo")
        run = run_validation_argo(PROJECT, tasks, tmp_path_factory.mktemp("out"), head_sha=SHA, server=server.url,
                                  token="t0k", repository="octo/gitops", pr_number=7, settings=settings,
                                  config=ws.config, tiers={"lab/iris-species": "medium"}, poll_interval_s=0.01,
                                  timeout_s=10, log=lambda _: None)
        yield server, run.workflows[0]


def _env(server: ArgoServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVOPS_", "GITHUB_"))}
    env.update({"GOVOPS_ARGO_SERVER": server.url, "GOVOPS_ARGO_TOKEN": "t0k", "GOVOPS_ARGO_NAMESPACE": "argo"})
    env.update(extra)
    return env


def test_status_of_a_pr_lists_each_step_with_its_link(argo: Any) -> None:
    server, name = argo
    r = govops("-C", str(PROJECT), "argo", "status", "7", "--format", "json", env=_env(server))
    assert r.returncode == 1, r.stderr  # the run failed: a check failed on its merits
    (run,) = json.loads(r.stdout)["runs"]
    assert (run["name"], run["phase"], run["pr"], run["head_sha"]) == (name, "Failed", "7", SHA)
    assert run["submission"] == "by-reference" and run["url"] == f"{server.url}/workflows/argo/{name}"
    steps = {s["step"]: s for s in run["steps"]}
    drift = steps["lab-iris-species-v1-1-0-drift"]
    assert drift["phase"] == "Failed" and drift["url"] == f"{server.url}/workflows/argo/{name}?nodeId={drift['node']}"
    assert all(s["phase"] == "Succeeded" for k, s in steps.items() if not k.endswith("-drift"))
    text = govops("-C", str(PROJECT), "argo", "status", name, env=_env(server))
    assert text.returncode == 1 and f"{name}  Failed  (by-reference, PR 7, head {SHA[:12]})" in text.stdout
    assert "lab-iris-species-v1-1-0-drift" in text.stdout and "Error (exit code 1)" in text.stdout
    assert "t0k" not in text.stdout + text.stderr


def test_logs_of_one_step(argo: Any) -> None:
    server, name = argo
    r = govops("-C", str(PROJECT), "argo", "logs", name, "--step", "drift", env=_env(server))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "lab-iris-species-v1-1-0-drift: running drift\nlab-iris-species-v1-1-0-drift: exit code 1\n"
    log_req = [q for q in server.fake.requests if q["path"].endswith("/log")][-1]
    node = f"{name}.lab-iris-species-v1-1-0-drift(0)"
    assert log_req["path"] == f"/api/v1/workflows/argo/{name}/log"
    assert log_req["query"] == {"podName": pod_name(name, node, "check-vs-champion"), "logOptions.container": "main"}
    everything = govops("-C", str(PROJECT), "argo", "logs", name, env=_env(server))
    pods = [n for n in server.fake.workflows[name]["status"]["nodes"].values() if n["type"] == "Pod"]
    assert everything.returncode == 0 and everything.stdout.count("running ") == len(pods) > 1  # one per step
    r = govops("-C", str(PROJECT), "argo", "logs", name, "--step", "nonsense", env=_env(server))
    assert r.returncode == 2 and "no step 'nonsense'" in r.stderr and "lab-iris-species-v1-1-0-drift" in r.stderr


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token(argo: Any, status: int) -> None:
    server, name = argo
    server.fake.auth_status = status
    try:
        r = govops("-C", str(PROJECT), "argo", "status", "7", env=_env(server))
    finally:
        server.fake.auth_status = None
    assert r.returncode == 2 and "check GOVOPS_ARGO_TOKEN and its RBAC" in r.stderr
    assert "Traceback" not in r.stderr


def test_deleted_workflow_unknown_pr_server_down_and_no_server(argo: Any) -> None:
    server, name = argo
    saved = server.fake.workflows.pop(name)
    try:
        r = govops("-C", str(PROJECT), "argo", "status", name, env=_env(server))
        assert r.returncode == 2 and f"workflow {name} does not exist in namespace argo" in r.stderr
        r = govops("-C", str(PROJECT), "argo", "logs", name, env=_env(server))
        assert r.returncode == 2 and "does not exist" in r.stderr
    finally:
        server.fake.workflows[name] = saved
    r = govops("-C", str(PROJECT), "argo", "status", "999", env=_env(server))
    assert r.returncode == 2 and "no validation run of PR 999" in r.stderr
    down = _env(server, GOVOPS_ARGO_SERVER="http://127.0.0.1:9")
    r = govops("-C", str(PROJECT), "argo", "status", "7", env=down)
    assert r.returncode == 2 and "ConnectionError" in r.stderr and "Traceback" not in r.stderr
    unset = {k: v for k, v in _env(server).items() if k != "GOVOPS_ARGO_SERVER"}
    r = govops("-C", str(PROJECT), "argo", "status", "7", env=unset)
    assert r.returncode == 2 and "set GOVOPS_ARGO_SERVER" in r.stderr
