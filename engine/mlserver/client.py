"""A small REST client for one MLServer: health, per-version readiness, inference, repository API.

Serving stage. Speaks the Open Inference Protocol V2 (REST) and MLServer's model
repository extension (``/v2/repository/...``). Readiness is always asked per version
(``/v2/models/{name}/versions/{v}/ready``), never read from the repository index,
which can show READY after one of several versions was unloaded (MLServer issue 957).
It never starts or stops processes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from engine.spec.errors import GovopsError

# a retried GET after MLServer closed a connection is expected, not worth a warning on stderr
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


class MLServerError(GovopsError):
    """MLServer refused a request or could not be reached (exit 1: the rollout did not happen)."""

    exit_code = 1


class MLServerClient:
    """Requests to one MLServer at ``url`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        # GETs are idempotent: retry a connection the server closed after an error response
        retry = Retry(total=2, connect=0, read=2, status=0, backoff_factor=0.05, allowed_methods=frozenset({"GET"}))
        self._session.mount("http://", HTTPAdapter(max_retries=retry))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._session.close()

    def _post(self, path: str, body: Any | None = None, timeout: float | None = None) -> requests.Response:
        try:
            return self._session.post(self.url + path, json=body, timeout=timeout or self.timeout_s)
        except requests.RequestException as exc:
            raise MLServerError(f"MLServer at {self.url} is unreachable: {exc.__class__.__name__}") from exc

    def live(self) -> bool:
        """Whether the server answers ``/v2/health/live``."""
        try:
            return self._session.get(self.url + "/v2/health/live", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def server_ready(self) -> bool:
        """Whether the server answers ``/v2/health/ready`` with 200."""
        try:
            return self._session.get(self.url + "/v2/health/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def is_ready(self, name: str, version: str) -> bool:
        """Whether this exact version is loaded and ready."""
        try:
            r = self._session.get(f"{self.url}/v2/models/{name}/versions/{version}/ready", timeout=5)
        except requests.RequestException:
            return False
        return r.status_code == 200

    def index(self) -> list[dict[str, Any]]:
        """The repository index (``POST /v2/repository/index``): name, version, state, reason."""
        r = self._post("/v2/repository/index", {})
        if r.status_code != 200:
            raise MLServerError(f"repository index failed: HTTP {r.status_code}: {_detail(r)}")
        return list(r.json())

    def load(self, name: str, timeout: float | None = None) -> None:
        """Load (or reload) every version of ``name`` found in the repository; stale versions are unloaded."""
        r = self._post(f"/v2/repository/models/{name}/load", None, timeout=timeout or 300)
        if r.status_code != 200:
            raise MLServerError(f"loading '{name}' failed: HTTP {r.status_code}: {_detail(r)}")

    def unload(self, name: str) -> None:
        """Unload every version of ``name``."""
        r = self._post(f"/v2/repository/models/{name}/unload", None)
        if r.status_code not in (200, 404):
            raise MLServerError(f"unloading '{name}' failed: HTTP {r.status_code}: {_detail(r)}")

    def infer(self, name: str, version: str, rows: np.ndarray, output: str | None = None) -> np.ndarray:
        """Predictions of one version for ``rows`` (one FP64 tensor named ``input-0``)."""
        arr = np.asarray(rows, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        body: dict[str, Any] = {
            "inputs": [
                {"name": "input-0", "shape": list(arr.shape), "datatype": "FP64", "data": arr.ravel().tolist()}
            ]
        }
        if output:
            body["outputs"] = [{"name": output}]
        r = self._post(f"/v2/models/{name}/versions/{version}/infer", body)
        if r.status_code != 200:
            raise MLServerError(f"inference on {name} version {version} failed: HTTP {r.status_code}: {_detail(r)}")
        out = r.json()["outputs"][0]
        return np.asarray(out["data"]).reshape(out["shape"])


def _detail(r: requests.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:300]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:500]
    return str(body)[:300]
