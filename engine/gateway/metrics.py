"""Prometheus metrics of the gateway (``/metrics``).

Serving stage. One registry per gateway (so several gateways in one process, as in
tests, never share counters): requests, errors and latency per model/version/route,
failovers, shadow calls and drops, rejected requests by reason, prediction-log
drops, routing-table reloads. Labels are model ids, versions, routes and short
reason words — never keys, request ids or payload values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LogCollector(Collector):
    """Reads the prediction log's counters at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, object]]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        s = self._stats()
        yield CounterMetricFamily("govops_gateway_log_dropped", "Prediction-log records dropped (queue full)",
                                  value=float(s.get("dropped", 0) or 0))  # type: ignore[arg-type]
        yield CounterMetricFamily("govops_gateway_log_rows", "Prediction-log rows written",
                                  value=float(s.get("rows_written", 0) or 0))  # type: ignore[arg-type]
        yield CounterMetricFamily("govops_gateway_log_write_errors", "Prediction-log write errors",
                                  value=float(s.get("errors", 0) or 0))  # type: ignore[arg-type]
        yield GaugeMetricFamily("govops_gateway_log_queued", "Prediction-log records waiting to be written",
                                value=float(s.get("queued", 0) or 0))  # type: ignore[arg-type]


class GatewayMetrics:
    """The gateway's counters and histograms, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("govops_gateway_requests", "Requests answered, by model, version, route and HTTP code",
                                ["model", "version", "route", "code"], registry=r)
        self.errors = Counter("govops_gateway_errors", "Failed upstream calls, by model, version, route and kind",
                              ["model", "version", "route", "kind"], registry=r)
        self.latency = Histogram("govops_gateway_request_duration_seconds",
                                 "Whole-request latency seen by the caller, by answering model/version/route",
                                 ["model", "version", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.failovers = Counter("govops_gateway_failovers", "Requests answered by another version than routed",
                                 ["model", "from_version", "to_version"], registry=r)
        self.unavailable = Counter("govops_gateway_unavailable", "Requests no version could answer (503)",
                                   ["model"], registry=r)
        self.shadow = Counter("govops_gateway_shadow_requests", "Shadow calls, by outcome (ok, error, timeout)",
                              ["model", "version", "outcome"], registry=r)
        self.shadow_dropped = Counter("govops_gateway_shadow_dropped",
                                      "Shadow calls dropped because the queue was full", ["model"], registry=r)
        self.rejected = Counter("govops_gateway_rejected", "Requests refused before routing, by reason",
                                ["reason"], registry=r)
        self.reloads = Counter("govops_gateway_table_reloads", "Routing-table reloads, by outcome",
                               ["outcome"], registry=r)

    def watch_log(self, stats: Callable[[], dict[str, object]]) -> None:
        """Expose the prediction log's counters."""
        self.registry.register(_LogCollector(stats))

    def render(self, tenant: str | None = None) -> bytes:
        """The text exposition format: everything, or only ``tenant``'s models' series.

        A tenant sees the series whose ``model`` label is one of its models (``tenant/…``) and nothing
        gateway-wide; blocking (it walks every series), so the gateway calls it off the event loop.
        """
        if tenant is None:
            return generate_latest(self.registry)
        return generate_latest(_TenantView(self.registry, f"{tenant}/"))


class _TenantView:
    """The registry's metric families, keeping only samples labelled with one tenant's models."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.registry = registry
        self.prefix = prefix

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            samples = [s for s in family.samples if s.labels.get("model", "").startswith(self.prefix)]
            if samples:
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = samples
                yield kept
