"""Routing overrides: the immediate half of an automatic shutdown (monitoring stage → gateway).

``.govops/gateway/overrides.json`` says, per model, that its traffic must go to one
version only (``failover``) or nowhere (``stop``) until the spec catches up:
``{"models": {"tenant/name": {"action": "failover"|"stop", "version": "1.0.0"|null,
"at": ISO-8601, "reason": "...", "branch": "govops/shutdown/..."}}}``. The gateway applies it
to its routing-table document with :func:`apply_overrides` (a pure function). An override
is cleared by :func:`clear_settled` once the spec itself says the same thing (the human
merged the shutdown branch). This module never edits specs or talks to MLServer.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from engine.spec.model import ModelSpec
from engine.spec.private_files import write_private

OVERRIDES_FILE = Path(".govops") / "gateway" / "overrides.json"


def overrides_path(root: Path) -> Path:
    """``<repo>/.govops/gateway/overrides.json``."""
    return root / OVERRIDES_FILE


def read_overrides(root: Path) -> dict[str, dict[str, Any]]:
    """Active overrides by model id (empty when none or unreadable)."""
    try:
        doc = json.loads(overrides_path(root).read_text())
    except (OSError, ValueError):
        return {}
    models = doc.get("models") if isinstance(doc, dict) else None
    return {k: v for k, v in models.items() if isinstance(v, dict)} if isinstance(models, dict) else {}


def _write(root: Path, models: dict[str, dict[str, Any]]) -> None:
    write_private(overrides_path(root), json.dumps({"models": models}, indent=2, sort_keys=True) + "\n")


def set_override(root: Path, model: str, entry: dict[str, Any]) -> None:
    """Record (or replace) the override of one model."""
    models = read_overrides(root)
    models[model] = entry
    _write(root, models)


def clear_override(root: Path, model: str) -> bool:
    """Remove a model's override; True if there was one."""
    models = read_overrides(root)
    if models.pop(model, None) is None:
        return False
    _write(root, models)
    return True


def settled(spec: ModelSpec, entry: dict[str, Any]) -> bool:
    """True when the spec already serves what the override forces."""
    dep = spec.spec.deployment
    if dep is None:
        return entry.get("action") == "stop"
    if entry.get("action") == "failover":
        return dep.champion == entry.get("version") and not dep.challengers
    return dep.replicas == 0 and not dep.challengers


def clear_settled(root: Path, specs: dict[str, ModelSpec]) -> list[str]:
    """Drop overrides the specs have caught up with; returns the models cleared."""
    models = read_overrides(root)
    done = [m for m, e in models.items() if m in specs and settled(specs[m], e)]
    if done:
        _write(root, {m: e for m, e in models.items() if m not in done})
    return done


def apply_overrides(doc: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A routing-table document (``engine.gateway.routing.table_from_data`` form) with overrides applied.

    ``failover``: the named version becomes the only one, as champion (its ``url`` kept);
    ``stop``: the model is removed, so the gateway answers 404 for it.
    """
    out = copy.deepcopy(doc)
    models = out.get("models", {})
    for model, entry in overrides.items():
        if model not in models:
            continue
        if entry.get("action") == "stop":
            del models[model]
            continue
        version = entry.get("version")
        versions = models[model].get("versions", {})
        kept = dict(versions.get(version, {}))
        kept.pop("weight", None)
        kept["role"] = "champion"
        models[model]["versions"] = {version: kept}
    return out
