"""The six metric kinds, one module each: drift, performance, bias, anomaly, operational, kpi.

Monitoring stage. Each module has one function ``measure(ctx) -> list[Measured]`` over a
:class:`~engine.monitoring.kinds.base.KindContext`; none reads files or sends anything.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.monitoring.kinds import anomaly, bias, drift, kpis, operational, performance
from engine.monitoring.kinds.base import KindContext
from engine.monitoring.measure import Measured

KINDS: dict[str, Callable[[KindContext], list[Measured]]] = {
    "drift": drift.measure,
    "performance": performance.measure,
    "bias": bias.measure,
    "anomaly": anomaly.measure,
    "operational": operational.measure,
    "kpi": kpis.measure,
}
