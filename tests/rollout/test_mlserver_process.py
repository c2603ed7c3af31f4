"""engine.mlserver: model-settings documents, the MLServer process and its REST client (real MLServer)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from engine.cli import main
from engine.mlserver.client import MLServerError
from engine.mlserver.process import (
    MLServerProcess,
    PortInUseError,
    is_mlserver_pid,
    port_in_use,
    startup_errors,
)
from engine.mlserver.settings import mlserver_name, model_id_of, model_settings

PROJECT = Path(__file__).resolve().parents[2]
IRIS = PROJECT / "artifacts/models/lab/iris-species"
IRIS_EVAL = PROJECT / "artifacts/data/iris/evaluation.csv"


def test_model_settings_document():
    doc = model_settings("lab--iris", "1.0.0", "model.joblib", "mlserver_sklearn.SKLearnModel")
    assert doc == {
        "name": "lab--iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "model.joblib", "version": "1.0.0"},
    }
    batched = model_settings("m", "2", "x.joblib", "a.B", parallel_workers=2, max_batch_size=8, max_batch_time_ms=50)
    assert batched["max_batch_size"] == 8
    assert batched["max_batch_time"] == pytest.approx(0.05)  # MLServer takes seconds
    assert batched["parallel_workers"] == 2
    with pytest.raises(ValueError):
        model_settings("bad/name", "1", "x", "a.B")


def test_mlserver_name_round_trip():
    assert mlserver_name("lab/iris-species") == "lab--iris-species"
    assert model_id_of("lab--iris-species") == "lab/iris-species"


def test_port_in_use_is_refused_before_start(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_in_use(port)
        with pytest.raises(PortInUseError, match=f"http port {port} on 127.0.0.1 is already in use"):
            MLServerProcess(tmp_path, http_port=port).start()


def test_serve_refuses_a_port_in_use(tmp_path, monkeypatch, capsys):
    (tmp_path / "govops.yaml").write_text((PROJECT / "govops.yaml").read_text())
    monkeypatch.setenv("GOVOPS_SERVING_DIR", str(tmp_path / "serving"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["-C", str(tmp_path), "serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"http port {port}" in err and "already in use" in err
    assert not (tmp_path / "serving" / "server.json").exists()


def _write_repo(repo: Path) -> None:
    for version in ("1.0.0", "1.1.0"):
        folder = repo / "lab--iris" / version
        folder.mkdir(parents=True)
        (folder / "model.joblib").write_bytes((IRIS / version / "model.joblib").read_bytes())
        doc = model_settings("lab--iris", version, "model.joblib", "mlserver_sklearn.SKLearnModel")
        (folder / "model-settings.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repo = tmp_path_factory.mktemp("mlrepo")
    _write_repo(repo)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSERVER_HTTP_PORT", "1")  # must not leak into the isolated environment
        proc = MLServerProcess(repo)
        proc.start()
    yield proc
    proc.stop()


@pytest.mark.slow
def test_every_version_is_ready_and_predicts_like_sklearn(server):
    assert server.http_port != 1
    assert server.url == f"http://127.0.0.1:{server.http_port}"
    features = [c for c in pd.read_csv(IRIS_EVAL).columns if c != "species"]
    rows = pd.read_csv(IRIS_EVAL)[features].to_numpy(dtype=float)[:7]
    for version in ("1.0.0", "1.1.0"):
        assert server.is_ready("lab--iris", version)
        est = joblib.load(IRIS / version / "model.joblib")
        assert server.infer("lab--iris", version, rows).ravel().tolist() == est.predict(rows).tolist()
        proba = server.infer("lab--iris", version, rows, output="predict_proba")
        np.testing.assert_allclose(proba, est.predict_proba(rows), rtol=1e-12)
    assert not server.is_ready("lab--iris", "9.9.9")
    assert server.log_file is not None and "lab--iris" in server.log_file.read_text()


@pytest.mark.slow
def test_repository_api_unloads_one_version_and_reloads(server):
    repo = server.repo_dir
    moved = repo.parent / "parked-1.1.0"
    (repo / "lab--iris" / "1.1.0").rename(moved)
    try:
        server.load("lab--iris")  # versions no longer in the repository are unloaded
        assert server.is_ready("lab--iris", "1.0.0")
        assert not server.is_ready("lab--iris", "1.1.0")
    finally:
        moved.rename(repo / "lab--iris" / "1.1.0")
    server.load("lab--iris")
    assert server.is_ready("lab--iris", "1.1.0")
    states = {(m["name"], m.get("version")): m["state"] for m in server.client.index()}
    assert states[("lab--iris", "1.1.0")] == "READY"


@pytest.mark.slow
def test_stop_kills_the_process_group(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    proc = MLServerProcess(repo, load_models_at_startup=False)
    with proc:
        pid = proc.pid
        assert pid is not None and is_mlserver_pid(pid)
        assert proc.client.server_ready()
    assert not is_mlserver_pid(pid)
    out = subprocess.run(["ps", "-o", "pid=", "-g", str(pid)], capture_output=True, text=True)
    assert out.stdout.strip() == ""


@pytest.mark.slow
def test_a_server_that_dies_at_start_is_reported_with_its_log(tmp_path):
    repo = tmp_path / "repo"
    folder = repo / "broken" / "1"
    folder.mkdir(parents=True)
    (folder / "model-settings.json").write_text(
        json.dumps({"name": "broken", "implementation": "no_such_module.Model", "parameters": {"version": "1"}})
    )
    proc = MLServerProcess(repo, startup_timeout_s=60)
    # MLServer 1.7 exits (code 0) when a model fails at start-up: the error leads with the
    # cause, however much the server logged while shutting down after it
    with pytest.raises(MLServerError) as caught:
        proc.start()
    head, _, tail = str(caught.value).partition("\nlog ")
    assert head.startswith("MLServer exited with code")
    assert "ModuleNotFoundError: No module named 'no_such_module'" in head
    assert "Some of the models failed to load during startup!" in head
    assert "CancelledError" not in head
    assert tail  # the log's tail follows, with the log's path
    assert not proc.running()


# What MLServer 1.7 logged in CI when a model failed to load: the cause came first, then
# more than twenty lines of shutdown, ending in uvicorn's own CancelledError traceback.
_FAILED_START_LOG = """\
2026-12-01 15:21:45,700 [mlserver.rest] INFO - HTTP server running on http://127.0.0.1:41787
2026-12-01 15:21:45,710 [mlserver] ERROR - Some of the models failed to load during startup!
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/mlserver/settings.py", line 65, in _reload_module
    module = importlib.import_module(module_path)
  File "<frozen importlib._bootstrap>", line 1140, in _find_and_load_unlocked
ModuleNotFoundError: No module named 'no_such_module'
2026-12-01 15:21:45,711 [mlserver.grpc] INFO - Waiting for gRPC server shutdown
INFO:     Finished server process [28875]
ERROR:    Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/starlette/routing.py", line 699, in lifespan
    await receive()
asyncio.exceptions.CancelledError
ERROR:    Address already in use
"""


def test_startup_errors_are_the_cause_not_the_shutdown():
    assert startup_errors(_FAILED_START_LOG) == [
        "Some of the models failed to load during startup!",
        "ModuleNotFoundError: No module named 'no_such_module'",
        "Address already in use",
    ]
    assert startup_errors(_FAILED_START_LOG, limit=1) == ["Some of the models failed to load during startup!"]
    assert startup_errors("INFO:     Started server process [1]\n") == []


@pytest.mark.slow
def test_name_folder_repository_reads_only_the_named_folder(tmp_path):
    repo = tmp_path / "repo"
    _write_repo(repo)
    broken = repo / "other--model" / "1"
    broken.mkdir(parents=True)
    (broken / "model-settings.json").write_text("{not json")
    log = tmp_path / "mlserver.log"
    with MLServerProcess(repo, load_models_at_startup=False, log_file=log,
                         repository_implementation="engine.mlserver.repository.NameFolderRepository") as proc:
        proc.load("lab--iris")
        assert proc.is_ready("lab--iris", "1.0.0") and proc.is_ready("lab--iris", "1.1.0")
        proc.load("lab--iris")
    # MLServer's default repository parses every model-settings.json on each load and logs the broken one
    assert "other--model" not in log.read_text()
