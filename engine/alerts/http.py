"""One JSON POST with a timeout, mapping HTTP outcomes to :class:`~engine.alerts.DeliveryError` (alerts, I/O)."""

from __future__ import annotations

from typing import Any

import requests

from engine.alerts import DeliveryError

TIMEOUT_S = 10.0


def post_json(url: str, body: dict[str, Any], *, what: str, ok: tuple[int, ...] = (200, 201, 202, 204)) -> str:
    """POST ``body`` as JSON; return the response text, or raise (429 and 5xx retryable, other 4xx not)."""
    try:
        resp = requests.post(url, json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}".split(" (Caused by")[0]) from exc
    if resp.status_code in ok:
        return resp.text
    retry_after = resp.headers.get("Retry-After")
    text = resp.text[:300].strip()
    raise DeliveryError(
        f"{what}: HTTP {resp.status_code}{': ' + text if text else ''}",
        retryable=resp.status_code == 429 or resp.status_code >= 500,
        retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
