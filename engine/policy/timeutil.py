"""Times as policies see them: integer nanoseconds since the epoch, computed here.

regopy's time parsers reject the ``Z`` suffix and silently return undefined on a
malformed time (DESIGN.md), so policies never parse times: the engine hands them
integers. Naive datetimes are taken as UTC.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def to_ns(dt: datetime) -> int:
    """Exact integer nanoseconds since the epoch (no float rounding)."""
    return (_aware(dt) - _EPOCH) // timedelta(microseconds=1) * 1000


def to_rfc3339(dt: datetime) -> str:
    """``2026-12-24T00:00:00+00:00`` form (never ``Z``)."""
    return _aware(dt).astimezone(UTC).isoformat()


def parse_now(text: str | None) -> int:
    """``now`` in nanoseconds: the given RFC 3339 time (``Z`` accepted), else the clock."""
    if not text:
        return time.time_ns()
    try:
        return to_ns(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        from engine.spec.errors import InputError

        raise InputError(f"GOVOPS_NOW={text!r} is not an RFC 3339 time such as 2026-12-25T10:00:00+00:00") from None
