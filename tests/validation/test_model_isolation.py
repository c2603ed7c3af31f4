"""Untrusted model code never meets credentials (issue #15, hole 4).

A pull request pins its own artifact, and a pickle runs code when loaded. These tests pin a
real pickle whose ``__reduce__`` payload looks around (environment, parent's environment,
writes into the results, the repository and the cache) and run validation the way CI does,
with a fake ``GITHUB_TOKEN`` and ``GOVOPS_*``/cloud secrets in the environment. The payload
must see none of them, write nothing, and never run in the process that holds the token;
normal models must still be judged exactly as before.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from engine.mlserver.process import alive
from engine.validation.dag import ValidationTask
from engine.validation.executors.local import run_validation
from runners.model_worker import ModelWorkerError, RemoteModel, confined, worker_env
from tests.helpers.runner_helpers import FEATURES, classification_data, sha, write_repo

PROJECT = Path(__file__).resolve().parents[2]
SECRETS = {
    "GITHUB_TOKEN": "ghs_isolationFAKEtoken1234567890",
    "GOVOPS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/isolationSECRET",
    "GOVOPS_OPA_TOKEN": "opa-isolation-secret",
    "AWS_SECRET_ACCESS_KEY": "aws-isolation-secret",
    "GOOGLE_APPLICATION_CREDENTIALS": "/secrets/isolation.json",
    "AZURE_CLIENT_SECRET": "azure-isolation-secret",
}

SPY = """
import json, os, pickle
obs = {"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "home": os.environ.get("HOME"),
       "leaked": sorted(k for k in os.environ if k == "GITHUB_TOKEN" or k.startswith(("GOVOPS_", "AWS_",
                        "GOOGLE_", "AZURE_"))),
       "secret_values": sorted(k for k, v in SECRETS.items() if any(v in x for x in os.environ.values())),
       "writes": {}, "parent_environ": None}
for target in TARGETS:
    try:
        with open(target, "w") as fh:
            fh.write("written by a model")
        obs["writes"][target] = "written"
    except OSError as exc:
        obs["writes"][target] = type(exc).__name__
try:
    raw = open("/proc/%d/environ" % os.getppid(), "rb").read().decode("latin-1")
    obs["parent_environ"] = sorted(k for k, v in SECRETS.items() if v in raw) or "no secrets"
except OSError as exc:
    obs["parent_environ"] = type(exc).__name__
try:
    with open(SPY_LOG, "a") as fh:
        fh.write(json.dumps(obs) + "\\n")
except OSError:
    pass
if RAISE:
    raise RuntimeError("SPY" + json.dumps(obs, separators=(",", ":")) + "YPS")
model = pickle.loads(INNER)
"""


class Payload:
    """Unpickles to ``inner`` after running :data:`SPY` (or raises with what it saw)."""

    def __init__(self, inner: Any, targets: list[str], spy_log: str, *, raise_: bool) -> None:
        head = (f"SECRETS = {SECRETS!r}\nTARGETS = {targets!r}\nSPY_LOG = {spy_log!r}\nRAISE = {raise_!r}\n"
                f"INNER = {pickle.dumps(inner)!r}\n")
        self.code = head + SPY

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (eval, (f"exec({self.code!r}, (g := {{}})) or g.get('model')",))


def observations(text: str) -> list[dict[str, Any]]:
    """Every observation a raising payload reported (through error messages)."""
    return [json.loads(m) for m in re.findall(r"SPY(\{.*?\})YPS", text)]


@pytest.fixture()
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)


def _repo(tmp_path: Path, *, raise_: bool, tier: str = "medium") -> tuple[Path, str, Path, LogisticRegression,
                                                                         list[str]]:
    root = tmp_path / "repo"
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    for d in (out / "t" / "m", cache):
        d.mkdir(parents=True)
    spy_log = str(tmp_path / "spy.jsonl")
    targets = [str(out / "t" / "m" / "performance.json"), str(out / "t" / "m" / "forged.json"),
               str(root / "specs" / "forged.yaml"), str(cache / "forged"), str(tmp_path / "forged.txt")]
    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    payload = Payload(model, targets, spy_log, raise_=raise_)
    root, spec = write_repo(root, ref, ev, {"2.0.0": payload}, tier=tier)
    return root, spec, out, model, targets


def _task(spec: str) -> ValidationTask:
    return ValidationTask(model="t/m", check="performance", spec_file=spec, version="2.0.0", champion=None,
                          thresholds={"min_accuracy": 0.5})


def _can_confine() -> bool:
    """Whether a worker can be kept from writing here: Landlock (root without it: a user switch only
    when the interpreter is reachable by ``nobody``, so not counted)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    return int(ctypes.CDLL(None).syscall(444, None, 0, 1)) >= 1


CAN_CONFINE = _can_confine()


def _assert_contained(obs: dict[str, Any], targets: list[str]) -> None:
    assert obs["leaked"] == [], f"the payload saw {obs['leaked']}"
    assert obs["secret_values"] == []
    assert obs["parent_environ"] != [] and "GITHUB_TOKEN" not in str(obs["parent_environ"])
    assert obs["cwd"] == obs["home"] and Path(obs["cwd"]).name.startswith("govops-model-")
    assert set(obs["writes"]) == set(targets)
    if CAN_CONFINE:  # elsewhere (no Landlock, not root) the worker has the caller's write access: see README
        assert all(v != "written" for v in obs["writes"].values()), obs["writes"]


@pytest.mark.slow
def test_pickle_payload_sees_no_secrets_and_never_runs_in_the_main_process(tmp_path, secrets_env) -> None:
    root, spec, out, _, targets = _repo(tmp_path, raise_=True)
    run = run_validation(root, [_task(spec)], out, jobs=1, timeout_s=120)
    (result,) = run.results
    assert result["status"] == "error"
    seen = observations(result["error"])
    assert len(seen) == 1, result["error"]
    summary = json.loads(run.summary_path.read_text())
    (profile,) = summary["profiles"]
    assert "error" in profile  # the payload raised while the profile's predictions were asked for
    seen += observations(profile["error"])
    assert len(seen) == 2
    for obs in seen:
        _assert_contained(obs, targets)
        assert obs["pid"] != os.getpid()  # the process that holds the token never unpickled
    assert seen[1]["ppid"] == os.getpid()  # the profile's predictions came from a worker of this process
    if CAN_CONFINE:
        assert not Path(tmp_path / "spy.jsonl").exists()
        assert not any(Path(t).exists() for t in targets[1:])
    assert json.loads((out / "t" / "m" / "performance.json").read_text())["status"] == "error"


@pytest.mark.slow
def test_a_working_payload_cannot_touch_results_and_the_model_is_judged_as_usual(tmp_path, secrets_env) -> None:
    root, spec, out, model, targets = _repo(tmp_path, raise_=False)
    run = run_validation(root, [_task(spec)], out, jobs=1, timeout_s=120)
    (result,) = run.results
    assert result["status"] == "pass", result
    ev = classification_data(200, 2)
    expected = float(np.mean(model.predict(ev[FEATURES].to_numpy()) == ev["y"].to_numpy()))
    accuracy = next(m for m in result["metrics"] if m["name"] == "accuracy")
    assert accuracy["value"] == pytest.approx(expected)
    if CAN_CONFINE:
        assert not Path(tmp_path / "spy.jsonl").exists()
        assert not any(Path(t).exists() for t in targets[1:])
    assert json.loads((out / "t" / "m" / "performance.json").read_text()) == result
    summary = json.loads(run.summary_path.read_text())
    assert "error" not in summary["profiles"][0], summary["profiles"]


@pytest.mark.slow
def test_govops_validate_with_a_token_in_the_environment(tmp_path) -> None:
    root, _, out, _, targets = _repo(tmp_path, raise_=True, tier="low")
    config = (PROJECT / "govops.yaml").read_text()
    (root / "govops.yaml").write_text(config.replace(
        "tenants:\n", "tenants:\n  t:\n    paths: [specs/t/]\n    owners: [someone]\n    approvers: [lead]\n", 1))
    env = {**os.environ, **SECRETS}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "-C", str(root), "validate", "--model", "t/m",
                             "--out", str(out), "--format", "json"], cwd=PROJECT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr
    doc = json.loads(stdout)
    summary = json.loads((out / "summary.json").read_text())
    seen = [o for r in doc["results_full"] for o in observations(r.get("error") or "")]
    seen += [o for p in summary["profiles"] for o in observations(p.get("error", ""))]
    assert len(seen) == 2, stdout  # the performance check (data_quality never loads the model) and the profile
    for obs in seen:
        _assert_contained(obs, targets)
        assert obs["pid"] != proc.pid
    if CAN_CONFINE:
        assert not Path(tmp_path / "spy.jsonl").exists()


def test_worker_environment_is_an_allow_list(tmp_path) -> None:
    environ = {**SECRETS, "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": "/x", "HOME": "/root", "SLACK_WEBHOOK": "https://h",
               "GOVOPS_CACHE_DIR": "/c", "SSH_AUTH_SOCK": "/s", "ACTIONS_RUNTIME_TOKEN": "t"}
    assert worker_env(environ, tmp_path) == {
        "PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}


class Sleeper:
    """A model whose predict never returns in time."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        time.sleep(60)
        return np.zeros(len(x))


@pytest.mark.slow
def test_a_call_over_the_time_limit_stops_the_worker(tmp_path) -> None:
    import io

    import joblib

    buf = io.BytesIO()
    joblib.dump(Sleeper(), buf)
    model = RemoteModel(buf.getvalue(), "joblib", "sleeper.joblib")
    model._proc.timeout_s = 3  # loading may take longer on a busy machine; the call may not
    # the worker said how it confined itself before it read the artifact
    assert set(model.sandbox) == {"uid", "landlock", "capabilities_dropped"}
    if model.sandbox["landlock"] or model.sandbox["uid"] != os.getuid():
        assert confined(model.sandbox)
    if os.geteuid() == 0 and model.sandbox["uid"] == 0:
        assert model.sandbox["capabilities_dropped"] is True
    pid = model._proc.proc.pid
    with pytest.raises(ModelWorkerError, match="did not answer within 3 s"):
        model.predict(np.zeros((2, 2)))
    assert not alive(pid)


@pytest.mark.slow
def test_the_worker_dies_with_its_parent(tmp_path) -> None:
    import joblib

    path = tmp_path / "m.joblib"
    joblib.dump(LogisticRegression().fit(np.eye(2), [0, 1]), path)
    script = textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = [{str(PROJECT)!r}, {str(PROJECT / 'tests')!r}]
        from runners.model_worker import RemoteModel
        m = RemoteModel(open({str(path)!r}, "rb").read(), "joblib")
        print(m._proc.proc.pid, flush=True)
        os._exit(0)
    """)
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the killed parent cannot remove the worker's folder
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    pid = int(res.stdout.split()[0])
    deadline = time.monotonic() + 20
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the prediction worker outlived the process that started it"


@pytest.mark.slow
def test_skops_artifacts_load_with_trusted_types_only(tmp_path) -> None:
    import skops.io as sio

    from runners.runner import run_check

    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    root, spec = write_repo(tmp_path / "repo", ref, ev, {"2.0.0": model})
    art = root / "artifacts" / "models" / "2.0.0" / "model.skops"
    art.write_bytes(sio.dumps(model))
    doc = json.loads((root / spec).read_text())
    doc["spec"]["versions"][0]["artifact"] = {"uri": "artifacts/models/2.0.0/model.skops", "sha256": sha(art),
                                              "format": "skops"}
    (root / spec).write_text(json.dumps(doc))
    result = run_check(root, "performance", spec_file=spec, thresholds={"min_accuracy": 0.5})
    assert result.status == "pass", result.error
    expected = float(np.mean(model.predict(ev[FEATURES].to_numpy()) == ev["y"].to_numpy()))
    assert next(m for m in result.metrics if m.name == "accuracy").value == pytest.approx(expected)

    from tests.helpers.runner_helpers import JitteryClassifier  # a type skops does not trust

    art.write_bytes(sio.dumps(JitteryClassifier()))
    doc["spec"]["versions"][0]["artifact"]["sha256"] = sha(art)
    (root / spec).write_text(json.dumps(doc))
    refused = run_check(root, "performance", spec_file=spec, thresholds={"min_accuracy": 0.5})
    assert refused.status == "error"
    assert "types that are not trusted: tests.helpers.runner_helpers.JitteryClassifier" in (refused.error or "")


# --- the split workflow: a reporting run that takes validators' verdicts as data ------------------
from engine.cli import main  # noqa: E402
from tests.helpers.fake_github import FakeGitHub, review  # noqa: E402
from tests.report.test_pr_check import RUN_URL, actions_env, pr_repo, tighten_wine  # noqa: E402


@pytest.fixture()
def gh():
    with FakeGitHub() as server:
        yield server


def _report_side(tmp_path: Path, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, list[Any]]:
    """A PR tightening wine-cultivar's accuracy; the reporting job's checkout holds the *base*."""
    from engine.change.gitread import plan_between
    from engine.spec.workspace import load_config
    from engine.validation.dag import build_plan_dag

    repo, base, head = pr_repo(tmp_path, tighten_wine("0.8"))
    repo.git("checkout", "-q", "main")  # the head is only Git objects here, never a working tree
    actions_env(monkeypatch, tmp_path, gh, base, head, author="ivan.ds")
    gh.reviews[7] = [review("jo.lead", "APPROVED", "2026-11-20T11:00:00Z", commit=head)]
    config, _, _ = load_config(repo.path)
    tasks = build_plan_dag(plan_between(repo.path, base, head), config)
    assert [(t.model, t.check) for t in tasks] == [("beverages/wine-cultivar", "performance"),
                                                   ("beverages/wine-cultivar", "data_quality")]
    return repo, head, tasks


def _doc(task: ValidationTask, **extra: Any) -> dict[str, Any]:
    metrics = [{"name": k, "value": 0.99 if k.startswith("min_") else 0.0, "threshold": v,
                "op": ">=" if k.startswith("min_") else "<=", "passed": True, "scope": "overall", "gate": True,
                "note": None, "applicable": True} for k, v in task.thresholds.items()]
    return {"check": task.check, "model": task.model, "version": task.version, "champion": task.champion,
            "status": "pass", "summary": f"{task.check} passed", "metrics": metrics, "inputs": [],
            "thresholds": dict(task.thresholds), "details": {}, "error": None, **extra}


def _write(results: Path, task: ValidationTask, doc: dict[str, Any] | str) -> Path:
    path = results / task.model / f"{task.check}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _forge(kind: str, results: Path, task: ValidationTask) -> None:
    if kind == "other version":
        _write(results, task, _doc(task, version="0.0.1"))
    elif kind == "looser thresholds":
        loose = {k: (0.0 if k.startswith("min_") else 1.0) for k in task.thresholds}
        _write(results, task, _doc(task, thresholds=loose))
    elif kind == "pass contradicted":
        doc = _doc(task)
        doc["metrics"][0]["passed"] = False
        _write(results, task, doc)
    elif kind == "duplicate keys":
        _write(results, task, json.dumps(_doc(task))[:-1] + ', "status": "pass"}')
    elif kind == "pass without metrics":
        doc = _doc(task)
        doc["metrics"] = []
        _write(results, task, doc)
    elif kind == "symlink":
        real = _write(results.parent / "elsewhere", task, _doc(task))
        link = results / task.model / f"{task.check}.json"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(real)
    elif kind == "missing":
        pass


@pytest.mark.parametrize(("kind", "why"), [
    ("other version", "is about something else (version='0.0.1')"),
    ("looser thresholds", "against other thresholds: min_accuracy=0.0 (expected 0.8)"),
    ("pass contradicted", "says pass, but its own gating metrics do not"),
    ("duplicate keys", "is not readable JSON: duplicate key 'status'"),
    ("pass without metrics", "says pass without one metric judged against a threshold"),
    ("symlink", "is not a regular file"),
    ("missing", "handed over no result"),
])
@pytest.mark.slow
def test_reporting_run_takes_only_verdicts_it_can_match(tmp_path, gh, monkeypatch, capsys, kind, why) -> None:
    repo, head, tasks = _report_side(tmp_path, gh, monkeypatch)
    results = tmp_path / "govops-results" / "validation"
    perf, quality = tasks
    _forge(kind, results, perf)
    _write(results, quality, _doc(quality, url="https://evil.example/phish"))
    _write(results, ValidationTask("beverages/other", "bias", "specs/x.yaml", "1.0.0", None, {}),
           _doc(quality))  # an extra result: no task asks for it, so it changes nothing
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results), "--out", str(tmp_path / "o")])
    capsys.readouterr()
    assert rc == 1
    final = gh.statuses()[2:]
    assert [(s["context"], s["state"]) for s in final] == [
        ("govops/policy", "success"),
        ("govops/beverages/wine-cultivar/performance", "error"),
        ("govops/beverages/wine-cultivar/data_quality", "success"),
        ("govops/validation", "failure"),
    ]
    doc = json.loads((tmp_path / "o" / "pr-check.json").read_text())
    handed = {r["check"]: r for r in doc["validation"]["results"]}
    assert why in handed["performance"]["error"]
    assert "url" not in handed["data_quality"]
    assert all(s["target_url"] == RUN_URL for s in gh.statuses())  # never a link from the results
    assert {r.path for r in gh.without_checks_and_comments() if r.method == "POST"} == {
        f"/repos/acme/models/statuses/{head}"}
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_validation_results_and_no_validate_are_refused_together(tmp_path, gh, monkeypatch, capsys) -> None:
    repo, _, _ = _report_side(tmp_path, gh, monkeypatch)
    assert main(["-C", str(repo.path), "pr-check", "--no-validate", "--validation-results", str(tmp_path)]) == 2
    assert "contradict" in capsys.readouterr().err


@pytest.mark.slow
def test_split_jobs_end_to_end(tmp_path, gh, monkeypatch, capsys) -> None:
    """The validation job (head checked out, no token) hands over; the reporting job (base) posts."""
    repo, head, _ = _report_side(tmp_path, gh, monkeypatch)
    job = tmp_path / "validation-job"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(job)], check=True)
    subprocess.run(["git", "-C", str(job), "checkout", "-q", head], check=True)
    results = tmp_path / "govops-results" / "validation"
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN" and not k.startswith("GOVOPS_")}
    base = repo.git("rev-parse", "main")
    p = subprocess.run([sys.executable, "-m", "engine.cli", "-C", str(job), "validate", "--base", base,
                        "--head", head, "--out", str(results)], cwd=PROJECT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    rc = main(["-C", str(repo.path), "pr-check", "--validation-results", str(results)])
    capsys.readouterr()
    assert rc == 0
    assert [(s["context"], s["state"]) for s in gh.statuses()[2:]] == [
        ("govops/policy", "success"),
        ("govops/beverages/wine-cultivar/performance", "success"),
        ("govops/beverages/wine-cultivar/data_quality", "success"),
        ("govops/validation", "success"),
    ]
