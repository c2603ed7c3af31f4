"""Slack incoming webhooks: ``POST`` a JSON message to the webhook URL named by ``webhookSecret``.

Slack answers ``200`` with the body ``ok``; errors come back as 4xx with a short code
(``invalid_payload``, ``no_service``, ``channel_is_archived``) and 429 when rate limited.
"""

from __future__ import annotations

from typing import Any

from engine.monitoring.alerts import Alert
from engine.monitoring.alerts.http import post_json
from engine.monitoring.alerts.secrets import SecretStore
from engine.spec.errors import DeliveryError, MissingSecret


def message(alert: Alert, channel: Any) -> dict[str, Any]:
    """The webhook body: ``text`` (the fallback every client shows) plus Block Kit sections."""
    lines = [f"*{alert.title()}*"]
    if alert.value is not None:
        lines.append(f"value {alert.value:.4g}, allowed {alert.bound}")
    if alert.health is not None:
        lines.append(f"health {alert.health:.2f}")
    text = "\n".join(lines)
    body: dict[str, Any] = {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    if getattr(channel, "channel", None):
        body["channel"] = channel.channel
    return body


class SlackSender:
    """Posts alerts to a Slack incoming webhook."""

    type = "slack"

    def send(self, alert: Alert, channel: Any, secrets: SecretStore) -> None:
        """Deliver one alert."""
        try:
            url = secrets.channel_secret(channel.webhook_secret, alert.model)
        except MissingSecret as exc:
            raise DeliveryError(f"slack: {exc}", retryable=False) from exc
        answer = post_json(url, message(alert, channel), what="slack webhook", ok=(200,))
        if answer.strip() != "ok":
            raise DeliveryError(f"slack webhook answered {answer[:100]!r} instead of 'ok'", retryable=False)
