"""Mirroring requests to shadow versions, after the caller has its answer.

Serving stage. A bounded queue drained by a fixed number of worker tasks, each call
bounded by its own timeout and sent over its own connection pool. When the queue is
full the mirror is dropped and counted: a slow, hanging or failing shadow never slows
or fails the caller. Results are only logged (route ``shadow``) and counted; they are
never returned to anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from engine.gateway.metrics import GatewayMetrics
from engine.gateway.predlog import Exchange, PredictionLog
from engine.gateway.routing import VersionRoute
from engine.gateway.upstream import Upstream


@dataclass(frozen=True)
class ShadowJob:
    """One mirrored request."""

    target: VersionRoute
    body: bytes
    request: dict[str, Any]
    request_id: str
    request_key: str | None
    log: bool
    features: tuple[str, ...]


class ShadowSender:
    """Bounded queue + workers sending mirrored requests."""

    def __init__(self, upstream: Upstream, metrics: GatewayMetrics, log: PredictionLog | None, *,
                 queue_size: int, workers: int) -> None:
        self.upstream = upstream
        self.metrics = metrics
        self.log = log
        self.queue: asyncio.Queue[ShadowJob] = asyncio.Queue(maxsize=queue_size)
        self.workers = workers
        self.tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        self.sent = 0

    def start(self) -> None:
        """Start the workers (inside the running event loop)."""
        self.tasks = [asyncio.create_task(self._work(), name=f"govops-shadow-{i}") for i in range(self.workers)]

    def submit(self, job: ShadowJob) -> bool:
        """Queue a mirror; ``False`` (dropped and counted) when the queue is full. Never waits."""
        try:
            self.queue.put_nowait(job)
            return True
        except asyncio.QueueFull:
            self.dropped += 1
            self.metrics.shadow_dropped.labels(job.target.model).inc()
            return False

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self._send(job)
            except Exception:  # noqa: BLE001 - a shadow failure must never stop the worker
                self.metrics.shadow.labels(job.target.model, job.target.version, "error").inc()
            finally:
                self.queue.task_done()

    async def _send(self, job: ShadowJob) -> None:
        t0 = time.perf_counter()
        ts = time.time_ns()
        answer = await self.upstream.call("POST", job.target.infer_url, job.body)
        self.sent += 1
        ok = not answer.failed and answer.status < 400
        outcome = "ok" if ok else ("timeout" if answer.kind == "timeout" else "error")
        self.metrics.shadow.labels(job.target.model, job.target.version, outcome).inc()
        if job.log and self.log is not None:
            self.log.log_exchange(
                Exchange(
                    request_id=job.request_id, ts_ns=ts, model=job.target.model, version=job.target.version,
                    route="shadow", latency_ms=(time.perf_counter() - t0) * 1000.0,
                    status="ok" if ok else "error",
                    error=None if ok else (answer.reason or f"HTTP {answer.status}"),
                    request_key=job.request_key, request=job.request, response=answer.body if ok else None,
                    features=job.features, size=len(job.body) + (len(answer.body) if ok else 0),
                )
            )

    async def stop(self) -> None:
        """Cancel the workers (queued mirrors are dropped)."""
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self.tasks = []
