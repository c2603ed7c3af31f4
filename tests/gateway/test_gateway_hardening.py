"""The gateway as an attacker meets it (issue #15, hole 10): a real ``govops gateway`` process on loopback.

Header size and timeouts are checked with raw sockets and bounded waits (the connection is
closed, or the answer is a refusal); path segments, key length, the routing key in the
prediction log and ``/metrics`` over plain HTTP. The gateway's stderr is read at the end:
no traceback, no key. Every upstream call lands on a recording loopback server.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from engine.gateway.predlog import read_window
from tests.helpers.gateway_helpers import FEATURES, IRIS, LAB_KEY, PROJECT, v2_body
from tests.helpers.local_http import LoopbackServer

pytestmark = pytest.mark.slow
LAB = {"Authorization": f"Bearer {LAB_KEY}"}
WAIT_S = 20.0  # the longest any test waits for the gateway to close a connection (its timeouts are 1 s)


@dataclass
class RecordingUpstream(LoopbackServer):
    """Answers every V2 call like MLServer would (one INT64 prediction per row) and records the paths."""

    paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, doc: Any) -> None:
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rec.paths.append(self.path)
                self._answer({"model_name": IRIS, "outputs": [
                    {"name": "predict", "shape": [3, 1], "datatype": "INT64", "data": [0, 2, 1]}]})

            def do_GET(self) -> None:  # noqa: N802
                rec.paths.append(self.path)
                self._answer({"name": IRIS})

        self._serve(Handler)


@dataclass
class Running:
    url: str
    host: str
    port: int
    proc: subprocess.Popen[str]
    stderr_file: Path
    repo: Path
    metrics_url: str | None = None

    def stderr(self) -> str:
        return self.stderr_file.read_text(errors="replace")


@contextlib.contextmanager
def gateway(tmp_path: Path, upstream: str, *extra: str, models: dict[str, Any] | None = None,
            keys: dict[str, str] | None = None, env_extra: dict[str, str] | None = None) -> Iterator[Running]:
    """``govops gateway --table … --port 0`` with 1-second timeouts; stopped (SIGTERM) on exit.

    ``models``: the table's models (default: lab/iris-species, champion 1.0.0 and a 50% canary 1.1.0);
    ``keys``: tenant -> key (default: lab's); ``env_extra``: more GOVOPS_* settings.
    """
    repo = tmp_path / "repo"
    (repo / ".govops").mkdir(parents=True, exist_ok=True)
    (repo / "govops.yaml").write_text((PROJECT / "govops.yaml").read_text())
    keys = keys or {"lab": LAB_KEY}
    (repo / ".govops" / "secrets.yaml").write_text("gatewayKeys:\n" + "".join(f"  {t}: [{k}]\n"
                                                                                for t, k in keys.items()))
    table = {"upstream": upstream, "models": models or {"lab/iris-species": {"inputs": FEATURES, "versions": {
        "1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": 50}}}}}
    (repo / "table.json").write_text(json.dumps(table))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    env.update(GOVOPS_LOG_DIR=str(tmp_path / "logs"), GOVOPS_GATEWAY_HEADER_TIMEOUT_S="1",
               GOVOPS_GATEWAY_BODY_TIMEOUT_S="1", GOVOPS_GATEWAY_KEEPALIVE_S="1")
    env.update(env_extra or {})
    err = tmp_path / "gateway.stderr"
    with open(err, "w") as err_fh:
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "-C", str(repo), "gateway", "--port", "0",
                                 "--table", str(repo / "table.json"), *extra],
                                cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=err_fh, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"listening on (http://([\d.]+):(\d+))", line)
        assert m, line + err.read_text()
        metrics = re.search(r"metrics on (http://[\d.:]+)/metrics", line)
        running = Running(m.group(1), m.group(2), int(m.group(3)), proc, err, repo,
                          metrics.group(1) if metrics else None)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{running.url}/v2/health/live", timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture()
def upstream() -> Iterator[RecordingUpstream]:
    with RecordingUpstream() as up:
        yield up


def connect(gw: Running) -> socket.socket:
    sock = socket.create_connection((gw.host, gw.port), timeout=WAIT_S)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection; fails after ``WAIT_S`` of silence."""
    data = b""
    sock.settimeout(WAIT_S)
    for _ in range(10_000):  # bounded: each recv returns data, EOF, or times out
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except TimeoutError:
            pytest.fail(f"the gateway kept the connection open for {WAIT_S} s; got so far: {data[:200]!r}")
        if not chunk:
            return data
        data += chunk
    pytest.fail("the gateway kept sending")


def head(path: str, headers: dict[str, str] | None = None, *, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def status_of(answer: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    assert m, answer[:200]
    return int(m.group(1))


def json_body(answer: bytes) -> Any:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


# -- timeouts: a client that never finishes is dropped ------------------------------------------------------


def test_slow_loris_idle_and_slow_body_connections_are_closed(tmp_path, upstream):
    with gateway(tmp_path, upstream.url) as gw:
        # a request head that never ends, dribbled a byte at a time (each byte would reset an idle timer)
        slow = connect(gw)
        slow.sendall(head(f"/v2/models/{IRIS}/infer", LAB))
        slow.settimeout(0.3)
        answer, dribbled, closed = b"", 0, False
        for _ in range(100):  # bounded: at most 100 bytes, one every 0.3 s
            try:
                slow.sendall(b"X")
                dribbled += 1
                answer = slow.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            closed = True  # the gateway answered or closed
            break
        assert closed, "the gateway took 100 more header bytes over 30 s without closing"
        answer += read_until_closed(slow)
        assert answer == b"" or status_of(answer) == 408
        slow.close()

        # a connection that never sends a byte
        idle = connect(gw)
        answer = read_until_closed(idle)
        assert answer == b"" or status_of(answer) == 408
        idle.close()

        # a keep-alive connection left idle after one answer
        kept = connect(gw)
        kept.sendall(head("/v2/health/live", method="GET") + b"\r\n")
        answer = read_until_closed(kept)
        assert status_of(answer) == 200
        kept.close()

        # a client that hangs up in the middle of its body
        gone = connect(gw)
        gone.sendall(head(f"/v2/models/{IRIS}/infer", {**LAB, "Content-Type": "application/json",
                                                       "Content-Length": "1000"}) + b"\r\n" + b'{"inputs": [')
        gone.close()

        # a body that never arrives in full
        body = connect(gw)
        body.sendall(head(f"/v2/models/{IRIS}/infer", {**LAB, "Content-Type": "application/json",
                                                       "Content-Length": "1000"}) + b"\r\n" + b'{"inputs": [')
        answer = read_until_closed(body)
        assert status_of(answer) == 408 and "body" in json_body(answer)["error"]
        body.close()
    assert "Traceback" not in gw.stderr()
    assert upstream.paths == []


# -- header size ------------------------------------------------------------------------------------------


def test_oversized_headers_are_refused_before_they_end(tmp_path, upstream):
    with gateway(tmp_path, upstream.url) as gw:
        # 128 KiB of headers and no end: refused at the total limit, without waiting for the rest
        big = connect(gw)
        big.sendall(head(f"/v2/models/{IRIS}/infer", LAB))
        with contextlib.suppress(OSError):
            for i in range(128):
                big.sendall(f"X-Filler-{i}: {'a' * 1000}\r\n".encode())
        answer = read_until_closed(big)
        assert status_of(answer) == 431
        assert "header" in json_body(answer)["error"]
        big.close()

        # one header over the per-header limit in an otherwise small request
        r = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), timeout=WAIT_S,
                          headers={**LAB, "X-Big": "b" * 20_000})
        assert r.status_code == 431 and "header" in r.json()["error"]

        # an 8 MB routing key: refused at the header limit; the rest is never read
        huge = connect(gw)
        huge.sendall(head(f"/v2/models/{IRIS}/infer", LAB) + b"X-Govops-Key: ")
        sent = 0
        with contextlib.suppress(OSError):
            for _ in range(128):
                huge.sendall(b"k" * 65536)
                sent += 65536
        answer = read_until_closed(huge)
        assert status_of(answer) == 431
        huge.close()

        ok = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), headers=LAB, timeout=WAIT_S)
        assert ok.status_code == 200  # the gateway still serves
    assert "Traceback" not in gw.stderr()
    assert len(upstream.paths) == 1


# -- keys: capped, and logged as an id, never as the value -------------------------------------------------


def test_routing_key_is_capped_and_logged_as_an_id(tmp_path, upstream):
    secret_key = "user-7f3a9c-private-routing-key"
    with gateway(tmp_path, upstream.url) as gw:
        long = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), timeout=WAIT_S,
                             headers={**LAB, "X-Govops-Key": "k" * 300})
        assert long.status_code == 400 and "X-Govops-Key" in long.json()["error"]
        long_auth = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), timeout=WAIT_S,
                                  headers={"Authorization": "Bearer " + "a" * 300})
        assert long_auth.status_code == 401
        versions = set()
        for _ in range(3):
            r = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), timeout=WAIT_S,
                              headers={**LAB, "X-Govops-Key": secret_key})
            assert r.status_code == 200
            versions.add(r.headers["X-Govops-Version"])
        assert len(versions) == 1  # still sticky by the key
    assert len(upstream.paths) == 3
    rows = read_window(tmp_path / "logs", "lab/iris-species", 0, 2**62).to_pylist()
    assert len(rows) == 9
    key_id = hashlib.sha256(secret_key.encode()).hexdigest()[:12]
    assert {r["request_key"] for r in rows} == {key_id}
    logged = b"".join(p.read_bytes() for p in (tmp_path / "logs").rglob("*") if p.is_file())
    assert secret_key.encode() not in logged
    assert secret_key not in gw.stderr() and LAB_KEY not in gw.stderr()
    assert "chmod 600" in gw.stderr()  # the secrets file was written 0644: the gateway says so


# -- path segments ----------------------------------------------------------------------------------------

BAD_SEGMENTS = [
    "%2e%2e", "%2E%2E", ".%2e", "%2e", "..", ".", "%252e%252e", "%25252e", "%2f..%2f", "a%5c..",
    "%0d%0aX-Injected:%20yes", "%0a", "a%00b", "a%7fb", "a%09b", "a%1fb",
]


@pytest.mark.parametrize("where", ["version", "name"])
def test_dot_and_control_segments_are_refused(tmp_path, upstream, where):
    with gateway(tmp_path, upstream.url) as gw:
        for seg in BAD_SEGMENTS:
            path = (f"/v2/models/{IRIS}/versions/{seg}/infer" if where == "version"
                    else f"/v2/models/{seg}/versions/1.0.0/infer")
            conn = http.client.HTTPConnection(gw.host, gw.port, timeout=WAIT_S)  # sends the path as written
            try:
                conn.request("POST", path, body=json.dumps(v2_body()),
                             headers={**LAB, "Content-Type": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
            finally:
                conn.close()
            assert resp.status == 400, (seg, resp.status, body[:200])
            assert resp.getheader("Content-Type") == "application/json", seg
            assert "path" in json.loads(body)["error"], seg
            assert resp.getheader("X-Injected") is None
        for seg in ("%2e%2e", "%0d%0a"):  # the metadata and readiness routes too
            r = requests.get(f"{gw.url}/v2/models/{IRIS}/versions/{seg}/ready", headers=LAB, timeout=WAIT_S)
            assert r.status_code == 400, seg
        ok = requests.post(f"{gw.url}/v2/models/{IRIS}/versions/1.1.0/infer", json=v2_body(), headers=LAB,
                           timeout=WAIT_S)
        assert ok.status_code == 200 and ok.headers["X-Govops-Version"] == "1.1.0"
    assert upstream.paths == [f"/v2/models/{IRIS}/versions/1.1.0/infer"]  # nothing else reached MLServer
    err = gw.stderr()
    assert "Traceback" not in err and "Exception" not in err, err[-2000:]


# -- /metrics ---------------------------------------------------------------------------------------------


def test_metrics_need_a_key_or_the_loopback_metrics_port(tmp_path, upstream):
    with gateway(tmp_path, upstream.url, "--metrics-port", "0") as gw:
        assert requests.get(f"{gw.url}/metrics", timeout=WAIT_S).status_code == 401
        bad = requests.get(f"{gw.url}/metrics", headers={"Authorization": "Bearer not-a-key-0123456789"},
                           timeout=WAIT_S)
        assert bad.status_code == 401
        assert requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), headers=LAB,
                             timeout=WAIT_S).status_code == 200
        keyed = requests.get(f"{gw.url}/metrics", headers=LAB, timeout=WAIT_S)
        # a tenant's key sees its own models' series only; gateway-wide counters are the operator's
        assert keyed.status_code == 200 and 'model="lab/iris-species"' in keyed.text
        assert "govops_gateway_rejected_total" not in keyed.text
        assert LAB_KEY not in keyed.text
        assert gw.metrics_url is not None and gw.metrics_url.startswith("http://127.0.0.1:")
        scraped = requests.get(f"{gw.metrics_url}/metrics", timeout=WAIT_S)
        assert scraped.status_code == 200 and "govops_gateway_rejected_total" in scraped.text
        # the metrics port serves nothing else
        other = requests.post(f"{gw.metrics_url}/v2/models/{IRIS}/infer", json=v2_body(), timeout=WAIT_S)
        assert other.status_code == 404
    assert len(upstream.paths) == 1  # the keyed inference above; the metrics port forwarded nothing



# -- red-team findings (net-fixes): a real gateway process, a recording upstream ---------------------------

EU_KEY = "labeu-key-0123456789abcdef"
CLINICAL_KEY = "clinical-key-0123456789abcdef"


def test_explicit_calls_reach_only_versions_serving_traffic(tmp_path, upstream):
    """#1/#2: a version the table does not route (shut down, removed) and a shadow or failover never answer."""
    models = {"lab/iris-species": {"inputs": FEATURES, "versions": {
        "1.0.0": {"role": "champion"}, "1.1.0": {"role": "canary", "weight": 10},
        "2.0.0-rc1": {"role": "shadow"}, "0.9.0": {"role": "failover"}}}}
    with gateway(tmp_path, upstream.url, models=models) as gw:
        for version in ("2.0.0", "2.0.0-rc1", "0.9.0"):
            r = requests.post(f"{gw.url}/v2/models/{IRIS}/versions/{version}/infer", json=v2_body(), headers=LAB,
                              timeout=WAIT_S)
            assert r.status_code == 404 and "does not serve traffic" in r.json()["error"], version
            meta = requests.get(f"{gw.url}/v2/models/{IRIS}/versions/{version}/ready", headers=LAB, timeout=WAIT_S)
            assert meta.status_code == 404, version
        ok = requests.post(f"{gw.url}/v2/models/{IRIS}/versions/1.1.0/infer", json=v2_body(), headers=LAB,
                           timeout=WAIT_S)
        assert ok.status_code == 200 and ok.headers["X-Govops-Version"] == "1.1.0"
    assert upstream.paths == [f"/v2/models/{IRIS}/versions/1.1.0/infer"]


def test_a_tenant_is_taken_from_the_routed_model_not_the_path(tmp_path, upstream):
    """#3: the key of 'lab' reached 'lab--eu''s model because the path was split at its first '--'."""
    models = {"lab--eu/iris-species": {"versions": {"1.0.0": {"role": "champion"}}},
              "clinical/triage": {"versions": {"1.0.0": {"role": "champion"}}}}
    with gateway(tmp_path, upstream.url, models=models, keys={"lab": LAB_KEY, "lab--eu": EU_KEY}) as gw:
        url = f"{gw.url}/v2/models/lab--eu--iris-species/infer"
        assert requests.post(url, json=v2_body(), headers=LAB, timeout=WAIT_S).status_code == 403
        owner = requests.post(url, json=v2_body(), headers={"Authorization": f"Bearer {EU_KEY}"}, timeout=WAIT_S)
        assert owner.status_code == 200
        # another tenant's model and an unknown one outside the caller's namespace look the same
        for name in ("clinical--triage", "clinical--nothing"):
            r = requests.post(f"{gw.url}/v2/models/{name}/infer", json=v2_body(), headers=LAB, timeout=WAIT_S)
            assert r.status_code == 403, name
    assert upstream.paths == ["/v2/models/lab--eu--iris-species/versions/1.0.0/infer"]


def test_an_early_answer_closes_the_connection_and_connections_are_capped(tmp_path, upstream):
    """#4: a 401 left the connection open while the client trickled a 100 MB body; no connection limit."""
    with gateway(tmp_path, upstream.url) as gw:
        sock = connect(gw)
        sock.sendall(head(f"/v2/models/{IRIS}/infer", {"Content-Type": "application/json",
                                                       "Content-Length": "100000000"}) + b"\r\n" + b"x" * 100)
        answer = read_until_closed(sock)  # failed after WAIT_S before: the connection stayed open
        sock.close()
        assert status_of(answer) == 401 and b"connection: close" in answer.lower()
        sock = connect(gw)
        sock.sendall(head(f"/v2/models/{IRIS}/infer", {**LAB, "Content-Type": "text/plain",
                                                       "Transfer-Encoding": "chunked"}) + b"\r\n5\r\nhello\r\n")
        answer = read_until_closed(sock)
        sock.close()
        assert status_of(answer) == 415
    with gateway(tmp_path / "capped", upstream.url, env_extra={"GOVOPS_GATEWAY_MAX_CONNECTIONS": "3",
                                                                "GOVOPS_GATEWAY_HEADER_TIMEOUT_S": "60"}) as gw:
        held = [connect(gw) for _ in range(3)]
        for s in held:
            s.sendall(b"GET /v2/health/live HTTP/1.1\r\n")  # heads never finished: held for 60 s
        extra = connect(gw)
        assert read_until_closed(extra) == b""  # over the cap: closed at once, long before the 60 s
        extra.close()
        for s in held:
            s.close()


def test_bogus_versions_never_become_metric_labels(tmp_path, upstream):
    """#5: every caller-chosen version string became a Prometheus label (unbounded memory and /metrics)."""
    with gateway(tmp_path, upstream.url, "--metrics-port", "0") as gw:
        with requests.Session() as s:
            for i in range(50):
                r = s.post(f"{gw.url}/v2/models/{IRIS}/versions/v{i:040d}/infer", json=v2_body(), headers=LAB,
                           timeout=WAIT_S)
                assert r.status_code == 404
        assert gw.metrics_url is not None
        scraped = requests.get(f"{gw.metrics_url}/metrics", timeout=WAIT_S).text
        assert "v0000" not in scraped
        assert 'govops_gateway_rejected_total{reason="unknown_version"} 50.0' in scraped
    assert upstream.paths == []


def test_metrics_and_readiness_tell_a_tenant_nothing_about_others(tmp_path, upstream):
    """#6: a lab key read clinical's series; keyless /v2/health/ready named models and called upstream."""
    models = {"lab/iris-species": {"versions": {"1.0.0": {"role": "champion"}}},
              "clinical/triage": {"versions": {"3.1.0": {"role": "champion"}}}}
    with gateway(tmp_path, upstream.url, models=models,
                 keys={"lab": LAB_KEY, "clinical": CLINICAL_KEY}) as gw:
        clinical = {"Authorization": f"Bearer {CLINICAL_KEY}"}
        for _ in range(3):
            requests.post(f"{gw.url}/v2/models/clinical--triage/infer", json=v2_body(), headers=clinical,
                          timeout=WAIT_S)
        as_lab = requests.get(f"{gw.url}/metrics", headers=LAB, timeout=WAIT_S).text
        assert "clinical" not in as_lab
        as_clinical = requests.get(f"{gw.url}/metrics", headers=clinical, timeout=WAIT_S).text
        assert 'model="clinical/triage"' in as_clinical and "lab/" not in as_clinical
        before = len(upstream.paths)
        answers = [requests.get(f"{gw.url}/v2/health/ready", timeout=WAIT_S) for _ in range(20)]
        assert {(a.status_code, a.content) for a in answers} == {(200, b"")}
        assert len(upstream.paths) - before <= 2 * len(models)  # one round, cached: not 20 rounds


def test_a_trailing_slash_is_not_redirected_to_the_callers_host(tmp_path, upstream):
    """#11: Starlette answered 307 with Location http://<Host header>/…"""
    with gateway(tmp_path, upstream.url) as gw:
        sock = connect(gw)
        sock.sendall(f"POST /v2/models/{IRIS}/infer/ HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        answer = read_until_closed(sock)
        sock.close()
        assert status_of(answer) == 404 and b"evil.example" not in answer


def test_absurd_shapes_are_refused_without_a_traceback(tmp_path, upstream):
    """#12/#13: a shape of 60,000 huge dimensions (event loop blocked, then 500) and [10**12, 0] with no data."""
    with gateway(tmp_path, upstream.url) as gw:
        huge = b'{"inputs":[{"name":"a","shape":[' + b",".join([b"4611686018427387904"] * 60000) + \
            b'],"datatype":"FP64","data":[1]}]}'
        empty = b'{"inputs":[{"name":"a","shape":[1000000000000,0],"datatype":"FP64","data":[]}]}'
        for body in (huge, empty, empty.replace(b"1000000000000", b"1000")):
            r = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", data=body, timeout=WAIT_S,
                              headers={**LAB, "Content-Type": "application/json"})
            assert r.status_code == 400 and "malformed V2 inference request" in r.json()["error"]
        ok = requests.post(f"{gw.url}/v2/models/{IRIS}/infer", json=v2_body(), headers=LAB, timeout=WAIT_S)
        assert ok.status_code == 200
    assert "Traceback" not in gw.stderr()
    assert len(upstream.paths) == 1
