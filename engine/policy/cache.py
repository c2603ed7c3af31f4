"""Decision cache under ``<cache dir>/policy/``, keyed by (policy digest, input digest, engine).

Part of the policy stage. The cache directory is outside every checkout
(``engine.spec.statedir``): a decision file committed in a pull request is never read. The
input digest covers the whole input except ``now_ns``, plus where ``now_ns`` falls
among the times the policies compare it with (freeze bounds, waiver expiries): a
decision is reused only while no such boundary has been crossed. One JSON file per
(policy digest, engine), replaced atomically; the file names its policy digest and
engine inside and every decision is re-validated on read. A cache never decides: a
missing, unreadable, foreign or malformed entry is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.policy.backend import check_result
from engine.policy.errors import PolicyError
from engine.spec.settings import Settings
from engine.spec.statedir import cache_dir

CACHE_VERSION = "2"
CACHE_FORMAT = f"govops/decision-cache/v{CACHE_VERSION}"
CACHE_KIND = "policy"


def input_key(input_json_without_now: str, time_bucket: int) -> str:
    """sha256 of the canonical input (without ``now_ns``) and the clock's position."""
    h = hashlib.sha256(input_json_without_now.encode())
    h.update(f"|now-bucket:{time_bucket}".encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def engine_id() -> str:
    """The versions that can change a decision besides policy and input (govops, regopy)."""
    parts = []
    for dist in ("govops", "regopy"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}=none")
    return ";".join(parts)


class DecisionCache:
    """Decisions of one policy digest; ``save`` writes new entries back.

    ``root`` is the checkout being judged: only used to refuse a cache directory inside it.
    """

    def __init__(
        self, root: Path, policy_digest: str, *, enabled: bool = True, settings: Settings | None = None
    ) -> None:
        self.enabled = enabled
        self.policy_digest = policy_digest
        name = hashlib.sha256(f"{CACHE_FORMAT}\0{policy_digest}\0{engine_id()}".encode()).hexdigest()
        self.path = (cache_dir(CACHE_KIND, settings, root=root) if enabled else Path(CACHE_KIND)) / f"{name}.json"
        self.entries: dict[str, Any] = {}
        self.dirty = False
        if enabled and self.path.is_file():
            self.entries = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(data, dict)
            or data.get("format") != CACHE_FORMAT
            or data.get("policy_digest") != self.policy_digest
            or data.get("engine") != engine_id()
            or not isinstance(data.get("entries"), dict)
        ):
            return {}  # another format, policy or engine: a miss, rewritten on save
        return data["entries"]

    def get(self, key: str) -> Any | None:
        """The cached decision, or None (also when the stored one is not a well-formed decision)."""
        if not self.enabled:
            return None
        found = self.entries.get(key)
        if found is None:
            return None
        try:
            return check_result(found, "cached decision")
        except PolicyError:
            return None

    def put(self, key: str, decision: Any) -> None:
        """Remember a decision (kept in memory until ``save``)."""
        if self.enabled:
            self.entries[key] = decision
            self.dirty = True

    def save(self) -> None:
        """Write the file atomically (best effort: an unwritable cache directory just means no cache)."""
        if not (self.enabled and self.dirty):
            return
        doc = {"format": CACHE_FORMAT, "policy_digest": self.policy_digest, "engine": engine_id(),
               "entries": self.entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass
