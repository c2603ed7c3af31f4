"""The gateway in front of a real MLServer: routing, faults, limits, auth, log, metrics, CLI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import requests

from engine.gateway.app import GatewayConfig, build_gateway
from engine.gateway.auth import KeyStore, key_id
from engine.gateway.predlog import PredictionLog, join_feedback, read_feedback, read_window
from engine.gateway.routing import table_from_data
from engine.mlserver.local_serving import notify_reload
from engine.mlserver.process import MLServerProcess
from tests.helpers.gateway_helpers import (
    CLINICAL_KEY,
    FEATURES,
    IRIS,
    LAB_KEY,
    PROJECT,
    ROWS,
    HangingServer,
    build_repo,
    dead_url,
    fire,
    serve_in_thread,
    table_doc,
    v2_body,
)

pytestmark = pytest.mark.slow
LAB = {"Authorization": f"Bearer {LAB_KEY}"}
KEYS = KeyStore(entries=((LAB_KEY.encode(), "lab"), (CLINICAL_KEY.encode(), "clinical")))


@pytest.fixture(scope="module")
def mlserver(tmp_path_factory):
    repo = build_repo(tmp_path_factory.mktemp("mlrepo"))
    with MLServerProcess(repo) as ml:
        for v in ("1.0.0", "1.1.0", "0.9.0"):
            assert ml.is_ready(IRIS, v)
        yield ml


def gateway(tmp_path: Path, doc: dict | None, *, log: bool = True, **over):
    cfg = GatewayConfig(
        root=tmp_path,
        keys=over.pop("keys", KEYS),
        log=PredictionLog(tmp_path / "logs", flush_interval_s=0.2) if log else None,
        timeout_s=over.pop("timeout_s", 3.0),
        **over,
    )
    return build_gateway(cfg, table_from_data(doc) if doc is not None else None)


def infer(url: str, headers: dict | None = None, **kw) -> requests.Response:
    return requests.post(f"{url}/v2/models/{IRIS}/infer", json=kw.pop("body", v2_body()),
                         headers=headers if headers is not None else LAB, timeout=30, **kw)


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(got.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_routes_by_weight_and_answers_like_direct(mlserver, tmp_path):
    gw = gateway(tmp_path, table_doc(mlserver.url, {"1.0.0": {"role": "champion"},
                                                    "1.1.0": {"role": "canary", "weight": 50}}))
    direct = {v: mlserver.infer(IRIS, v, ROWS).ravel().tolist() for v in ("1.0.0", "1.1.0")}
    seen: Counter[str] = Counter()
    with serve_in_thread(gw) as url:
        for _ in range(40):
            r = infer(url)
            assert r.status_code == 200, r.text
            version = r.headers["X-Govops-Version"]
            assert r.headers["X-Govops-Route"] == ("champion" if version == "1.0.0" else "canary")
            assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Govops-Request-Id"])
            assert r.json()["model_version"] == version
            assert r.json()["outputs"][0]["data"] == direct[version]
            seen[version] += 1
    assert seen["1.0.0"] > 5 and seen["1.1.0"] > 5, seen


def test_sticky_key_over_http(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "1.1.0": {"role": "ab", "weight": 50}})
    gw = gateway(tmp_path, doc, log=False)
    route = table_from_data(doc).models[IRIS]
    with serve_in_thread(gw) as url:
        for k in range(12):
            key = f"customer-{k}"
            got = {infer(url, {**LAB, "X-Govops-Key": key}).headers["X-Govops-Version"] for _ in range(5)}
            assert got == {route.pick(key, 0.0).version}, key


def test_explicit_version_passes_straight_through(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": 10},
                                   "0.9.0": {"role": "failover"}})
    gw = gateway(tmp_path, doc, log=False)
    with serve_in_thread(gw) as url:
        r = requests.post(f"{url}/v2/models/{IRIS}/versions/1.1.0/infer", json=v2_body(), headers=LAB, timeout=10)
        assert r.status_code == 200 and r.json()["model_version"] == "1.1.0"
        assert r.headers["X-Govops-Route"] == "explicit" and r.headers["X-Govops-Version"] == "1.1.0"
        # only versions serving traffic: not the failover (loaded in MLServer), not an unrouted id
        for version in ("0.9.0", "7.7.7"):
            r = requests.post(f"{url}/v2/models/{IRIS}/versions/{version}/infer", json=v2_body(), headers=LAB,
                              timeout=10)
            assert r.status_code == 404 and "does not serve traffic" in r.json()["error"], version


def test_challenger_down_champion_answers(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"},
                                   "1.1.0": {"role": "canary", "weight": 100, "url": dead_url()}})
    gw = gateway(tmp_path, doc, log=False)
    with serve_in_thread(gw) as url:
        for _ in range(10):
            r = infer(url)
            assert r.status_code == 200
            assert (r.headers["X-Govops-Version"], r.headers["X-Govops-Route"]) == ("1.0.0", "champion")
        text = requests.get(f"{url}/metrics", headers=LAB, timeout=5).text
    assert metric(text, "govops_gateway_errors_total", version="1.1.0", route="canary", kind="connection") == 10
    assert metric(text, "govops_gateway_failovers_total", from_version="1.1.0", to_version="1.0.0") == 10


def test_unloaded_challenger_falls_back(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "3.0.0": {"role": "canary", "weight": 100}})
    gw = gateway(tmp_path, doc, log=False)
    with serve_in_thread(gw) as url:
        r = infer(url)
    assert r.status_code == 200 and r.headers["X-Govops-Version"] == "1.0.0"


def test_shadow_hanging_never_slows_or_fails_the_caller(mlserver, tmp_path):
    with HangingServer() as hang:
        doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"},
                                       "1.1.0": {"role": "shadow", "url": hang.url}})
        gw = gateway(tmp_path, doc, shadow_queue=4, shadow_workers=2, shadow_timeout_s=60)
        with serve_in_thread(gw) as url:
            results = asyncio.run(fire(f"{url}/v2/models/{IRIS}/infer", 200, 10, headers=LAB, body=v2_body()))
            text = requests.get(f"{url}/metrics", headers=LAB, timeout=5).text
            assert hang.accepted <= 2  # two workers, each stuck on one call
    # every caller was answered while no shadow call had finished, one way or another (each hangs for
    # 60 s): no answer waited for its shadow
    assert sum(metric(text, "govops_gateway_shadow_requests_total", outcome=o) for o in ("ok", "error", "timeout")) == 0
    assert [s for s, _, _ in results] == [200] * 200
    dropped = metric(text, "govops_gateway_shadow_dropped_total", model="lab/iris-species")
    assert dropped >= 200 - 2 - 4 - 10  # queue 4 + 2 in flight; the rest dropped (a few may be queued late)


def test_shadow_is_logged_after_the_answer(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "1.1.0": {"role": "shadow"}})
    gw = gateway(tmp_path, doc)
    with serve_in_thread(gw) as url:
        r = infer(url)
        assert r.headers["X-Govops-Version"] == "1.0.0"
        deadline = time.monotonic() + 10
        while gw.shadows.sent < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    rows = read_window(tmp_path / "logs", "lab/iris-species", 0, 2**62).to_pylist()
    by_route = Counter(r["route"] for r in rows)
    assert by_route == {"champion": 3, "shadow": 3}
    assert {row["request_id"] for row in rows} == {r.headers["X-Govops-Request-Id"]}
    shadow = [row for row in rows if row["route"] == "shadow"]
    assert [row["prediction"] for row in shadow] == mlserver.infer(IRIS, "1.1.0", ROWS).ravel().tolist()


def test_failover_answers_and_both_down_is_a_clear_503(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion", "url": dead_url()}, "0.9.0": {"role": "failover"}})
    gw = gateway(tmp_path, doc, log=False)
    with serve_in_thread(gw) as url:
        r = infer(url)
        assert r.status_code == 200
        assert (r.headers["X-Govops-Version"], r.headers["X-Govops-Route"]) == ("0.9.0", "failover")
    dead = dead_url()
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion", "url": dead},
                                   "1.1.0": {"role": "canary", "weight": 100, "url": dead},
                                   "0.9.0": {"role": "failover", "url": dead}})
    gw = gateway(tmp_path, doc, log=False)
    with serve_in_thread(gw) as url:
        r = infer(url)
    assert r.status_code == 503
    err = r.json()["error"]
    assert "no version of lab/iris-species could answer" in err
    assert "1.1.0 (canary): cannot connect" in err
    assert "1.0.0 (champion): cannot connect" in err and "0.9.0 (failover): cannot connect" in err
    assert [t["version"] for t in r.json()["tried"]] == ["1.1.0", "1.0.0", "0.9.0"]


def test_slow_champion_times_out_to_failover(mlserver, tmp_path):
    with HangingServer() as hang:
        doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion", "url": hang.url}, "0.9.0": {"role": "failover"}})
        gw = gateway(tmp_path, doc, log=False, timeout_s=0.5)
        with serve_in_thread(gw) as url:
            r = infer(url)
            assert hang.accepted == 1  # the champion was called, and never answered
    assert r.status_code == 200 and r.headers["X-Govops-Version"] == "0.9.0"
    assert r.headers["X-Govops-Route"] == "failover"


def test_weights_changed_under_load_fail_nothing(mlserver, tmp_path):
    table_file = tmp_path / "table.json"

    def write(weight: float) -> None:
        doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": weight}})
        tmp = table_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, table_file)

    write(0)
    gw = gateway(tmp_path, None, log=False, table_file=table_file, watch_s=0.05)
    with serve_in_thread(gw) as url:
        assert infer(url).headers["X-Govops-Version"] == "1.0.0"
        stop = threading.Event()
        reloads = []

        def churn() -> None:
            w = 0
            while not stop.is_set():
                w = (w + 37) % 101
                write(w)
                reloads.append(requests.post(f"{url}/-/reload", timeout=10,
                                             headers={"X-Govops-Reload-Token": gw.config.reload_token}).status_code)
                time.sleep(0.01)

        t = threading.Thread(target=churn)
        t.start()
        try:
            results = asyncio.run(fire(f"{url}/v2/models/{IRIS}/infer", 1500, 32, headers=LAB, body=v2_body()))
        finally:
            stop.set()
            t.join()
        write(100)
        requests.post(f"{url}/-/reload", headers={"X-Govops-Reload-Token": gw.config.reload_token}, timeout=10)
        after = {infer(url).headers["X-Govops-Version"] for _ in range(10)}
        bad = requests.post(f"{url}/-/reload", headers={"X-Govops-Reload-Token": "wrong"}, timeout=10)
    assert Counter(s for s, _, _ in results) == {200: 1500}
    assert {v for _, v, _ in results} == {"1.0.0", "1.1.0"}
    assert len(reloads) > 5 and set(reloads) == {200}
    assert after == {"1.1.0"}
    assert bad.status_code == 401


def test_malformed_payloads_and_content_types(mlserver, tmp_path):
    gw = gateway(tmp_path, table_doc(mlserver.url, {"1.0.0": {"role": "champion"}}), log=False)
    with serve_in_thread(gw) as url:
        endpoint = f"{url}/v2/models/{IRIS}/infer"
        r = requests.post(endpoint, data=b"{oops", headers={**LAB, "Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400 and r.json()["error"].startswith("malformed V2 inference request: body is not")
        body = v2_body()
        body["inputs"][0]["shape"] = [4, 4]
        r = requests.post(endpoint, json=body, headers=LAB, timeout=10)
        assert r.status_code == 400
        assert r.json()["error"] == ("malformed V2 inference request: inputs[0]: shape [4, 4] needs 16 elements, "
                                     "data has 12")
        r = requests.post(endpoint, data=json.dumps(v2_body()), headers={**LAB, "Content-Type": "text/plain"},
                          timeout=10)
        assert r.status_code == 415 and "application/json" in r.json()["error"]
        text = gw.metrics.render().decode()  # gateway-wide counters: the operator's view (a key sees its models)
    assert metric(text, "govops_gateway_rejected_total", reason="malformed") == 2
    assert metric(text, "govops_gateway_rejected_total", reason="content_type") == 1


def _raw_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_hundred_megabyte_payload_is_refused_without_reading_it(mlserver, tmp_path):
    gw = gateway(tmp_path, table_doc(mlserver.url, {"1.0.0": {"role": "champion"}}), log=False)
    with serve_in_thread(gw) as url:
        host, port = url.removeprefix("http://").split(":")
        head = (f"POST /v2/models/{IRIS}/infer HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {LAB_KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n").encode()
        with socket.create_connection((host, int(port))) as s:
            s.sendall(head + b"[" * 65536)  # 64 KiB of the declared 100 MiB: answered without the rest
            answer = _raw_response(s)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"over the limit of 10485760 bytes" in answer
        # chunked, no Content-Length: refused as soon as the limit is passed
        head = (f"POST /v2/models/{IRIS}/infer HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {LAB_KEY}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
        got = bytearray()
        with socket.create_connection((host, int(port))) as s:

            def read() -> None:  # read while writing: the answer comes before the upload ends
                s.settimeout(20)
                try:
                    while b"\r\n\r\n" not in got:
                        data = s.recv(65536)
                        if not data:
                            return
                        got.extend(data)
                except OSError:
                    return

            reader = threading.Thread(target=read)
            reader.start()
            s.sendall(head)
            sent = 0
            try:
                while sent < 100 and not got:
                    s.sendall(chunk)
                    sent += 1
            except OSError:
                pass
            reader.join(20)
        assert bytes(got).startswith(b"HTTP/1.1 413"), bytes(got[:200])
        assert sent < 20  # stopped near 10 MiB, not 100 MiB


def test_burst_of_a_thousand_concurrent_requests(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": 10}})
    gw = gateway(tmp_path, doc)
    with serve_in_thread(gw) as url:
        results = asyncio.run(fire(f"{url}/v2/models/{IRIS}/infer", 1000, 1000, headers=LAB, body=v2_body()))
        text = requests.get(f"{url}/metrics", headers=LAB, timeout=5).text
    assert Counter(s for s, _, _ in results) == {200: 1000}
    answered = sum(metric(text, "govops_gateway_requests_total", version=v, code="200") for v in ("1.0.0", "1.1.0"))
    assert answered == 1000


def test_auth_per_tenant(mlserver, tmp_path):
    gw = gateway(tmp_path, table_doc(mlserver.url, {"1.0.0": {"role": "champion"}}), log=False)
    with serve_in_thread(gw) as url:
        assert infer(url, {}).status_code == 401
        assert infer(url, {}).headers["WWW-Authenticate"].startswith("Bearer")
        assert infer(url, {"Authorization": "Bearer not-a-key-0123456789"}).status_code == 401
        r = infer(url, {"Authorization": f"Bearer {CLINICAL_KEY}"})
        assert r.status_code == 403 and "tenant 'clinical'" in r.json()["error"]
        assert CLINICAL_KEY not in r.text
        assert infer(url, {"X-Api-Key": LAB_KEY}).status_code == 200
        r = requests.post(f"{url}/v2/models/clinical--readmission-triage/infer", json=v2_body(), headers=LAB,
                          timeout=10)
        assert r.status_code == 403
        assert requests.get(f"{url}/v2/models/{IRIS}", timeout=10).status_code == 401
        meta = requests.get(f"{url}/v2/models/{IRIS}", headers=LAB, timeout=10)
        assert meta.status_code == 200 and meta.json()["name"] == IRIS
        assert requests.get(f"{url}/v2/models/{IRIS}/ready", headers=LAB, timeout=10).status_code == 200
        assert requests.get(f"{url}/v2/models/{IRIS}/versions/1.0.0/ready", headers=LAB, timeout=10).status_code == 200
        assert requests.get(f"{url}/v2/health/live", timeout=10).status_code == 200
        assert requests.get(f"{url}/v2/health/ready", timeout=10).status_code == 200
        r = requests.post(f"{url}/v2/models/lab--unknown/infer", json=v2_body(), headers=LAB, timeout=10)
        assert r.status_code == 404 and "not routed" in r.json()["error"]


def test_log_rows_and_feedback_joined_by_request_id(mlserver, tmp_path):
    doc = table_doc(mlserver.url, {"1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": 50}})
    gw = gateway(tmp_path, doc)
    ids: dict[str, str] = {}
    with serve_in_thread(gw) as url:
        for i in range(6):
            r = infer(url, {**LAB, "X-Govops-Key": f"user-{i}"}, body=v2_body(outputs=["predict_proba"]))
            assert r.status_code == 200
            ids[r.headers["X-Govops-Request-Id"]] = r.headers["X-Govops-Version"]
        first, second = list(ids)[:2]
        fb = requests.post(f"{url}/v2/models/{IRIS}/feedback", headers=LAB, timeout=10,
                           json=[{"request_id": first, "row": 1, "label": 2}, {"request_id": second, "label": "0"}])
        assert fb.status_code == 200 and fb.json() == {"accepted": 2}
        bad = requests.post(f"{url}/v2/models/{IRIS}/feedback", headers=LAB, json={"label": 1}, timeout=10)
        assert bad.status_code == 400 and "request_id" in bad.json()["error"]
        cross = requests.post(f"{url}/v2/models/{IRIS}/feedback", json={"request_id": first, "label": 1},
                              headers={"Authorization": f"Bearer {CLINICAL_KEY}"}, timeout=10)
        assert cross.status_code == 403
    # the gateway has stopped: its log was flushed on shutdown
    preds = read_window(tmp_path / "logs", "lab/iris-species", 0, 2**62)
    assert preds.num_rows == 18
    for col in ("request_id", "row", "ts_ns", "model", "version", "route", "latency_ms", "status", "error",
                "request_key", *[f"in.{f}" for f in FEATURES], "out.predict_proba", "prediction", "proba"):
        assert col in preds.column_names, col
    rows = preds.to_pylist()
    assert {r["request_id"]: r["version"] for r in rows} == ids
    user_ids = {key_id(f"user-{i}") for i in range(6)}
    assert {r["route"] for r in rows} <= {"champion", "canary"}
    for r in rows:
        assert [r[f"in.{f}"] for f in FEATURES] == ROWS[r["row"]].tolist()
        assert r["request_key"] in user_ids and r["status"] == "ok" and r["latency_ms"] > 0  # key ids, not keys
        proba = mlserver.infer(IRIS, r["version"], ROWS, output="predict_proba")[r["row"]]
        assert r["prediction"] == float(np.argmax(proba))
        assert r["proba"] is None  # three classes: no single positive-class probability
        assert json.loads(r["out.predict_proba"]) == pytest.approx(proba.tolist())
    joined = join_feedback(preds, read_feedback(tmp_path / "logs", "lab/iris-species", 0, 2**62)).to_pylist()
    labels = {(r["request_id"], r["row"]): r["label"] for r in joined if r["label"] is not None}
    assert labels == {(first, 1): "2.0", (second, 0): "0"}


def test_metrics_counters_and_histogram(mlserver, tmp_path):
    gw = gateway(tmp_path, table_doc(mlserver.url, {"1.0.0": {"role": "champion"}}), log=False)
    with serve_in_thread(gw) as url:
        for _ in range(7):
            assert infer(url).status_code == 200
        infer(url, {})
        text = requests.get(f"{url}/metrics", headers=LAB, timeout=5).text
    labels = {"model": "lab/iris-species", "version": "1.0.0", "route": "champion"}
    assert metric(text, "govops_gateway_requests_total", code="200", **labels) == 7
    assert metric(text, "govops_gateway_request_duration_seconds_count", **labels) == 7
    assert metric(text, "govops_gateway_request_duration_seconds_bucket", le="10.0", **labels) == 7
    assert metric(text, "govops_gateway_rejected_total", reason="unauthenticated") == 0  # not a tenant's series
    assert metric(gw.metrics.render().decode(), "govops_gateway_rejected_total", reason="unauthenticated") == 1
    assert LAB_KEY not in text


# -- the CLI, with the rollout's state files -----------------------------------------------------------------


def _repo(tmp_path: Path, mlserver: MLServerProcess, weight: float) -> Path:
    repo = tmp_path / "repo"
    (repo / ".govops" / "serving").mkdir(parents=True)
    text = (PROJECT / "govops.yaml").read_text()
    (repo / "govops.yaml").write_text(text)
    (repo / ".govops" / "secrets.yaml").write_text(f"gatewayKeys:\n  lab: [{LAB_KEY}]\n")
    _state(repo, weight)
    server = {"pid": mlserver.pid, "url": mlserver.url, "http_port": mlserver.http_port,
              "grpc_port": mlserver.grpc_port, "metrics_port": mlserver.metrics_port, "started": time.time()}
    (repo / ".govops" / "serving" / "server.json").write_text(json.dumps(server))
    return repo


def _state(repo: Path, weight: float) -> None:
    state = {"ref": "HEAD", "commit": None, "digest": "x", "models": {"lab/iris-species": {
        "name": IRIS, "environment": "production",
        "versions": {"1.0.0": {"role": "champion", "weight": None}, "1.1.0": {"role": "canary", "weight": weight}}}}}
    path = repo / ".govops" / "serving" / "state.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def test_cli_serves_rollout_state_reloads_and_cleans_up(mlserver, tmp_path):
    repo = _repo(tmp_path, mlserver, 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    env.update(GOVOPS_GATEWAY_WATCH_S="0.2", GOVOPS_LOG_DIR=str(tmp_path / "logs"))
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "-C", str(repo), "gateway", "--port", "0"],
                            cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"listening on (http://\S+)", line)
        assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        url = m.group(1)
        state = json.loads((repo / ".govops" / "gateway.json").read_text())
        assert state["url"] == url and state["pid"] == proc.pid
        assert (repo / ".govops" / "gateway.json").stat().st_mode & 0o077 == 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if infer(url).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        assert {infer(url).headers["X-Govops-Version"] for _ in range(10)} == {"1.0.0"}
        _state(repo, 100)  # what a rollout moving the canary to 100 % writes
        deadline = time.monotonic() + 10
        while infer(url).headers["X-Govops-Version"] != "1.1.0" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {infer(url).headers["X-Govops-Version"] for _ in range(10)} == {"1.1.0"}
        assert notify_reload(repo).startswith(f"gateway at {url} reloaded its routing table (1 models)")
        status = subprocess.run([sys.executable, "-m", "engine.cli", "-C", str(repo), "status", "--format", "json"],
                                cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["gateway_url"] == url
    finally:
        proc.terminate()
        proc.wait(20)
    assert not (repo / ".govops" / "gateway.json").exists()
    assert notify_reload(repo) == "no gateway running"
    assert read_window(tmp_path / "logs", "lab/iris-species", 0, 2**62).num_rows >= 3 * 21


def test_cli_without_keys_is_an_input_error(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "govops.yaml").write_text((PROJECT / "govops.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    r = subprocess.run([sys.executable, "-m", "engine.cli", "-C", str(repo), "gateway", "--port", "0"],
                       cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "no gateway API keys" in r.stderr and "--no-auth" in r.stderr
    (repo / "table.json").write_text('{"models": {"lab/x": {"versions": {"1": {"role": "champion"}}}}}')
    r = subprocess.run([sys.executable, "-m", "engine.cli", "-C", str(repo), "gateway", "--no-auth",
                        "--table", str(repo / "table.json")], cwd=PROJECT, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "no upstream URL" in r.stderr
