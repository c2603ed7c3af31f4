"""govops rollout --target local against a real MLServer: health-gated, idempotent, recoverable.

One MLServer serves the whole module (started by the first rollout, stopped at the end);
every test starts from the same baseline commit and rolls it out first.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
import requests

from engine.audit.ledger import read_ledger
from engine.cli import main
from engine.mlserver.client import MLServerClient
from engine.mlserver.local_serving import ServingPaths, read_server
from engine.rollout.desired import load_desired
from engine.rollout.serving import stop_server
from engine.rollout.targets.local import LocalTarget
from tests.helpers.rollout_repo import PROJECT, add_version, commit, git, make_repo, set_deployment

pytestmark = pytest.mark.slow

IRIS = "lab/iris-species"
WINE = "beverages/wine-cultivar"
BASE_IRIS = (
    "    environment: production\n    champion: 1.0.0\n    challengers:\n"
    "      - {version: 1.1.0, mode: canary, weight: 20}\n"
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = make_repo(tmp_path_factory.mktemp("gitops") / "repo")
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: undone when the module's tests are done
        mp.setenv("GOVOPS_ROLLOUT_DRAIN_S", "0.2")
        yield root
        stop_server(ServingPaths.for_repo(root))


@pytest.fixture(scope="module")
def broken_model(tmp_path_factory):
    """A real sklearn pipeline that loads fine but whose predict fails on the iris smoke rows (3 of 4 features)."""
    from sklearn.linear_model import LogisticRegression

    ref = pd.read_csv(PROJECT / "artifacts/data/iris/reference.csv")
    est = LogisticRegression(max_iter=500).fit(ref.iloc[:, :3].to_numpy(), ref["species"].to_numpy())
    path = tmp_path_factory.mktemp("broken") / "model.joblib"
    joblib.dump(est, path)
    return path


def rollout(repo: Path, *args: str) -> int:
    return main(["-C", str(repo), "rollout", *args])


def status(repo: Path) -> dict:
    return LocalTarget(repo).status()


def serving(repo: Path) -> dict[tuple[str, str], dict]:
    return {(v["model"], v["version"]): v for v in status(repo)["versions"]}


@pytest.fixture
def baseline(repo, capsys):
    """Reset the repository to the baseline specs and make sure they serve."""
    git(repo, "checkout", "-q", "--", ".")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    git(repo, "checkout", "-q", first, "--", "specs")
    git(repo, "clean", "-qfd", "--", "specs", "artifacts")
    commit(repo, "baseline")
    assert rollout(repo) == 0, capsys.readouterr().err
    capsys.readouterr()
    return repo


def test_rollout_serves_every_version_with_roles_urls_and_smoke_checked(baseline, capsys):
    doc = status(baseline)
    assert doc["server"]["running"] and doc["gateway_url"] is None
    got = {(v["model"], v["version"]): (v["role"], v["weight"], v["ready"]) for v in doc["versions"]}
    assert got == {
        (IRIS, "1.0.0"): ("champion", None, True),
        (IRIS, "1.1.0"): ("canary", 20.0, True),
        (WINE, "1.0.0"): ("champion", None, True),
    }
    iris = serving(baseline)[(IRIS, "1.1.0")]
    assert iris["url"].endswith("/v2/models/lab--iris-species/versions/1.1.0")
    rows = pd.read_csv(baseline / "artifacts/data/iris/evaluation.csv").drop(columns=["species"]).to_numpy()[:3]
    body = {"inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]}
    r = requests.post(iris["url"] + "/infer", json=body, timeout=10)
    assert r.status_code == 200 and r.json()["model_version"] == "1.1.0"
    # one model-settings.json per version, artifact verified and copied in
    repo_dir = ServingPaths.for_repo(baseline).repository
    settings = json.loads((repo_dir / "lab--iris-species/1.1.0/model-settings.json").read_text())
    assert settings["parameters"] == {"uri": "model.joblib", "version": "1.1.0"}
    assert main(["-C", str(baseline), "status", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["versions"][0]["model"] == WINE


def test_second_rollout_changes_nothing(baseline, capsys):
    paths = ServingPaths.for_repo(baseline)
    before = {p: p.stat().st_mtime_ns for p in paths.repository.rglob("*")}
    state_before = paths.state.read_text()
    notes_before = len(read_ledger(baseline))
    assert rollout(baseline) == 0
    out = capsys.readouterr().out
    assert "in sync: 2 model(s)" in out and "load" not in out
    assert {p: p.stat().st_mtime_ns for p in paths.repository.rglob("*")} == before
    assert paths.state.read_text() == state_before
    assert len(read_ledger(baseline)) == notes_before


def test_champion_switch_under_load_has_zero_failed_requests(baseline, capsys, monkeypatch):
    monkeypatch.setenv("GOVOPS_ROLLOUT_DRAIN_S", "1.0")  # back to the module's 0.2 after this test
    paths = ServingPaths.for_repo(baseline)
    url = read_server(paths).url
    rows = pd.read_csv(baseline / "artifacts/data/iris/evaluation.csv").drop(columns=["species"]).to_numpy()[:2]
    body = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]}
    stop = threading.Event()
    results: list[tuple[str, int]] = []

    def client() -> None:  # resolves the champion from the rollout state on every request, as a gateway does
        session = requests.Session()
        while not stop.is_set():
            state = json.loads(paths.state.read_text())
            roles = state["models"][IRIS]["versions"]
            champion = next(v for v, r in roles.items() if r["role"] == "champion")
            r = session.post(f"{url}/v2/models/lab--iris-species/versions/{champion}/infer", json=body, timeout=10)
            results.append((champion, r.status_code))

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        set_deployment(baseline, IRIS, "    environment: production\n    champion: 1.1.0\n")
        commit(baseline, "promote 1.1.0")
        assert rollout(baseline) == 0, capsys.readouterr().err
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    failed = [r for r in results if r[1] != 200]
    assert len(results) > 20 and failed == []
    assert {c for c, _ in results} == {"1.0.0", "1.1.0"}
    assert not MLServerClient(url).is_ready("lab--iris-species", "1.0.0")  # the old champion was retired


def test_removed_spec_is_unloaded_only_after_the_others_are_healthy(baseline, capsys):
    add_version(baseline, IRIS, "1.2.0", baseline / "artifacts/models/lab/iris-species/1.1.0/model.joblib")
    set_deployment(baseline, IRIS, BASE_IRIS.replace("1.1.0", "1.2.0"))
    git(baseline, "rm", "-q", "specs/beverages/wine-cultivar.yaml")
    sha = commit(baseline, "drop wine, canary 1.2.0")
    assert rollout(baseline) == 0, capsys.readouterr().err
    [entry] = read_ledger(baseline, sha)
    steps = entry.records[-1]["steps"]
    order = [(s["step"], s["model"], s["version"]) for s in steps if s["step"] in ("check", "commit", "unload")]
    assert order.index(("check", IRIS, "1.2.0")) < order.index(("unload", WINE, "1.0.0"))
    assert order.index(("commit", "", "")) < order.index(("unload", WINE, "1.0.0"))
    assert set(serving(baseline)) == {(IRIS, "1.0.0"), (IRIS, "1.2.0")}
    assert not MLServerClient(status(baseline)["server"]["url"]).is_ready("beverages--wine-cultivar", "1.0.0")


def _assert_baseline_serving(repo: Path) -> None:
    got = {k: v["ready"] for k, v in serving(repo).items()}
    assert got == {(IRIS, "1.0.0"): True, (IRIS, "1.1.0"): True, (WINE, "1.0.0"): True}


def test_failing_version_is_unloaded_and_a_removed_model_keeps_serving(baseline, broken_model, capsys):
    add_version(baseline, IRIS, "1.2.0", broken_model)
    set_deployment(baseline, IRIS, BASE_IRIS.replace("1.1.0", "1.2.0"))
    git(baseline, "rm", "-q", "specs/beverages/wine-cultivar.yaml")
    sha = commit(baseline, "broken canary")
    assert rollout(baseline) == 1
    err = capsys.readouterr().err
    assert "lab/iris-species 1.2.0: smoke inference failed" in err and "features" in err
    assert "previous state keeps serving" in err
    _assert_baseline_serving(baseline)  # wine was not unloaded, 1.1.0 still canary, 1.2.0 gone
    url = status(baseline)["server"]["url"]
    assert not MLServerClient(url).is_ready("lab--iris-species", "1.2.0")
    assert not (ServingPaths.for_repo(baseline).repository / "lab--iris-species/1.2.0").exists()
    record = read_ledger(baseline, sha)[0].records[-1]
    assert record["outcome"] == "failed" and "1.2.0" in record["message"]
    assert [h["ok"] for h in record["health"]] == [False]


def test_digest_mismatch_is_refused_before_load(baseline, capsys):
    add_version(baseline, IRIS, "1.2.0", baseline / "artifacts/models/lab/iris-species/1.1.0/model.joblib")
    spec = baseline / "specs/lab/iris-species.yaml"
    (baseline / "artifacts/models/lab/iris-species/1.2.0/model.joblib").write_bytes(b"tampered")
    set_deployment(baseline, IRIS, BASE_IRIS.replace("1.1.0", "1.2.0"))
    sha = commit(baseline, "tampered artifact")
    assert rollout(baseline) == 1
    err = capsys.readouterr().err
    assert "lab/iris-species 1.2.0" in err and "the spec pins" in err and "refused before load" in err
    steps = read_ledger(baseline, sha)[0].records[-1]["steps"]
    assert not [s for s in steps if s["step"] in ("load", "check")]
    _assert_baseline_serving(baseline)
    assert spec.exists()


def test_missing_artifact_is_refused_before_load(baseline, capsys):
    add_version(baseline, IRIS, "1.2.0", baseline / "artifacts/models/lab/iris-species/1.1.0/model.joblib")
    (baseline / "artifacts/models/lab/iris-species/1.2.0/model.joblib").unlink()
    set_deployment(baseline, IRIS, BASE_IRIS.replace("1.1.0", "1.2.0"))
    commit(baseline, "missing artifact")
    assert rollout(baseline) == 1
    assert "lab/iris-species 1.2.0: artifact artifacts/models/lab/iris-species/1.2.0/model.joblib is missing" in (
        capsys.readouterr().err
    )
    _assert_baseline_serving(baseline)


def test_disk_full_while_materialising_leaves_the_previous_state(baseline, capsys, monkeypatch):
    import engine.rollout.materialise as materialise

    def full(src, dst):
        Path(dst).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(materialise, "copy_file", full)
    add_version(baseline, IRIS, "1.2.0", baseline / "artifacts/models/lab/iris-species/1.1.0/model.joblib")
    set_deployment(baseline, IRIS, BASE_IRIS.replace("1.1.0", "1.2.0"))
    commit(baseline, "disk full")
    assert rollout(baseline) == 1
    assert "No space left on device" in capsys.readouterr().err
    paths = ServingPaths.for_repo(baseline)
    assert list(paths.staging.iterdir()) == [] and not paths.journal.exists()
    _assert_baseline_serving(baseline)


def test_mlserver_killed_during_rollout_then_next_rollout_converges(baseline, capsys):
    add_version(baseline, IRIS, "1.2.0", baseline / "artifacts/models/lab/iris-species/1.1.0/model.joblib")
    set_deployment(baseline, IRIS, BASE_IRIS.replace("1.1.0", "1.2.0"))
    commit(baseline, "canary 1.2.0")
    paths = ServingPaths.for_repo(baseline)

    def kill_server(phase: str) -> None:
        if phase == "materialised":
            os.killpg(os.getpgid(read_server(paths).pid), signal.SIGKILL)
            time.sleep(0.2)

    target = LocalTarget(baseline, on_phase=kill_server)
    desired = load_desired(baseline, "HEAD")
    with target.session():
        live = target.live(desired)
        _, changes = target.diff(desired, live)
        result = target.apply(desired, live, changes)
    assert result.outcome == "failed"
    assert "unreachable" in result.message and "is not running" in result.message
    assert not (paths.repository / "lab--iris-species/1.2.0").exists()  # restored to the previous state
    assert not paths.journal.exists()
    assert rollout(baseline) == 0, capsys.readouterr().err
    assert "started MLServer" in capsys.readouterr().err
    got = {k: (v["role"], v["ready"]) for k, v in serving(baseline).items()}
    assert got == {(IRIS, "1.0.0"): ("champion", True), (IRIS, "1.2.0"): ("canary", True),
                   (WINE, "1.0.0"): ("champion", True)}


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from engine.rollout.desired import load_desired
from engine.rollout.targets.local import LocalTarget
root, phase = Path(sys.argv[1]), sys.argv[2]
def hook(p):
    if p == phase:
        os.kill(os.getpid(), signal.SIGKILL)
target = LocalTarget(root, on_phase=hook, drain_s=0)
desired = load_desired(root, "HEAD")
with target.session():
    live = target.live(desired)
    target.apply(desired, live, target.diff(desired, live)[1])
"""


@pytest.mark.parametrize(("phase", "verb"), [("checked", "undid"), ("committed", "completed")])
def test_rollout_killed_half_way_is_undone_or_completed_by_the_next(baseline, capsys, phase, verb):
    add_version(baseline, IRIS, "1.2.0", baseline / "artifacts/models/lab/iris-species/1.1.0/model.joblib")
    set_deployment(baseline, IRIS, "    environment: production\n    champion: 1.2.0\n")
    commit(baseline, f"promote 1.2.0 ({phase})")
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(baseline), phase], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    paths = ServingPaths.for_repo(baseline)
    journal = json.loads(paths.journal.read_text())
    assert journal["phase"] == ("committed" if phase == "committed" else "staging")
    assert rollout(baseline) == 0
    captured = capsys.readouterr()
    assert f"recovered: {verb} the interrupted rollout {journal['id']}" in captured.err
    assert not paths.journal.exists()
    assert list(paths.staging.iterdir()) == []  # the killed run's staged copies are gone too
    got = {k: (v["role"], v["ready"]) for k, v in serving(baseline).items()}
    assert got == {(IRIS, "1.2.0"): ("champion", True), (WINE, "1.0.0"): ("champion", True)}
    url = status(baseline)["server"]["url"]
    assert not MLServerClient(url).is_ready("lab--iris-species", "1.0.0")


def test_a_second_rollout_is_refused_while_one_holds_the_lock(baseline, capsys):
    paths = ServingPaths.for_repo(baseline)
    fd = os.open(paths.lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(fd, b"424242 0\n", 0)
        assert rollout(baseline) == 1
        err = capsys.readouterr().err
        assert "another rollout is running (holder pid 424242)" in err and "rollout.lock" in err
    finally:
        os.close(fd)


def test_ledger_records_evidence_and_dry_run_changes_nothing(baseline, capsys, tmp_path):
    evidence = tmp_path / "pr-check"
    (evidence / "lab" / "iris-species").mkdir(parents=True)
    (evidence / "lab" / "iris-species" / "performance.json").write_text(json.dumps(
        {"check": "performance", "model": IRIS, "version": "1.1.0", "status": "pass", "summary": "accuracy ok",
         "metrics": [{"name": "accuracy", "value": 0.95, "threshold": 0.8, "op": ">=", "passed": True}],
         "inputs": []}))
    (evidence / "decisions.json").write_text(json.dumps(
        {"decisions": [{"decision_id": "d-1", "path": "govops/main", "result": {"deny": []}}]}))
    set_deployment(baseline, IRIS, "    environment: production\n    champion: 1.1.0\n    failover: 1.0.0\n")
    sha = commit(baseline, "promote with failover")
    assert rollout(baseline, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "~ route   lab/iris-species 1.1.0 (champion) — was canary 20%" in out
    assert serving(baseline)[(IRIS, "1.1.0")]["role"] == "canary"  # dry run: nothing moved
    assert rollout(baseline, "--evidence", str(evidence)) == 0
    capsys.readouterr()
    assert serving(baseline)[(IRIS, "1.0.0")]["role"] == "failover"
    assert main(["-C", str(baseline), "ledger", "show", sha, "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    [record] = entry["records"]
    assert record["commit"] == sha and record["outcome"] == "succeeded"
    assert record["digest"] == load_desired(baseline, sha).digest
    assert {(c["action"], c["version"], c["role"]) for c in record["changes"]} == {
        ("route", "1.1.0", "champion"), ("route", "1.0.0", "failover")}
    assert record["evidence"]["validation"][0]["check"] == "performance"
    assert record["evidence"]["policy_decisions"][0]["decision_id"] == "d-1"
    assert set(record["evidence"]["files"]) == {"decisions.json", "lab/iris-species/performance.json"}


def test_stop_then_serve_brings_the_rolled_out_versions_back(baseline, capsys):
    assert main(["-C", str(baseline), "stop"]) == 0
    assert "stopped MLServer" in capsys.readouterr().out
    doc = status(baseline)
    assert doc["server"]["running"] is False and all(v["ready"] is False for v in doc["versions"])
    assert main(["-C", str(baseline), "serve"]) == 0
    assert "MLServer started at http://127.0.0.1:" in capsys.readouterr().out
    assert main(["-C", str(baseline), "serve"]) == 0
    assert "already running" in capsys.readouterr().out
    _assert_baseline_serving(baseline)
    assert rollout(baseline) == 0 and "in sync" in capsys.readouterr().out
