"""Delivery with retries and backoff, and the outbox of sends that still failed (alerts, I/O).

Every attempt is appended to ``.govops/monitoring/deliveries.jsonl`` (what was sent where,
when, and the outcome; never a secret: errors pass :meth:`SecretStore.redact`, and both files
are created 0600 in a 0700 folder). A send is tried up to ``ATTEMPTS`` times with
exponential backoff (``GOVOPS_ALERT_RETRY_BASE_S``, default 0.5 s; a receiver's
``Retry-After`` is honoured up to 30 s); if it still fails it goes to
``.govops/monitoring/outbox.json`` and every later ``govops monitor`` pass retries it when
due (backoff doubling from one minute up to one hour). Nothing is dropped: an entry leaves
the outbox only when delivered.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from engine.monitoring.alerts import Alert, get
from engine.monitoring.alerts.secrets import SecretStore
from engine.spec.errors import DeliveryError
from engine.spec.model import Channel
from engine.spec.private_files import append_private, private_dir, write_private

ATTEMPTS = 3
MAX_RETRY_AFTER_S = 30.0
OUTBOX_MIN_S = 60.0
OUTBOX_MAX_S = 3600.0

_CHANNEL = TypeAdapter(Channel)


def _base_delay() -> float:
    from engine.spec.settings import get_settings

    return max(get_settings().alert_retry_base_s, 0.0)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _send(sender: Any, alert: Alert, channel: Any, secrets: SecretStore) -> None:
    """``sender.send``, with anything but a :class:`DeliveryError` turned into a final one.

    A sender that raises something else (an email header the library refuses, a bug) must fail
    this one delivery, never the monitoring pass: later models' alerts and shutdowns still run.
    """
    try:
        sender.send(alert, channel, secrets)
    except DeliveryError:
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise DeliveryError(f"{getattr(sender, 'type', 'channel')}: the alert could not be sent "
                            f"({type(exc).__name__}: {exc})", retryable=False) from exc


class Outbox:
    """The outbox and delivery log of one repository's monitoring state directory."""

    def __init__(self, folder: Path, secrets: SecretStore, sleep: Callable[[float], None] = time.sleep) -> None:
        self.folder = folder
        self.secrets = secrets
        self.sleep = sleep
        private_dir(folder)

    @property
    def path(self) -> Path:
        """``outbox.json``."""
        return self.folder / "outbox.json"

    def entries(self) -> list[dict[str, Any]]:
        """Pending sends."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return data if isinstance(data, list) else []

    def _save(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:  # entries parked by an older version may still carry a URL
            if isinstance(e.get("last_error"), str):
                e["last_error"] = self.secrets.redact(e["last_error"])
        write_private(self.path, json.dumps(entries, indent=2) + "\n")

    def _log(self, alert: Alert, channel: dict[str, Any], outcome: str, error: str | None, attempt: int) -> None:
        record = {"at": _now(), "model": alert.model, "metric": alert.metric, "severity": alert.severity,
                  "status": alert.status, "channel": channel.get("type"), "outcome": outcome, "attempt": attempt,
                  "error": None if error is None else self.secrets.redact(error)}
        append_private(self.folder / "deliveries.jsonl", json.dumps(record) + "\n")

    def deliver(self, alert: Alert, channel: Any) -> bool:
        """Send with retries; on final failure, park it in the outbox. True when delivered."""
        data = channel.model_dump(mode="json", by_alias=True)
        error = self._attempts(alert, channel, data, ATTEMPTS)
        if error is None:
            return True
        entries = self.entries()
        entries.append({"id": uuid.uuid4().hex, "alert": alert.to_data(), "channel": data, "attempts": ATTEMPTS,
                        "last_error": error, "next_at": time.time() + OUTBOX_MIN_S, "queued_at": _now()})
        self._save(entries)
        return False

    def _attempts(self, alert: Alert, channel: Any, data: dict[str, Any], n: int, start: int = 0) -> str | None:
        sender = get(data["type"])
        error = "not attempted"
        for i in range(n):
            try:
                _send(sender, alert, channel, self.secrets)
                self._log(alert, data, "sent", None, start + i + 1)
                return None
            except DeliveryError as exc:
                error = self.secrets.redact(str(exc))
                self._log(alert, data, "failed", error, start + i + 1)
                if not exc.retryable or i == n - 1:
                    break
                delay = _base_delay() * (2 ** i)
                if exc.retry_after_s is not None:
                    delay = max(delay, min(exc.retry_after_s, MAX_RETRY_AFTER_S))
                self.sleep(delay)
        return error

    def flush(self, now: float | None = None, *, force: bool = False) -> tuple[int, int]:
        """Retry due outbox entries once each. Returns ``(delivered, still_pending)``."""
        now = time.time() if now is None else now
        kept: list[dict[str, Any]] = []
        delivered = 0
        for e in self.entries():
            if not force and e.get("next_at", 0) > now:
                kept.append(e)
                continue
            alert = Alert.from_data(e["alert"])
            channel = _CHANNEL.validate_python(e["channel"])
            error = self._attempts(alert, channel, e["channel"], 1, start=int(e.get("attempts", 0)))
            if error is None:
                delivered += 1
                continue
            e["attempts"] = int(e.get("attempts", 0)) + 1
            e["last_error"] = error
            e["next_at"] = now + min(OUTBOX_MIN_S * 2 ** max(e["attempts"] - ATTEMPTS, 0), OUTBOX_MAX_S)
            kept.append(e)
        if kept or self.path.exists():
            self._save(kept)
        return delivered, len(kept)
