"""Calls from the gateway to MLServer: pooled keep-alive connections, timeouts, outcomes.

Serving stage. One ``aiohttp`` session per purpose (routed traffic, shadows) so a
hanging shadow can never take the connections routed traffic needs. A call returns an
:class:`Answer` instead of raising; :meth:`Answer.failed` says whether the gateway
should try the next version (connection error, timeout, 5xx, or 404: the version is
not loaded). It never retries by itself and never rewrites the body it forwards.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Answer:
    """What one upstream call gave: an HTTP answer, or the reason there was none."""

    status: int
    body: bytes
    kind: str | None = None  # None (answered), "connection", "timeout", "http_5xx", "not_loaded"
    reason: str = ""

    @property
    def failed(self) -> bool:
        """Whether the next version should answer instead."""
        return self.kind is not None


def _detail(body: bytes) -> str:
    text = body[:300].decode(errors="replace").strip()
    return text.replace("\n", " ")


class Upstream:
    """A pooled HTTP client for one kind of traffic."""

    def __init__(self, connections: int, timeout_s: float) -> None:
        self.connections = connections
        # the timeout runs from the moment a connection is in hand: connect, then time to the answer;
        # waiting for a free pooled connection (a burst larger than the pool) does not count against it
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
        self.timeout_s = timeout_s
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session (inside the running event loop)."""
        connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, ttl_dns_cache=300,
                                         keepalive_timeout=30)
        self.session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, auto_decompress=False,
                                             skip_auto_headers=("User-Agent", "Accept-Encoding"))

    async def close(self) -> None:
        """Close the session and its connections."""
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def call(self, method: str, url: str, body: bytes | None = None, *, routed: bool = True) -> Answer:
        """One call; ``routed`` makes 404 a failure (the routed version is not loaded)."""
        assert self.session is not None, "Upstream.start() not called"
        try:
            async with self.session.request(method, url, data=body, headers=JSON_HEADERS if body else None) as resp:
                data = await resp.read()
                status = resp.status
        except TimeoutError:
            return Answer(504, b"", "timeout", f"no answer within {self.timeout_s:g}s")
        except aiohttp.ClientConnectorError as exc:
            return Answer(502, b"", "connection", f"cannot connect ({exc.os_error.strerror or exc.os_error})")
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(502, b"", "connection", f"connection failed ({type(exc).__name__}: {exc})")
        except asyncio.CancelledError:
            raise
        if status >= 500:
            return Answer(status, data, "http_5xx", f"HTTP {status}: {_detail(data)}")
        if status == 404 and routed:
            return Answer(status, data, "not_loaded", f"HTTP 404 (version not loaded): {_detail(data)}")
        return Answer(status, data)
