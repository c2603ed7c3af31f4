"""Decision cache under ``.govops/cache/policy/``, keyed by (policy digest, input digest).

Part of the policy stage. The input digest covers the whole input except ``now_ns``,
plus where ``now_ns`` falls among the times the policies compare it with (freeze
bounds, waiver expiries): a decision is reused only while no such boundary has been
crossed. One JSON file per policy digest, replaced atomically. A cache never decides:
a missing, unreadable or foreign file is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_VERSION = "1"
CACHE_DIR = Path(".govops") / "cache" / "policy"


def input_key(input_json_without_now: str, time_bucket: int) -> str:
    """sha256 of the canonical input (without ``now_ns``) and the clock's position."""
    h = hashlib.sha256(input_json_without_now.encode())
    h.update(f"|now-bucket:{time_bucket}".encode())
    return h.hexdigest()


class DecisionCache:
    """Decisions of one policy digest; ``save`` writes new entries back."""

    def __init__(self, root: Path, policy_digest: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = root / CACHE_DIR / f"{policy_digest}-v{CACHE_VERSION}.json"
        self.entries: dict[str, Any] = {}
        self.dirty = False
        if enabled and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if isinstance(data, dict):
                    self.entries = data
            except (OSError, ValueError):
                self.entries = {}

    def get(self, key: str) -> Any | None:
        """The cached decision, or None."""
        return self.entries.get(key) if self.enabled else None

    def put(self, key: str, decision: Any) -> None:
        """Remember a decision (kept in memory until ``save``)."""
        if self.enabled:
            self.entries[key] = decision
            self.dirty = True

    def save(self) -> None:
        """Write the file atomically (best effort: a read-only tree just means no cache)."""
        if not (self.enabled and self.dirty):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(self.entries, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass
