"""Monitoring state under ``.govops/monitoring/``: last metrics, health, flags and last alert per model.

Monitoring stage, output side. ``state.json`` is rewritten atomically after every
``govops monitor`` pass (one document, keyed by model id); ``govops status`` and
dashboards read it through :func:`read_health`. Never holds secrets; still, the folder is
0700 and every file in it 0600 (it also holds the alert outbox and delivery log).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.spec.private_files import open_private, private_dir, write_private

STATE_DIR = Path(".govops") / "monitoring"


def state_dir(root: Path) -> Path:
    """``<repo>/.govops/monitoring``."""
    return root / STATE_DIR


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a 0600 temp file then rename)."""
    write_private(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path, default: Any) -> Any:
    """The JSON document at ``path``, or ``default`` when it does not exist or is damaged."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """An exclusive lock on the monitoring state (one monitor pass at a time)."""
    d = private_dir(state_dir(root))
    with os.fdopen(open_private(d / ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_state(root: Path) -> dict[str, Any]:
    """The whole ``state.json`` (``{"models": {}}`` when monitoring never ran)."""
    doc = read_json(state_dir(root) / "state.json", {})
    doc.setdefault("models", {})
    return doc


def update_models(root: Path, models: dict[str, dict[str, Any]]) -> None:
    """Replace the entries of these models in ``state.json`` (others stay as they are)."""
    doc = read_state(root)
    doc["models"].update(models)
    write_json(state_dir(root) / "state.json", doc)


def read_health(root: Path) -> dict[str, dict[str, Any]]:
    """Per model id: ``{"health", "red", "critical", "flags", "last_alert", "updated", "shutdown", "blind"}``.

    ``health`` is ``None`` when the last window held nothing to judge; ``flags`` lists the
    failing metric keys (``drift.drifted_share`` …) plus ``health`` when red;
    ``last_alert`` is ``{"metric", "severity", "at", "status"}`` or ``None``; ``blind`` is
    ``{"since", "error"}`` while the model's spec does not load (health is then the last known).
    """
    out: dict[str, dict[str, Any]] = {}
    for model, entry in read_state(root)["models"].items():
        h = entry.get("health") or {}
        out[model] = {
            "health": h.get("score"),
            "red": bool(h.get("red")),
            "critical": bool(h.get("is_critical")),
            "flags": list(entry.get("flags", [])),
            "last_alert": entry.get("last_alert"),
            "updated": entry.get("updated"),
            "shutdown": entry.get("shutdown"),
            "blind": entry.get("blind"),
        }
    return out
