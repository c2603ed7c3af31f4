"""PagerDuty Events API v2: ``POST {base}/v2/enqueue`` with a trigger or resolve event.

Body (PagerDuty's documented schema): ``routing_key``, ``event_action`` (``trigger`` /
``resolve``), ``dedup_key`` (the alert's stable id, so a resolve closes the incident a
trigger opened and a re-notify updates it), and for triggers a ``payload`` with
``summary`` (<= 1024 chars), ``source``, ``severity`` (critical, error, warning, info),
``timestamp``, ``component``, ``group``, ``class`` and ``custom_details``. PagerDuty answers
202 ``{"status": "success", "dedup_key": …}``; 400 for an invalid event, 429 when throttled.
The base URL is ``GOVOPS_PAGERDUTY_URL`` (default ``https://events.pagerduty.com``).
"""

from __future__ import annotations

import json
from typing import Any

from engine.monitoring.alerts import Alert
from engine.monitoring.alerts.http import post_json
from engine.monitoring.alerts.secrets import SecretStore
from engine.spec.errors import DeliveryError, MissingSecret


def base_url() -> str:
    """The Events API base URL (configurable so tests can run a local receiver)."""
    from engine.spec.settings import get_settings

    return get_settings().pagerduty_url.rstrip("/")


def event(alert: Alert, channel: Any, routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for this alert."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if alert.status == "resolved" else "trigger",
        "dedup_key": alert.dedup_key,
    }
    if alert.status != "resolved":
        # govops 'critical' alerts go out with the channel's declared severity; warnings stay warnings
        severity = getattr(channel, "severity", "error") if alert.severity == "critical" else "warning"
        body["payload"] = {
            "summary": alert.title()[:1024],
            "source": f"govops/{alert.model}",
            "severity": severity,
            "timestamp": alert.at,
            "component": alert.model,
            "group": alert.model.split("/", 1)[0],
            "class": alert.metric.split("[", 1)[0],
            "custom_details": {"metric": alert.metric, "value": alert.value, "allowed": alert.bound,
                               "health": alert.health, **alert.details},
        }
        body["client"] = "govops"
    return body


class PagerDutySender:
    """Sends trigger and resolve events to PagerDuty."""

    type = "pagerduty"

    def send(self, alert: Alert, channel: Any, secrets: SecretStore) -> None:
        """Deliver one alert."""
        try:
            key = secrets.channel_secret(channel.routing_key_secret, alert.model)
        except MissingSecret as exc:
            raise DeliveryError(f"pagerduty: {exc}", retryable=False) from exc
        answer = post_json(f"{base_url()}/v2/enqueue", event(alert, channel, key), what="pagerduty events",
                           ok=(202,))
        try:
            status = json.loads(answer).get("status")
        except ValueError:
            status = None
        if status != "success":
            raise DeliveryError(f"pagerduty answered {answer[:200]!r}", retryable=False)
