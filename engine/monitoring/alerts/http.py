"""One JSON POST with a timeout, mapping HTTP outcomes to :class:`DeliveryError` (alerts, I/O).

The URL is often the secret itself (a Slack webhook's path is its token), and requests and
urllib3 print it in their errors: messages built here name the receiver by scheme and host
only and keep the cause (``[Errno 111] Connection refused``, ``Read timed out``), never the
path, query or credentials.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from engine.monitoring.alerts.secrets import REDACTED, redact_urls, secret_fragments
from engine.spec.errors import DeliveryError

TIMEOUT_S = 10.0
_CAUSE = re.compile(r"\[Errno -?\d+\][^'\")\]]*|(?:Read|Connect(?:ion)?) timed out|timed out|"
                    r"Name or service not known|certificate verify failed[^'\")]*")


def scrub(text: str, url: str) -> str:
    """``text`` without ``url``'s secret parts and with every URL cut to scheme and host."""
    text = redact_urls(text)  # first, so a URL keeps its scheme and host
    for fragment in secret_fragments(url):
        text = text.replace(fragment, REDACTED)
    return text


def _cause(exc: requests.RequestException) -> str:
    m = _CAUSE.search(str(exc))
    return m.group(0).strip() if m else ""


def post_json(url: str, body: dict[str, Any], *, what: str, ok: tuple[int, ...] = (200, 201, 202, 204)) -> str:
    """POST ``body`` as JSON; return the response text, or raise (429 and 5xx retryable, other 4xx not)."""
    try:
        resp = requests.post(url, json=body, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        cause = _cause(exc)
        raise DeliveryError(scrub(f"{what}: {type(exc).__name__}{f' ({cause})' if cause else ''} "
                                  f"posting to {url}", url)) from None
    if resp.status_code in ok:
        return resp.text
    retry_after = resp.headers.get("Retry-After")
    text = resp.text[:300].strip()
    raise DeliveryError(
        scrub(f"{what}: HTTP {resp.status_code}{': ' + text if text else ''}", url),
        retryable=resp.status_code == 429 or resp.status_code >= 500,
        retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )
