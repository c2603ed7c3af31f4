"""One monitored value, its bounds, its verdict and its 0-1 score (monitoring stage, pure).

Thresholds keep the catalogue's direction convention (``max_*`` is an upper bound,
``min_*`` a lower bound); a business KPI may have both. A value inside its bounds scores
1; outside, the score falls linearly with the relative excess and reaches 0 at twice the
bound (``max_psi: 0.2`` and a PSI of 0.4 or more score 0).

Fails closed: a bounded, gated metric without a value fails (``passed`` false, score 0, an
alert) and its note says why, unless the kind marked it ``not_judged`` with a reason: too
few rows or no feedback yet for this window, or nothing in the spec for it to apply to
(no column with declared bounds). Those are reported and never judged. This module never
reads data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from engine.spec.catalog_of_checks import direction


@dataclass
class Measured:
    """A metric of one kind over the window, judged against its bounds."""

    kind: str  # drift | performance | bias | anomaly | operational | kpi
    name: str
    value: float | None
    low: float | None = None
    high: float | None = None
    scope: str = "overall"
    gate: bool = True  # counts for the health score and alerts (per-feature evidence does not)
    note: str | None = None
    not_judged: str | None = None  # why a missing value is deliberately not judged (too few rows, n/a)

    @property
    def key(self) -> str:
        """``kind.name`` (plus ``[scope]`` when scoped): the metric part of an alert key."""
        base = f"{self.kind}.{self.name}"
        return base if self.scope == "overall" else f"{base}[{self.scope}]"

    @property
    def bounded(self) -> bool:
        """At least one bound is declared."""
        return self.low is not None or self.high is not None

    @property
    def judged(self) -> bool:
        """True when there is a value and at least one bound."""
        return self.value is not None and self.bounded

    @property
    def unknown(self) -> bool:
        """Bounded, without a value, and not deliberately left unjudged: it fails closed."""
        return self.value is None and self.bounded and self.not_judged is None

    @property
    def passed(self) -> bool | None:
        """Inside the bounds (``False`` when unknown, ``None`` when not judged)."""
        if self.unknown:
            return False
        if not self.judged:
            return None
        assert self.value is not None
        return not ((self.low is not None and self.value < self.low) or
                    (self.high is not None and self.value > self.high))

    @property
    def score(self) -> float | None:
        """1 inside the bounds, falling linearly to 0 at a relative excess of 100 %; 0 when unknown."""
        if self.unknown:
            return 0.0
        if not self.judged:
            return None
        assert self.value is not None
        excess = 0.0
        if self.high is not None and self.value > self.high:
            excess = (self.value - self.high) / max(abs(self.high), 1e-12)
        elif self.low is not None and self.value < self.low:
            excess = (self.low - self.value) / max(abs(self.low), 1e-12)
        return max(0.0, 1.0 - excess)

    def bound_text(self) -> str:
        """``<= 0.2``, ``>= 0.8`` or ``in [0.2, 0.6]``."""
        if self.low is not None and self.high is not None:
            return f"in [{self.low:g}, {self.high:g}]"
        if self.high is not None:
            return f"<= {self.high:g}"
        if self.low is not None:
            return f">= {self.low:g}"
        return "(not judged)"

    def describe(self) -> str:
        """``drift.drifted_share = 0.8 (allowed <= 0.3)``."""
        if self.unknown:
            return f"{self.key} {self.note or 'could not be computed'} (allowed {self.bound_text()})"
        v = "n/a" if self.value is None else f"{self.value:.4g}"
        return f"{self.key} = {v} (allowed {self.bound_text()})"

    def to_data(self) -> dict[str, Any]:
        """JSON form, with the verdict and score."""
        d = asdict(self)
        d.update(key=self.key, passed=self.passed, score=self.score, unknown=self.unknown)
        if d["value"] is not None and not math.isfinite(d["value"]):
            d["value"] = None
        return d


def bounded(kind: str, name: str, value: float | None, thresholds: dict[str, float], *,
            scope: str = "overall", gate: bool = True, note: str | None = None, why: str | None = None,
            not_judged: str | None = None) -> Measured:
    """A metric judged against ``min_<name>`` / ``max_<name>`` from ``thresholds`` (either may be absent).

    Without a value it fails closed with ``why`` in its note, unless ``not_judged`` gives
    the reason it is deliberately left out (which becomes the note).
    """
    low = thresholds.get(f"min_{name}")
    high = thresholds.get(f"max_{name}")
    if value is not None and not math.isfinite(value):
        value, why = None, why or f"not a finite number ({value})"
    if value is None and not_judged is not None:
        note = not_judged if note is None else f"{note}; {not_judged}"
    elif value is None:
        reason = f"could not be computed: {why or 'no value on this window'}"
        note = reason if note is None else f"{reason}; {note}"
    return Measured(kind, name, value, low, high, scope, gate, note, not_judged if value is None else None)


def threshold_bounds(threshold: str, limit: float) -> tuple[float | None, float | None]:
    """``(low, high)`` for a catalogue threshold name and its limit."""
    return (limit, None) if direction(threshold) == "min" else (None, limit)
