"""The gateway's ASGI application (Starlette): auth, checks, routing, failover, logging.

Serving stage. Request path of ``POST /v2/models/{name}/infer``: API key → tenant
(401/403) → model routed? (404) → content type (415) → body size (413, refused from
``Content-Length`` before reading) → V2 payload (400 with the reason) → pick the
version (sticky by ``X-Govops-Key``) → call it; on a connection error, timeout, 5xx
or "not loaded" the champion (for a challenger) and then the failover answer → the
caller's bytes back with ``X-Govops-Version``, ``X-Govops-Route``,
``X-Govops-Request-Id``. Only after the response is sent are the shadows queued and the
exchange queued for the prediction log. Before any of that, :class:`~engine.gateway.guard.PathGuard`
refuses dot segments, encoded dots and control characters (400), and the connection
protocol (:mod:`engine.gateway.protocol`) has already bounded the request head's size and
read time; the body is read within ``body_timeout_s`` (408). ``/metrics`` needs a valid
key, except on the loopback-only metrics listener. This module never blocks the event loop
on disk or network (both happen in background tasks/threads) and never logs a key: the
prediction log records the routing key's :func:`~engine.gateway.auth.key_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import itertools
import os
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from engine.gateway.auth import MAX_KEY_BYTES, KeyStore, key_id, presented_key
from engine.gateway.guard import PathGuard, Scope
from engine.gateway.metrics import GatewayMetrics
from engine.gateway.predlog import Exchange, Feedback, PredictionLog
from engine.gateway.routing import ModelRoute, RouteTable, VersionRoute
from engine.gateway.shadow import ShadowJob, ShadowSender
from engine.gateway.table import fingerprint, load_table, watched_files
from engine.gateway.upstream import Answer, Upstream
from engine.gateway.v2 import parse_infer_request
from engine.spec.errors import PayloadError, TableError

KEY_HEADER = "x-govops-key"
REQUEST_ID_HEADER = "x-govops-request-id"
RELOAD_TOKEN_HEADER = "x-govops-reload-token"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPES = ("application/json", "")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")  # engine.spec.model.VERSION_PATTERN
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,253}$")  # tenant--name (DNS labels), with some slack
MAX_FEEDBACK_ITEMS = 10_000
READY_CACHE_S = 2.0  # /v2/health/ready checks upstream at most this often


@dataclass
class GatewayConfig:
    """Everything the gateway needs besides the routing table."""

    root: Path
    keys: KeyStore | None  # None: authentication disabled (--no-auth)
    table_file: Path | None = None
    max_body: int = 10 * 1024 * 1024
    timeout_s: float = 5.0
    shadow_timeout_s: float = 5.0
    shadow_queue: int = 1000
    shadow_workers: int = 16
    connections: int = 256
    watch_s: float = 1.0
    reload_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    log: PredictionLog | None = None
    body_timeout_s: float = 30.0
    header_timeout_s: float = 10.0
    keepalive_s: int = 5
    max_header_bytes: int = 64 * 1024
    max_header_field_bytes: int = 16 * 1024
    max_connections: int = 0  # open client connections (and requests in flight) at once; 0: from RLIMIT_NOFILE


def _json(status: int, doc: Any, headers: dict[str, str] | None = None,
          background: BackgroundTask | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json", headers=headers,
                    background=background)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"error": message}, headers)


class Gateway:
    """The gateway's state (routing table, clients, log) and its Starlette app."""

    def __init__(self, config: GatewayConfig, table: RouteTable | None = None) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.table = table if table is not None else RouteTable(models={})
        self.static = table is not None  # a given table is not reloaded from files
        self.table_error: str | None = None
        self.log = config.log
        if self.log is not None:
            self.metrics.watch_log(self.log.stats)
        self.upstream = Upstream(config.connections, config.timeout_s)
        self.shadow_upstream = Upstream(config.shadow_workers, config.shadow_timeout_s)
        self.shadows = ShadowSender(self.shadow_upstream, self.metrics, self.log,
                                    queue_size=config.shadow_queue, workers=config.shadow_workers)
        self._watched = watched_files(config.root, config.table_file)
        self._fingerprint: tuple[tuple[int, int], ...] | None = None
        self._reload_lock = asyncio.Lock()
        self._ready_lock = asyncio.Lock()
        self._ready_cache: tuple[float, bool] | None = None  # (monotonic time, ready) of the last check
        self._watch_task: asyncio.Task[None] | None = None
        self.on_stop: list[Callable[[], object]] = []  # run at the end of shutdown (e.g. remove gateway.json)
        self.metrics_listener: tuple[str, int] | None = None  # (host, port) serving /metrics without a key
        starlette = Starlette(routes=self._routes(), lifespan=self._lifespan)
        # no 307 to the same path with(out) a trailing slash: its Location is built from the Host header
        starlette.router.redirect_slashes = False
        self.app = PathGuard(starlette, metrics_only=self._on_metrics_listener, on_refusal=self.count_refusal)

    def count_refusal(self, reason: str) -> None:
        """Count a request refused below the routes (bad path, header too large, timeouts)."""
        self.metrics.rejected.labels(reason).inc()

    def _on_metrics_listener(self, scope: Scope) -> bool:
        server = scope.get("server")
        return (self.metrics_listener is not None and server is not None
                and (server[0], server[1]) == self.metrics_listener)

    # -- lifecycle ---------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.upstream.start()
        await self.shadow_upstream.start()
        self.shadows.start()
        if self.log is not None:
            self.log.start()
        if not self.static:
            await self.reload()
        if self.config.watch_s > 0 and not self.static:
            self._watch_task = asyncio.create_task(self._watch())
        try:
            yield
        finally:
            if self._watch_task is not None:
                self._watch_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watch_task
            await self.shadows.stop()
            await self.upstream.close()
            await self.shadow_upstream.close()
            if self.log is not None:
                await asyncio.to_thread(self.log.close)
            for hook in self.on_stop:
                hook()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.watch_s)
            if fingerprint(self._watched) != self._fingerprint:
                await self.reload()

    async def reload(self) -> dict[str, Any]:
        """Rebuild the routing table from its source; on error keep the current one."""
        async with self._reload_lock:
            fp = fingerprint(self._watched)
            try:
                table = await asyncio.to_thread(load_table, self.config.root, self.config.table_file)
            except (TableError, OSError, ValueError) as exc:
                self._fingerprint = fp
                self.table_error = str(exc)
                self.metrics.reloads.labels("error").inc()
                return {"ok": False, "error": self.table_error, "digest": self.table.digest,
                        "models": len(self.table.models)}
            changed = table.digest != self.table.digest
            self.table = table  # one reference swap: requests in flight keep the table they started with
            self._ready_cache = None
            self._fingerprint = fp
            self.table_error = None
            self.metrics.reloads.labels("changed" if changed else "unchanged").inc()
            return {"ok": True, "changed": changed, "digest": table.digest, "models": len(table.models)}

    def set_table(self, table: RouteTable) -> None:
        """Replace the routing table directly (embedding and tests)."""
        self.table = table
        self._ready_cache = None

    # -- routes ------------------------------------------------------------------------------------
    def _routes(self) -> list[Route]:
        return [
            Route("/v2/models/{name}/infer", self.infer, methods=["POST"]),
            Route("/v2/models/{name}/versions/{version}/infer", self.infer_version, methods=["POST"]),
            Route("/v2/models/{name}/feedback", self.feedback, methods=["POST"]),
            Route("/v2/models/{name}", self.model_metadata, methods=["GET"]),
            Route("/v2/models/{name}/ready", self.model_ready, methods=["GET"]),
            Route("/v2/models/{name}/versions/{version}", self.version_metadata, methods=["GET"]),
            Route("/v2/models/{name}/versions/{version}/ready", self.version_ready, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/metrics", self.prometheus, methods=["GET"]),
            Route("/-/reload", self.reload_endpoint, methods=["POST"]),
        ]

    # -- checks shared by model endpoints -------------------------------------------------------------
    def _authorise(self, request: Request, name: str) -> tuple[ModelRoute | None, Response | None]:
        """The routed model a caller may use, or the refusal.

        The model's tenant is the routed model's own (``ModelRoute.tenant``), never a piece of the
        path: a key may only reach models of its tenant. A model that is not routed answers 403 unless
        its name is in the caller's own ``tenant--`` namespace (404), so a caller learns nothing about
        other tenants' models.
        """
        routing_key = request.headers.get(KEY_HEADER)
        if routing_key is not None and len(routing_key.encode()) > MAX_KEY_BYTES:
            self.metrics.rejected.labels("bad_request").inc()
            return None, _error(400, f"X-Govops-Key is longer than {MAX_KEY_BYTES} bytes")
        if not _MODEL_NAME.match(name):
            self.metrics.rejected.labels("bad_request").inc()
            return None, _error(400, "the model name in the path is not a model name (tenant--name)")
        route = self.table.models.get(name)
        if self.config.keys is not None:
            tenant = self.config.keys.tenant_of(presented_key(request.headers))
            if tenant is None:
                self.metrics.rejected.labels("unauthenticated").inc()
                return None, _error(401, "missing or invalid API key (send Authorization: Bearer KEY or X-Api-Key)",
                                    {"WWW-Authenticate": 'Bearer realm="govops"'})
            owner = route.tenant if route is not None else None
            if owner != tenant and not (route is None and name.startswith(f"{tenant}--")):
                self.metrics.rejected.labels("forbidden").inc()
                return None, _error(403, f"this key belongs to tenant '{tenant}' and may only call that "
                                         f"tenant's routed models ({tenant}--NAME)")
        if route is None:
            self.metrics.rejected.labels("unknown_model").inc()
            why = f" (routing table not loaded: {self.table_error})" if self.table_error else ""
            return None, _error(404, f"model '{name}' is not routed by this gateway{why}")
        return route, None

    def _explicit(self, route: ModelRoute, version: str) -> tuple[VersionRoute | None, Response | None]:
        """The version an explicit call reaches, or 404 (shadows, the failover, unrouted versions)."""
        target = route.explicit(version)
        if target is None:
            self.metrics.rejected.labels("unknown_version").inc()
            return None, _error(404, f"version '{version}' of {route.model} does not serve traffic through this "
                                     "gateway (explicit calls reach the champion and weighted challengers only)")
        return target, None

    async def _body(self, request: Request) -> tuple[bytes | None, Response | None]:
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype not in _JSON_TYPES and not ctype.endswith("+json"):
            self.metrics.rejected.labels("content_type").inc()
            return None, _error(415, f"content type '{ctype}' is not accepted; send application/json")
        limit = self.config.max_body
        length = request.headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                self.metrics.rejected.labels("bad_request").inc()
                return None, _error(400, "Content-Length is not an integer")
            if declared > limit:
                self.metrics.rejected.labels("too_large").inc()
                return None, _error(413, f"body of {declared} bytes is over the limit of {limit} bytes "
                                         "(GOVOPS_GATEWAY_MAX_BODY)", {"Connection": "close"})
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.config.body_timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        self.metrics.rejected.labels("too_large").inc()
                        return None, _error(413, f"body is over the limit of {limit} bytes (GOVOPS_GATEWAY_MAX_BODY)",
                                            {"Connection": "close"})
                    chunks.append(chunk)
        except TimeoutError:
            self.metrics.rejected.labels("body_timeout").inc()
            return None, _error(408, f"request body not received within {self.config.body_timeout_s:g} s "
                                     "(GOVOPS_GATEWAY_BODY_TIMEOUT_S)", {"Connection": "close"})
        except ClientDisconnect:
            self.metrics.rejected.labels("disconnected").inc()
            return None, _error(400, "the client closed the connection before the body ended", {"Connection": "close"})
        return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), None

    def _version_of(self, request: Request) -> tuple[str | None, Response | None]:
        version = request.path_params["version"]
        if not _VERSION.match(version):
            self.metrics.rejected.labels("bad_request").inc()
            return None, _error(400, "the version in the path is not a version id (letters, digits, '.', '_', "
                                     "'+', '-'; starting with a letter or digit)")
        return version, None

    def _request_id(self, request: Request) -> str:
        given = request.headers.get(REQUEST_ID_HEADER)
        return given if given and _REQUEST_ID.match(given) else _new_request_id()

    # -- inference -------------------------------------------------------------------------------------
    async def _authorised_body(self, request: Request, name: str,
                               version: str | None = None) -> tuple[ModelRoute, bytes] | Response:
        """Key, version and size checks every model call passes: the route and the body, or a refusal."""
        route, refusal = self._authorise(request, name)
        if refusal is not None:
            return refusal
        assert route is not None
        if version is not None:
            _target, refusal = self._explicit(route, version)
            if refusal is not None:
                return refusal
        body, refusal = await self._body(request)
        if refusal is not None:
            return refusal
        assert body is not None
        return route, body

    async def _admit(self, request: Request, name: str,
                     version: str | None = None) -> tuple[ModelRoute, bytes, dict[str, Any]] | Response:
        """Key, size and payload checks every inference passes: the route, body and parsed request, or a refusal."""
        admitted = await self._authorised_body(request, name, version)
        if isinstance(admitted, Response):
            return admitted
        route, body = admitted
        try:
            doc = parse_infer_request(body)
        except PayloadError as exc:
            self.metrics.rejected.labels("malformed").inc()
            return _error(400, f"malformed V2 inference request: {exc}")
        return route, body, doc

    async def infer(self, request: Request) -> Response:
        """Routed inference: pick, call, fail over, answer, then mirror and log."""
        t0 = time.perf_counter()
        name = request.path_params["name"]
        admitted = await self._admit(request, name)
        if isinstance(admitted, Response):
            return admitted
        route, body, doc = admitted
        key = request.headers.get(KEY_HEADER) or None
        logged_key = key_id(key) if key is not None else None
        rid = self._request_id(request)
        ts = time.time_ns()
        primary = route.pick(key, random.random())
        tried: list[tuple[VersionRoute, Answer]] = []
        answered: VersionRoute | None = None
        answer: Answer | None = None
        for target in (primary, *route.fallbacks(primary)):
            answer = await self.upstream.call("POST", target.infer_url, body)
            if not answer.failed:
                answered = target
                break
            tried.append((target, answer))
            self.metrics.errors.labels(route.model, target.version, target.role, answer.kind or "error").inc()
        elapsed = time.perf_counter() - t0
        log = self.log is not None and self.log.sampled()
        tasks: list[Callable[[], object]] = []
        if log:
            for target, failed in tried:
                tasks.append(self._log_task(route, target, target.role, rid, ts, elapsed, logged_key, doc, None,
                                            failed.reason, len(body)))
        if answered is None or answer is None:
            self.metrics.unavailable.labels(route.model).inc()
            names = "; ".join(f"{t.version} ({t.role}): {a.reason}" for t, a in tried)
            no_failover = "" if route.failover is not None else "; no failover version is declared"
            return _json(503, {"error": f"no version of {route.model} could answer: {names}{no_failover}",
                               "tried": [{"version": t.version, "role": t.role, "reason": a.reason} for t, a in tried]},
                         {"X-Govops-Request-Id": rid, "X-Govops-Route": "unavailable"},
                         BackgroundTask(_run_all, tasks))
        route_name = answered.role if answered is primary else ("champion" if answered is route.champion
                                                                 else "failover")
        if answered is not primary:
            self.metrics.failovers.labels(route.model, primary.version, answered.version).inc()
        ok = answer.status < 400
        self.metrics.requests.labels(route.model, answered.version, route_name, str(answer.status)).inc()
        self.metrics.latency.labels(route.model, answered.version, route_name).observe(elapsed)
        if log:
            detail = None if ok else f"HTTP {answer.status}: {answer.body[:300].decode(errors='replace')}"
            tasks.append(self._log_task(route, answered, route_name, rid, ts, elapsed, logged_key, doc,
                                        answer.body if ok else None, detail, len(body)))
        for shadow in route.shadows:
            job = ShadowJob(shadow, body, doc, rid, logged_key, log, route.inputs)
            tasks.append(functools.partial(self.shadows.submit, job))
        headers = {"X-Govops-Version": answered.version, "X-Govops-Route": route_name, "X-Govops-Request-Id": rid}
        return Response(answer.body, status_code=answer.status, media_type="application/json", headers=headers,
                        background=BackgroundTask(_run_all, tasks) if tasks else None)

    def _log_task(self, route: ModelRoute, target: VersionRoute, route_name: str, rid: str, ts: int,
                  elapsed: float, key: str | None, doc: dict[str, Any], response: bytes | None,
                  error: str | None, size: int = 0) -> Callable[[], object]:
        log = self.log
        assert log is not None
        ex = Exchange(request_id=rid, ts_ns=ts, model=route.model, version=target.version, route=route_name,
                      latency_ms=elapsed * 1000.0, status="ok" if error is None else "error", error=error,
                      request_key=key, request=doc, response=response, features=route.inputs,
                      size=size + len(response or b""))
        return functools.partial(log.log_exchange, ex)

    async def infer_version(self, request: Request) -> Response:
        """Explicit version: straight through to a live version (champion or weighted challenger), no failover."""
        t0 = time.perf_counter()
        name = request.path_params["name"]
        version, refusal = self._version_of(request)
        if refusal is not None:
            return refusal
        assert version is not None
        admitted = await self._admit(request, name, version)
        if isinstance(admitted, Response):
            return admitted
        route, body, doc = admitted
        target, refusal = self._explicit(route, version)
        if refusal is not None:
            return refusal
        assert target is not None
        rid = self._request_id(request)
        raw_key = request.headers.get(KEY_HEADER)
        key = key_id(raw_key) if raw_key else None
        ts = time.time_ns()
        answer = await self.upstream.call("POST", target.infer_url, body, routed=False)
        elapsed = time.perf_counter() - t0
        headers = {"X-Govops-Version": version, "X-Govops-Route": "explicit", "X-Govops-Request-Id": rid}
        tasks: list[Callable[[], object]] = []
        ok = not answer.failed and answer.status < 400
        error = None if ok else (answer.reason or f"HTTP {answer.status}: {answer.body[:300].decode(errors='replace')}")
        if self.log is not None and self.log.sampled():
            tasks.append(self._log_task(route, target, "explicit", rid, ts, elapsed, key, doc,
                                        answer.body if ok else None, error, len(body)))
        if answer.failed:
            self.metrics.errors.labels(route.model, version, "explicit", answer.kind or "error").inc()
        self.metrics.requests.labels(route.model, version, "explicit", str(answer.status)).inc()
        self.metrics.latency.labels(route.model, version, "explicit").observe(elapsed)
        background = BackgroundTask(_run_all, tasks) if tasks else None
        if answer.kind in ("connection", "timeout"):
            return _json(answer.status, {"error": f"{route.model} version {version}: {answer.reason}"}, headers,
                         background)
        return Response(answer.body, status_code=answer.status, media_type="application/json", headers=headers,
                        background=background)

    # -- feedback ------------------------------------------------------------------------------------------
    async def feedback(self, request: Request) -> Response:
        """Ground truth for logged requests: ``{"request_id", "row"?, "label"}`` or a list of them."""
        admitted = await self._authorised_body(request, request.path_params["name"])
        if isinstance(admitted, Response):
            return admitted
        route, body = admitted
        try:
            doc = orjson.loads(body or b"")
        except orjson.JSONDecodeError as exc:
            return _error(400, f"body is not valid JSON: {exc}")
        items = doc if isinstance(doc, list) else [doc]
        if not items or len(items) > MAX_FEEDBACK_ITEMS:
            return _error(400, f"send between 1 and {MAX_FEEDBACK_ITEMS} feedback items")
        out: list[Feedback] = []
        now = time.time_ns()
        for i, item in enumerate(items):
            where = f"item {i}" if isinstance(doc, list) else "body"
            if not isinstance(item, dict):
                return _error(400, f"{where}: expected an object with request_id and label")
            rid, row, label = item.get("request_id"), item.get("row", 0), item.get("label")
            if not isinstance(rid, str) or not _REQUEST_ID.match(rid):
                return _error(400, f"{where}: request_id must be the X-Govops-Request-Id of a logged request")
            if not isinstance(row, int) or isinstance(row, bool) or row < 0:
                return _error(400, f"{where}: row must be a non-negative integer (default 0)")
            if isinstance(label, bool):
                label = float(label)
            if not isinstance(label, int | float | str):
                return _error(400, f"{where}: label must be a number or a string")
            out.append(Feedback(model=route.model, request_id=rid, row=row,
                                label=float(label) if isinstance(label, int) else label, ts_ns=now))
        if self.log is None:
            return _error(503, "the prediction log is disabled on this gateway")
        if not self.log.log_feedback(out):
            return _error(503, "the prediction log queue is full; retry later")
        return _json(200, {"accepted": len(out)})

    # -- health and metadata -------------------------------------------------------------------------------
    async def live(self, _request: Request) -> Response:
        """The gateway process answers."""
        return Response(status_code=200)

    async def ready(self, _request: Request) -> Response:
        """200 when every routed model's champion (or failover) is ready upstream, else 503; no body.

        Keyless, so it names nothing and costs at most one round of upstream checks per
        ``READY_CACHE_S`` however often it is called (concurrent callers share the round).
        """
        now = time.monotonic()
        if self._ready_cache is None or now - self._ready_cache[0] >= READY_CACHE_S:
            async with self._ready_lock:
                if self._ready_cache is None or time.monotonic() - self._ready_cache[0] >= READY_CACHE_S:
                    table = self.table
                    ok = not (self.table_error is not None and not table.models)
                    if ok:
                        results = await asyncio.gather(*(self._model_ready(r) for r in table.models.values()))
                        ok = all(results)
                    self._ready_cache = (time.monotonic(), ok)
        return Response(status_code=200 if self._ready_cache[1] else 503)

    async def _model_ready(self, route: ModelRoute) -> bool:
        for target in (route.champion, *((route.failover,) if route.failover else ())):
            answer = await self.upstream.call("GET", target.path_url("/ready"))
            if answer.status == 200:
                return True
        return False

    async def server_metadata(self, _request: Request) -> Response:
        """Server metadata (V2 ``GET /v2``)."""
        return _json(200, {"name": "govops-gateway", "version": "1", "extensions": ["govops-routing"]})

    async def model_metadata(self, request: Request) -> Response:
        """The champion's metadata (V2 ``GET /v2/models/{name}``), plus the routing of the model."""
        route, refusal = self._authorise(request, request.path_params["name"])
        if refusal is not None:
            return refusal
        assert route is not None
        answer = await self.upstream.call("GET", route.champion.path_url())
        if answer.failed and route.failover is not None:
            answer = await self.upstream.call("GET", route.failover.path_url())
        if answer.failed:
            return _error(503, f"{route.model}: metadata unavailable: {answer.reason}")
        return Response(answer.body, status_code=answer.status, media_type="application/json",
                        headers={"X-Govops-Version": route.champion.version})

    async def model_ready(self, request: Request) -> Response:
        """200 when the model can answer (champion or failover ready), else 503."""
        route, refusal = self._authorise(request, request.path_params["name"])
        if refusal is not None:
            return refusal
        assert route is not None
        return Response(status_code=200 if await self._model_ready(route) else 503)

    async def version_metadata(self, request: Request) -> Response:
        """One version's metadata, straight through."""
        return await self._version_get(request, "")

    async def version_ready(self, request: Request) -> Response:
        """One version's readiness, straight through."""
        return await self._version_get(request, "/ready")

    async def _version_get(self, request: Request, suffix: str) -> Response:
        version, refusal = self._version_of(request)
        if refusal is not None:
            return refusal
        assert version is not None
        route, refusal = self._authorise(request, request.path_params["name"])
        if refusal is not None:
            return refusal
        assert route is not None
        target, refusal = self._explicit(route, version)
        if refusal is not None:
            return refusal
        assert target is not None
        answer = await self.upstream.call("GET", target.path_url(suffix), routed=False)
        if answer.kind in ("connection", "timeout"):
            return _error(answer.status, f"{route.model} version {version}: {answer.reason}")
        return Response(answer.body, status_code=answer.status,
                        media_type="application/json" if answer.body else None)

    # -- operations ------------------------------------------------------------------------------------------
    async def prometheus(self, request: Request) -> Response:
        """Prometheus text exposition: a key sees its tenant's models only; the loopback metrics listener sees all."""
        if self.config.keys is not None and not self._on_metrics_listener(request.scope):
            if self.config.keys.tenant_of(presented_key(request.headers)) is None:
                self.metrics.rejected.labels("unauthenticated").inc()
                return _error(401, "/metrics needs an API key (Authorization: Bearer KEY), or scrape the "
                                   "loopback metrics port (govops gateway --metrics-port)",
                              {"WWW-Authenticate": 'Bearer realm="govops"'})
        tenant: str | None = None
        if self.config.keys is not None and not self._on_metrics_listener(request.scope):
            tenant = self.config.keys.tenant_of(presented_key(request.headers))
        body = await asyncio.to_thread(self.metrics.render, tenant)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def reload_endpoint(self, request: Request) -> Response:
        """Reload the routing table now (``govops rollout`` calls this with the token in gateway.json)."""
        token = request.headers.get(RELOAD_TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode(), self.config.reload_token.encode()):
            self.metrics.rejected.labels("reload_token").inc()
            return _error(401, "missing or wrong X-Govops-Reload-Token (see .govops/gateway.json)")
        result = await self.reload()
        return _json(200 if result["ok"] else 409, result)


_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count()


def _new_request_id() -> str:
    """32 hex digits, unique per gateway process: a random prefix and a counter (no syscall per request)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


async def _run_all(tasks: list[Callable[[], object]]) -> None:
    # async on purpose: Starlette runs a sync background function in a worker thread (a thread hop
    # per request); these calls only put items on queues and never wait
    for task in tasks:
        task()


def build_gateway(config: GatewayConfig, table: RouteTable | None = None) -> Gateway:
    """A gateway for ``config``; without ``table`` it loads its table at startup and watches for changes."""
    return Gateway(config, table)
