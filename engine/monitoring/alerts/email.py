"""Email over SMTP (``smtplib``): one message per alert to the channel's ``to`` list.

Server and credentials are secrets: ``SMTP_HOST`` (required), ``SMTP_PORT`` (default 25),
``SMTP_USERNAME``/``SMTP_PASSWORD`` (optional login), ``SMTP_FROM`` (default
``govops@localhost``), ``SMTP_TLS`` (``none``, ``starttls`` or ``ssl``; default ``none``).
"""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from engine.monitoring.alerts import Alert
from engine.monitoring.alerts.secrets import SecretStore
from engine.spec.errors import DeliveryError, MissingSecret

TIMEOUT_S = 10.0


def build(alert: Alert, sender: str, to: list[str]) -> EmailMessage:
    """The message: the alert's title as subject, the values and details as the body."""
    msg = EmailMessage()
    msg["Subject"] = alert.title()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["X-Govops-Alert"] = alert.dedup_key
    body = [alert.title(), "", f"model:    {alert.model}", f"metric:   {alert.metric}",
            f"severity: {alert.severity}", f"status:   {alert.status}", f"at:       {alert.at}"]
    if alert.value is not None:
        body.append(f"value:    {alert.value:.6g} (allowed {alert.bound})")
    if alert.health is not None:
        body.append(f"health:   {alert.health:.3f}")
    if alert.details:
        body += ["", json.dumps(alert.details, indent=2, default=str)]
    msg.set_content("\n".join(body) + "\n")
    return msg


class EmailSender:
    """Sends alerts by SMTP."""

    type = "email"

    def send(self, alert: Alert, channel: Any, secrets: SecretStore) -> None:
        """Deliver one alert."""
        try:
            host = secrets.require("SMTP_HOST")
        except MissingSecret as exc:
            raise DeliveryError(f"email: {exc}", retryable=False) from exc
        port = int(secrets.get("SMTP_PORT", "25") or 25)
        tls = (secrets.get("SMTP_TLS", "none") or "none").lower()
        user, password = secrets.get("SMTP_USERNAME"), secrets.get("SMTP_PASSWORD")
        msg = build(alert, secrets.get("SMTP_FROM", "govops@localhost") or "govops@localhost", list(channel.to))
        try:
            cls = smtplib.SMTP_SSL if tls == "ssl" else smtplib.SMTP
            with cls(host, port, timeout=TIMEOUT_S) as smtp:
                if tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if user and password:
                    smtp.login(user, password)
                refused = smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"email: SMTP login refused ({exc.smtp_code})", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise DeliveryError(f"email: recipients refused: {', '.join(refused)}", retryable=False)
