"""The 0-1 health score of a model from its per-kind scores (monitoring stage, pure).

A kind's score is its worst gated metric's score (a kind is as healthy as its worst
judged metric). The health is the weighted mean of the kinds that could be judged on
this window, with ``monitoring.health.weights`` (kinds not listed weigh 0; no weights
declared: all six weigh 1); kinds with nothing to judge (no feedback yet, no threshold)
drop out and the rest are re-normalised. A model is red below ``health.minimum`` and
critical below ``autoShutdown.criticalHealth`` when auto-shutdown is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.monitoring.measure import Measured
from engine.spec.catalog_of_checks import METRIC_KINDS
from engine.spec.model import ModelSpec


@dataclass
class Health:
    """A model's health on one window."""

    score: float | None
    kinds: dict[str, float | None]
    weights: dict[str, float]
    minimum: float
    critical: float | None
    failing: list[str] = field(default_factory=list)  # keys of gated metrics outside their bounds

    @property
    def red(self) -> bool:
        """Below the spec's minimum."""
        return self.score is not None and self.score < self.minimum

    @property
    def is_critical(self) -> bool:
        """Below the auto-shutdown threshold (only when auto-shutdown is enabled)."""
        return self.score is not None and self.critical is not None and self.score < self.critical

    def to_data(self) -> dict[str, Any]:
        """JSON form."""
        return {"score": self.score, "kinds": self.kinds, "weights": self.weights, "minimum": self.minimum,
                "critical": self.critical, "red": self.red, "is_critical": self.is_critical,
                "failing": self.failing}


def weights_of(spec: ModelSpec) -> dict[str, float]:
    """The spec's kind weights (all 1 when none are declared)."""
    mon = spec.spec.monitoring
    declared: dict[str, float] = {str(k): float(v) for k, v in mon.health.weights.items()} if mon else {}
    if not declared:
        return dict.fromkeys(METRIC_KINDS, 1.0)
    return {k: float(declared.get(k, 0.0)) for k in METRIC_KINDS}


def kind_scores(measured: list[Measured]) -> dict[str, float | None]:
    """Each kind's worst gated score (``None`` when nothing of that kind was judged)."""
    out: dict[str, float | None] = dict.fromkeys(METRIC_KINDS)
    for m in measured:
        s = m.score
        if not m.gate or s is None:
            continue
        cur = out.get(m.kind)
        out[m.kind] = s if cur is None else min(cur, s)
    return out


def health(spec: ModelSpec, measured: list[Measured]) -> Health:
    """The model's health from its measured metrics."""
    mon = spec.spec.monitoring
    kinds = kind_scores(measured)
    weights = weights_of(spec)
    total = sum(weights[k] for k, s in kinds.items() if s is not None)
    score = None
    if total > 0:
        score = round(sum(weights[k] * s for k, s in kinds.items() if s is not None) / total, 6)
    critical = mon.auto_shutdown.critical_health if mon is not None and mon.auto_shutdown.enabled else None
    failing = [m.key for m in measured if m.gate and m.passed is False]
    return Health(score, kinds, weights, mon.health.minimum if mon is not None else 0.7, critical, failing)
