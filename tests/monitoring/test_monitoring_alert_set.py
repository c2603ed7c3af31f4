"""Which alerts a monitoring pass raises: exactly the gated failures, and health below the minimum (issue #22).

Per-feature metrics that are not gated (drift evidence when ``max_drifted_share`` is the
gate) are reported, never alerted on; the critical health alert fires below the spec's
``health.minimum``, whether or not auto-shutdown's lower ``criticalHealth`` is reached.
"""

from __future__ import annotations

from engine.monitoring.health import Health
from engine.monitoring.measure import Measured
from engine.monitoring.run import ModelReport, firing_alerts

M = "clinical/readmission-triage"
AT = "2026-01-01T00:00:00Z"


def report(measured: list[Measured], score: float, *, minimum: float = 0.75,
           critical: float | None = 0.4) -> ModelReport:
    failing = [m.key for m in measured if m.gate and m.passed is False]
    h = Health(score, {"drift": 0.0}, {"drift": 1.0}, minimum, critical, failing)
    return ModelReport(M, rows=100, measured=measured, health=h)


MEASURED = [
    Measured("drift", "drifted_share", 0.6, high=0.3),                       # gated, failing -> alert
    Measured("drift", "psi", 0.9, high=0.2, scope="age", gate=False),       # evidence, failing -> no alert
    Measured("drift", "ks", 0.4, high=0.1, scope="age", gate=False),        # evidence, failing -> no alert
    Measured("drift", "psi", 0.05, high=0.2, scope="bmi", gate=False),      # evidence, passing
    Measured("operational", "error_rate", 0.0, high=0.01),                  # gated, passing
    Measured("performance", "accuracy", None, low=0.7, not_judged="3 row(s) with feedback"),  # waiting
    Measured("kpi", "referral_rate", None, low=0.2),                        # gated, unknown: fails closed -> alert
]


def test_exactly_the_gated_failures_and_health_alert() -> None:
    alerts = firing_alerts(report(MEASURED, 0.3), AT)
    assert sorted(a.key for a in alerts) == sorted([
        f"{M}|drift.drifted_share|warning",
        f"{M}|kpi.referral_rate|warning",
        f"{M}|health|critical",
    ])
    assert all(a.status == "firing" and a.at == AT for a in alerts)


def test_health_alert_below_minimum_even_above_critical() -> None:
    # 0.6 is above criticalHealth (0.4) but below the spec's minimum (0.75): red, so alerted
    alerts = firing_alerts(report(MEASURED, 0.6), AT)
    health = [a for a in alerts if a.metric == "health"]
    assert [a.key for a in health] == [f"{M}|health|critical"]
    assert "below minimum 0.75" in health[0].summary
    # auto-shutdown disabled (no critical threshold): the minimum still decides
    assert [a.metric for a in firing_alerts(report(MEASURED, 0.6, critical=None), AT)].count("health") == 1


def test_no_health_alert_at_or_above_minimum() -> None:
    for score in (0.75, 0.9):
        alerts = firing_alerts(report(MEASURED, score), AT)
        assert "health" not in [a.metric for a in alerts]
