"""Refusing request paths that could name something else upstream, before any route sees them.

Serving stage, the first thing a request meets in the application. uvicorn decodes the
path once (``%2e%2e`` becomes ``..``) and Starlette matches on the decoded path, so
``/v2/models/m/versions/%2e%2e/infer`` reached the route with version ``..`` and was sent
to MLServer as ``…/versions/../infer``, which the client library normalised to the
unversioned route; ``%0d%0a`` in a version ended in a response header uvicorn refused with
a traceback. Every segment is checked on the raw and on the decoded path: ``.`` and ``..``,
encoded dots, slashes, backslashes and percent signs (so nothing is decoded twice), and
control characters (below 0x20, and 0x7f) are refused with 400 and a JSON error. This
module never rewrites a path (a refused path is never "fixed" into another one).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ENCODED = re.compile(rb"%(2e|2f|5c|25)", re.IGNORECASE)
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_ENCODED_NAMES = {b"2e": "an encoded dot", b"2f": "an encoded slash", b"5c": "an encoded backslash",
                  b"25": "an encoded percent sign (double encoding)"}


def path_problem(raw_path: bytes) -> str | None:
    """Why ``raw_path`` (as sent, before decoding, without the query) is refused, or ``None``."""
    encoded = _ENCODED.search(raw_path)
    if encoded:
        return f"the request path holds {_ENCODED_NAMES[encoded.group(1).lower()]} ('%{encoded.group(1).decode()}')"
    if b"\\" in raw_path:
        return "the request path holds a backslash"
    decoded = unquote_to_bytes(raw_path)
    if _CONTROL.search(decoded):
        return "the request path holds a control character"
    for i, segment in enumerate(decoded.split(b"/")):
        if segment in (b".", b".."):
            return f"the request path holds a '{segment.decode()}' segment (segment {i})"
    return None


class PathGuard:
    """ASGI middleware: refuse a bad path with 400; on a metrics-only listener, serve only ``/metrics``."""

    def __init__(self, app: ASGIApp, metrics_only: Callable[[Scope], bool] | None = None,
                 on_refusal: Callable[[str], object] | None = None) -> None:
        self.app = app
        self.metrics_only = metrics_only
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer it here."""
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
            problem = path_problem(raw.split(b"?", 1)[0])
            if problem is not None:
                if self.on_refusal is not None:
                    self.on_refusal("bad_path")
                await _answer(send, 400, f"{problem}; send the model name and version as they are")
                return
            if self.metrics_only is not None and self.metrics_only(scope) and scope.get("path") != "/metrics":
                await _answer(send, 404, "this listener serves /metrics only")
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
