"""Operational: latency p50/p99, error rate and request rate from the prediction log.

Latency and status are per request (the log repeats them on every row of a request), so
each request counts once: the first row of every ``request_id``.
"""

from __future__ import annotations

import numpy as np

from engine.monitoring.kinds.base import KindContext
from engine.monitoring.measure import Measured, bounded


def measure(ctx: KindContext) -> list[Measured]:
    """p50/p99 latency, error rate and requests per second over the window."""
    t = ctx.thresholds.operational
    w = ctx.window
    if w.rows == 0:
        return [bounded("operational", "request_rate", 0.0, t)]
    rid = w.column("request_id")
    _, first = np.unique(rid.astype(str), return_index=True)
    lat = w.column("latency_ms")[first]
    lat = lat[~np.isnan(lat)]
    status = w.column("status")[first]
    requests = len(first)
    errors = int(np.sum(status == "error"))
    p50, p99 = (np.percentile(lat, [50, 99]).tolist() if len(lat) else (None, None))
    ctx.details["operational"] = {"requests": requests, "errors": errors, "rows": w.rows}
    return [
        bounded("operational", "latency_p50_ms", p50, t, why="no request in the window logged a latency"),
        bounded("operational", "latency_p99_ms", p99, t, why="no request in the window logged a latency"),
        bounded("operational", "error_rate", errors / requests, t),
        bounded("operational", "request_rate", requests / w.seconds, t),
    ]
