"""Which alerts to send: one per (model, metric, severity), de-duplicated, re-notified, resolved.

Monitoring stage. Compares what is firing now with what was firing (persisted in
``.govops/monitoring/alerts.json``): a new key is sent to every channel of the model's
spec; a key still firing is sent again only after the re-notify interval
(``GOVOPS_ALERT_RENOTIFY``, default ``4h``); a key no longer firing is sent once as
resolved and forgotten. Each send goes through :class:`~engine.monitoring.alerts.outbox.Outbox`
(retries, then the outbox), so per request or per pass nothing is sent twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.monitoring.alerts import Alert
from engine.monitoring.alerts.outbox import Outbox
from engine.spec.private_files import private_dir, write_private


def parse_duration(text: str) -> float:
    """``90s``, ``5m``, ``1h``, ``2d`` (or plain seconds) as seconds; ``ValueError`` otherwise."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        value = float(text[:-1])
        unit = units[text[-1]]
    else:
        value, unit = float(text), 1
    if value <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return value * unit


def renotify_seconds() -> float:
    """The re-notify interval from ``GOVOPS_ALERT_RENOTIFY``."""
    from engine.spec.settings import get_settings

    return parse_duration(get_settings().alert_renotify)


@dataclass
class Sent:
    """What one reconcile pass did for one model."""

    sent: list[dict[str, Any]] = field(default_factory=list)  # {key, status, channel, delivered}
    active: list[str] = field(default_factory=list)


class AlertManager:
    """Alert state of one repository."""

    def __init__(self, folder: Path, outbox: Outbox, renotify_s: float | None = None) -> None:
        self.folder = folder
        self.outbox = outbox
        self.renotify_s = renotify_seconds() if renotify_s is None else renotify_s

    @property
    def path(self) -> Path:
        """``alerts.json``."""
        return self.folder / "alerts.json"

    def active(self) -> dict[str, dict[str, Any]]:
        """Firing alerts by key."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data.get("active", {}) if isinstance(data, dict) else {}

    def _save(self, active: dict[str, dict[str, Any]]) -> None:
        private_dir(self.folder)
        write_private(self.path, json.dumps({"active": active}, indent=2, sort_keys=True) + "\n")

    def reconcile(self, model: str, firing: list[Alert], channels: list[Any], now: float | None = None) -> Sent:
        """Send what is new, due again or resolved for ``model``; persist the new state."""
        now = time.time() if now is None else now
        active = self.active()
        result = Sent()
        current = {a.key: a for a in firing}
        for key, alert in current.items():
            prev = active.get(key)
            due = prev is None or now - float(prev.get("last_sent", 0)) >= self.renotify_s
            if due:
                if prev is not None:
                    alert.details = {**alert.details, "renotify": True, "firing_since": prev.get("first_at")}
                self._send(alert, channels, result)
            active[key] = {
                "model": alert.model, "metric": alert.metric, "severity": alert.severity,
                "first_at": prev.get("first_at", alert.at) if prev else alert.at,
                "last_sent": now if due else float(prev.get("last_sent", now)) if prev else now,
                "sends": (int(prev.get("sends", 0)) if prev else 0) + (1 if due else 0),
                "value": alert.value, "summary": alert.summary,
            }
        for key in [k for k, v in active.items() if v.get("model") == model and k not in current]:
            prev = active.pop(key)
            resolved = Alert(model, prev["metric"], prev["severity"], "resolved",
                             f"{prev['metric']} is back within bounds", _iso(now),
                             details={"firing_since": prev.get("first_at")})
            self._send(resolved, channels, result)
        self._save(active)
        result.active = sorted(k for k, v in active.items() if v.get("model") == model)
        return result

    def _send(self, alert: Alert, channels: list[Any], result: Sent) -> None:
        for ch in channels:
            ok = self.outbox.deliver(alert, ch)
            result.sent.append({"key": alert.key, "metric": alert.metric, "severity": alert.severity,
                                "status": alert.status, "channel": ch.type, "delivered": ok, "at": alert.at})


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
