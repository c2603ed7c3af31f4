"""Alert delivery: one small protocol, one module per channel, a registry of names.

Monitoring stage, output side. An :class:`Alert` is data (model, metric, severity, firing
or resolved); a :class:`Sender` delivers it to one channel declared in a spec
(``slack``, ``pagerduty``, ``email``) and raises :class:`DeliveryError` when it cannot.
De-duplication, re-notify intervals, retries and the outbox live in
:mod:`engine.monitoring.alerts.manager` and :mod:`engine.monitoring.alerts.outbox`; senders never decide
whether to send and never log secrets.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from engine.monitoring.alerts.secrets import SecretStore


@dataclass
class Alert:
    """One alert: a (model, metric, severity) that is firing or has resolved."""

    model: str
    metric: str
    severity: str  # warning | critical
    status: str  # firing | resolved
    summary: str
    at: str
    value: float | None = None
    bound: str | None = None
    health: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``model|metric|severity``: the de-duplication identity."""
        return f"{self.model}|{self.metric}|{self.severity}"

    @property
    def dedup_key(self) -> str:
        """A stable id for receivers that correlate trigger and resolve (PagerDuty ``dedup_key``, <= 255 chars)."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        return f"govops/{self.model}/{self.metric}/{self.severity}"[:200] + f"/{digest}"

    def title(self) -> str:
        """A one-line headline."""
        word = "RESOLVED" if self.status == "resolved" else self.severity.upper()
        return f"[govops {word}] {self.model}: {self.summary}"

    def to_data(self) -> dict[str, Any]:
        """JSON form (outbox, state)."""
        return asdict(self)

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Alert:
        """Inverse of :meth:`to_data`."""
        return cls(**d)


class Sender(Protocol):
    """Delivers an alert to one declared channel."""

    type: str

    def send(self, alert: Alert, channel: Any, secrets: SecretStore) -> None:
        """Deliver or raise :class:`DeliveryError`."""
        ...


def get(channel_type: str) -> Sender:
    """The sender registered for a channel type."""
    from engine.monitoring.alerts.email import EmailSender
    from engine.monitoring.alerts.pagerduty import PagerDutySender
    from engine.monitoring.alerts.slack import SlackSender

    senders: dict[str, Sender] = {"slack": SlackSender(), "pagerduty": PagerDutySender(), "email": EmailSender()}
    try:
        return senders[channel_type]
    except KeyError:
        raise ValueError(f"unknown alert channel type '{channel_type}' (known: {', '.join(senders)})") from None
