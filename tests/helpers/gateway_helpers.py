"""Helpers for gateway tests: a real MLServer repository, the gateway in a thread, broken upstreams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import uvicorn

from engine.gateway.app import Gateway
from engine.gateway.server import bind, url_of, uvicorn_config
from engine.mlserver.settings import model_settings

PROJECT = Path(__file__).resolve().parents[2]
IRIS = "lab--iris-species"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])
LAB_KEY = "lab-key-0123456789abcdef"
CLINICAL_KEY = "clinical-key-0123456789abcdef"

# version served -> artifact it is built from (0.9.0 is the failover: a copy of the tree model)
VERSIONS = {"1.0.0": "1.0.0", "1.1.0": "1.1.0", "0.9.0": "1.0.0"}


def build_repo(dest: Path) -> Path:
    """An MLServer model repository with three versions of lab/iris-species."""
    for version, artifact in VERSIONS.items():
        folder = dest / IRIS / version
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT / f"artifacts/models/lab/iris-species/{artifact}/model.joblib", folder / "model.joblib")
        settings = model_settings(IRIS, version, "model.joblib", "mlserver_sklearn.SKLearnModel")
        (folder / "model-settings.json").write_text(json.dumps(settings))
    return dest


def v2_body(rows: np.ndarray = ROWS, outputs: list[str] | None = None) -> dict[str, Any]:
    """A V2 inference request of ``rows`` (one FP64 tensor ``input-0``)."""
    doc: dict[str, Any] = {
        "inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}]
    }
    if outputs:
        doc["outputs"] = [{"name": o} for o in outputs]
    return doc


def table_doc(upstream: str, versions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A routing table document for lab/iris-species."""
    return {"upstream": upstream, "models": {"lab/iris-species": {"inputs": FEATURES, "versions": versions}}}


_DEAD: list[socket.socket] = []


def dead_url() -> str:
    """A loopback URL nothing listens on (connection refused).

    The port is held by a socket that is bound and never listens, for the rest of the session:
    connecting is refused, and no other process can take the port meanwhile (as it could a
    port found free and released).
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _DEAD.append(sock)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


class HangingServer:
    """Accepts connections and reads requests but never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self.conns.append(conn)

    def __enter__(self) -> HangingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


@contextlib.contextmanager
def serve_in_thread(gateway: Gateway) -> Iterator[str]:
    """Run ``gateway`` under uvicorn in a thread on a free port; yield its URL; stop it after."""
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(gateway))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "gateway did not start"
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


async def fire(url: str, n: int, concurrency: int, *, headers: dict[str, str], body: dict[str, Any],
               keys: list[str] | None = None) -> list[tuple[int, str | None, float]]:
    """``n`` POSTs with at most ``concurrency`` in flight: (status, X-Govops-Version, seconds) each."""
    sem = asyncio.Semaphore(concurrency)
    out: list[tuple[int, str | None, float]] = []
    payload = json.dumps(body).encode()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one(i: int) -> None:
            h = dict(headers, **({"X-Govops-Key": keys[i % len(keys)]} if keys else {}))
            h["Content-Type"] = "application/json"
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=payload, headers=h) as r:
                        await r.read()
                        out.append((r.status, r.headers.get("X-Govops-Version"), time.perf_counter() - t0))
                except aiohttp.ClientError as exc:
                    out.append((0, type(exc).__name__, time.perf_counter() - t0))

        await asyncio.gather(*(one(i) for i in range(n)))
    return out
