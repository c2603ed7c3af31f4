"""The OPA-server backend: ``data.govops.main`` evaluated by an OPA server via opa-python-client.

Part of the policy stage. Selected with ``GOVOPS_OPA_URL``. ``load`` *pushes* the
library's modules with OPA's Policy API (``PUT /v1/policies/govops/<file>``), so the
server runs exactly the Rego govops digested; tests (``*_test.rego``) are not pushed.
Each query goes to ``POST /v1/data/govops/main?strict-builtin-errors=true`` with an
explicit timeout and retries; the input is sent as standard JSON, which OPA decodes
exactly, and the answer is parsed with duplicate keys refused (``engine.policy.exact``).
Unreachable, slow, 5xx, empty (undefined) or malformed answers are errors naming the
URL: never an allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from engine.policy.backend import Decision, check_result, refuse_inexact
from engine.policy.errors import PolicyError
from engine.policy.exact import loads_strict
from engine.policy.library import PolicyLibrary
from engine.spec.errors import MalformedOutput


class OpaBackend:
    """``opa``: an OPA server (sidecar or service)."""

    name = "opa"
    accepts_compact = False  # every query carries the full published input (a shared server keeps no run state)

    def __init__(self, url: str, *, timeout_s: float = 2.0, retries: int = 2) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise PolicyError(f"GOVOPS_OPA_URL={url!r} is not an http(s) URL such as http://127.0.0.1:8181")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.ssl = parsed.scheme == "https"
        self.client: Any = None
        self.library: PolicyLibrary | None = None

    def _client(self) -> Any:
        if self.client is None:
            from opa_client import OpaClient
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            self.client = OpaClient(
                host=self.host, port=self.port, ssl=self.ssl, retries=self.retries, timeout=self.timeout_s
            )
            # A Data API query is a read: retry it too (the client's default retries skip POST).
            retry = Retry(
                total=self.retries,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=frozenset({"GET", "PUT", "POST"}),
                raise_on_status=False,
            )
            for prefix in ("http://", "https://"):
                self.client._session.mount(prefix, HTTPAdapter(max_retries=retry))
        return self.client

    def _fail(self, what: str, exc: BaseException | None = None) -> PolicyError:
        detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
        return PolicyError(f"OPA server at {self.url} {what}{detail}")

    def load(self, library: PolicyLibrary, run: dict[str, Any] | None = None, *, wait: bool = True) -> None:
        """Push every module with the Policy API; a compile error names the Rego file:line (``run`` is unused)."""
        import requests

        self.library = library
        client = self._client()
        for name, source in sorted(library.modules.items()):
            url = f"{self.url}/v1/policies/govops/{name}"
            try:
                resp = client._session.put(
                    url, data=source.encode(), headers={"Content-Type": "text/plain"}, timeout=self.timeout_s
                )
            except requests.RequestException as exc:
                raise self._fail("is unreachable (pushing policies)", exc) from None
            if resp.status_code == 200:
                continue
            raise self._compile_error(resp, library, name)

    def _compile_error(self, resp: Any, library: PolicyLibrary, name: str) -> PolicyError:
        try:
            body = loads_strict(resp.content)
        except MalformedOutput:
            return self._fail(f"refused {library.display(name)} (HTTP {resp.status_code})")
        if not isinstance(body, dict):
            return self._fail(f"refused {library.display(name)} (HTTP {resp.status_code})")
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        loc: dict[str, Any] = first["location"] if isinstance(first.get("location"), dict) else {}
        message = str(first.get("message") or body.get("message") or f"HTTP {resp.status_code}")
        return PolicyError(
            f"policy does not compile (OPA at {self.url}): {message}",
            file=library.display(name),
            line=loc.get("row"),
            col=loc.get("col"),
        )

    def evaluate_many(self, inputs: Sequence[tuple[str, str]]) -> list[Decision]:
        """One Data API query per input (each refused first if it holds a string OPA would not read exactly)."""
        for model, text in inputs:
            refuse_inexact(model, text)
        return [self._evaluate(model, text) for model, text in inputs]

    def _evaluate(self, model: str, text: str) -> Decision:
        import requests

        client = self._client()
        url = f"{self.url}/v1/data/govops/main?strict-builtin-errors=true"
        try:
            resp = client._session.post(
                url,
                data=f'{{"input":{text}}}'.encode(),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            if isinstance(exc, requests.Timeout) or "Read timed out" in str(exc):
                raise self._fail(f"did not answer within {self.timeout_s:g}s for {model}") from None
            raise self._fail(f"is unreachable (evaluating {model})", exc) from None
        if resp.status_code != 200:
            raise self._fail(f"answered HTTP {resp.status_code} for {model}: {resp.text[:300]}")
        try:
            body = loads_strict(resp.content)
        except MalformedOutput as exc:
            raise self._fail(f"answered with JSON govops cannot read exactly for {model} ({exc})") from None
        if not isinstance(body, dict) or "result" not in body:
            raise self._fail(f"returned no result for {model}: data.govops.main is undefined (policies not loaded?)")
        return check_result(body["result"], f"OPA at {self.url}, {model}")

    def close(self) -> None:
        """Close the HTTP session."""
        if self.client is not None:
            try:
                self.client.close_connection()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            self.client = None


