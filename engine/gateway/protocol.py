"""The gateway's HTTP/1.1 connection: uvicorn's httptools protocol with a bounded request head.

Serving stage, below the application. uvicorn bounds neither the size of a request's
headers nor the time a client may take to send them: httptools concatenates each header
as it arrives (a 200 MB header took 72 s and 390 MB before the application could answer
401), and a connection that never finishes its head is kept forever (uvicorn's keep-alive
timer only runs between requests). This protocol feeds the parser at most
``max_head`` bytes of any request head and answers ``431`` as soon as more arrive, refuses
one header line (or the request target) over ``max_field`` bytes with ``431``, and closes
a connection whose head is not complete ``head_timeout_s`` after its first byte (``408``),
or after connecting when it sends nothing (closed silently). The body's own limits (size
and read time) are the application's, but a request answered before its body was read
(401, 403, 404, 415, 413, …) is answered with ``Connection: close`` and the connection is
closed: uvicorn would otherwise discard the rest of the body as it trickles in, and every
byte would reset its keep-alive timer, so one keyless client could hold a connection
forever. Every request's body must also be in ``request_timeout_s`` after its head (else
408 or close), and at most ``max_connections`` connections are open at once (more are
closed at once; uvicorn answers 503 past the same number of requests in flight). This
module never reads header values beyond their length and never logs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is in ``_refusal``."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size cap and a deadline on every request head."""

    max_head: int = 64 * 1024
    max_field: int = 16 * 1024
    head_timeout_s: float = 10.0
    request_timeout_s: float = 60.0
    max_connections: int = 1024
    on_refusal: Callable[[str], object] | None = None  # counts refusals (reason word) in the gateway's metrics

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # -- connection ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head deadline at once: a client that connects and sends nothing is dropped too."""
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._count("too_many_connections")
            transport.close()  # over the cap: no answer, the file descriptor is freed at once
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the deadlines with the connection."""
        self._cancel_head_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser, never more than ``max_head`` bytes of one request head."""
        if self.parser is None or self.transport.is_closing():
            return
        if self._in_head and self._head_timer is None:
            self._arm_head_timer()
        view = memoryview(data)
        while view:
            if not self._in_head:
                self._feed(view)
                return
            room = self.max_head - self._head_bytes
            piece, view = view[:room], view[room:]
            self._head_bytes += len(piece)
            if not self._feed(piece):
                return
            if self._in_head and self._head_bytes >= self.max_head:
                self._refuse(431, "header_too_large",
                             f"request headers are larger than {self.max_head} bytes (GOVOPS_GATEWAY_MAX_HEADER_BYTES)")
                return

    def _feed(self, data: memoryview) -> bool:
        """Do what uvicorn's ``data_received`` does, for one slice; False when the connection is done."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
            else:
                self._refuse(400, "bad_request", "invalid HTTP request")
            return False
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # as uvicorn does: the request is answered without the upgrade
            return False
        return not self.transport.is_closing()

    # -- parser callbacks ----------------------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        """Collect the request target; refuse one longer than ``max_field``."""
        super().on_url(url)
        if len(self.url) > self.max_field:
            self._refusal = (431, "header_too_large", f"request target is longer than {self.max_field} bytes "
                             "(GOVOPS_GATEWAY_MAX_HEADER_FIELD_BYTES)")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        """Keep a header; refuse one whose name and value together exceed ``max_field``."""
        if len(name) + len(value) > self.max_field:
            self._refusal = (431, "header_too_large",
                             f"a request header is larger than {self.max_field} bytes "
                             "(GOVOPS_GATEWAY_MAX_HEADER_FIELD_BYTES)")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is in: stop its deadline and hand the request to the application."""
        self._cancel_head_timer()
        self._in_head = False
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or self.transport.is_closing():
            return
        original = cycle.send

        async def send(message: Any) -> None:
            # answered before the whole body came in: say so and close after the answer (uvicorn
            # adds "connection: close" and closes when keep_alive is off), never drain the rest
            if message.get("type") == "http.response.start" and cycle.more_body:
                cycle.keep_alive = False
            await original(message)

        cycle.send = send  # type: ignore[method-assign]
        self._cancel_body_timer()
        self._body_timer = self.loop.call_later(self.request_timeout_s, self._body_timeout)

    def on_message_complete(self) -> None:
        """The body is in: the next bytes start a new head (its deadline starts with them)."""
        super().on_message_complete()
        self._cancel_body_timer()
        self._in_head = True
        self._head_bytes = 0

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timeout(self) -> None:
        """The request's body is still not in ``request_timeout_s`` after its head: refuse or close."""
        self._body_timer = None
        if self.transport.is_closing() or self.cycle is None or not self.cycle.more_body:
            return
        self._refuse(408, "body_timeout",
                     f"request body not received within {self.request_timeout_s:g} s of its headers")

    # -- refusing --------------------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0 and (self.cycle is None or self.cycle.response_complete):
            self._count("idle_timeout")
            self.transport.close()  # nothing was asked: nothing to answer
            return
        self._refuse(408, "header_timeout",
                     f"request headers not received within {self.head_timeout_s:g} s (GOVOPS_GATEWAY_HEADER_TIMEOUT_S)")

    def _count(self, reason: str) -> None:
        if self.on_refusal is not None:
            self.on_refusal(reason)

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer ``status`` with a JSON error (unless a response is in flight) and close the connection."""
        self._cancel_head_timer()
        self._refusal = None
        if self.transport.is_closing():
            return
        self._count(reason)
        if self.cycle is None or self.cycle.response_complete:
            body = orjson.dumps({"error": message})
            self.transport.write(b"".join([
                STATUS_LINE[status],
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]))
        self.transport.close()


def protocol_class(*, max_head: int, max_field: int, head_timeout_s: float, request_timeout_s: float = 60.0,
                   max_connections: int = 1024,
                   on_refusal: Callable[[str], object] | None = None) -> type[GuardedHttpToolsProtocol]:
    """A protocol class with these limits (uvicorn builds one protocol object per connection from it)."""
    attrs: dict[str, Any] = {"max_head": max_head, "max_field": max_field, "head_timeout_s": head_timeout_s,
                             "request_timeout_s": request_timeout_s, "max_connections": max_connections,
                             "on_refusal": staticmethod(on_refusal) if on_refusal is not None else None}
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), attrs)
