"""What every metric kind reads: the spec, the window, the reference profile (monitoring stage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.monitoring.window import Window
from engine.spec.model import AlertThresholds, ModelSpec
from engine.validation.profile import Profile

MIN_FEEDBACK_ROWS = 20
MIN_GROUP_ROWS = 30


@dataclass
class KindContext:
    """Inputs of one model's metric computation."""

    spec: ModelSpec
    window: Window
    profile: Profile | None
    details: dict[str, Any] = field(default_factory=dict)  # per-kind evidence for the state file

    @property
    def thresholds(self) -> AlertThresholds:
        """The spec's ``monitoring.thresholds`` (empty when monitoring is not declared)."""
        mon = self.spec.spec.monitoring
        return mon.thresholds if mon is not None else AlertThresholds()

    def positive_key(self) -> str:
        """The positive class as a category key (``validation.positiveClass``, else ``1``)."""
        from engine.statistics.sketch import category_key

        val = self.spec.spec.validation
        pos = val.positive_class if val is not None else None
        return category_key(pos if pos is not None else 1)
