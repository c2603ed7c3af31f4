"""Desired versus live: the changes a rollout makes, printed like ``kubectl diff`` / Argo CD.

Merge stage. Pure functions over ``DesiredState`` and ``LiveState``: which versions to
load, replace (same version id, different artifact or settings), unload, or only
re-route (role or weight changed). Printing never changes anything.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.rollout.desired import ROLE_ORDER, DesiredState

Action = Literal["load", "replace", "unload", "route"]


@dataclass
class LiveVersion:
    """A version the target serves now (as recorded by the target, plus its readiness)."""

    model: str
    version: str
    role: str | None
    weight: float | None
    artifact_uri: str | None
    sha256: str | None
    runtime: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    ready: bool | None = None

    def serving_key(self) -> dict[str, Any]:
        """Same shape as ``DesiredVersion.serving_key``."""
        return {
            "artifact_uri": self.artifact_uri,
            "sha256": self.sha256,
            "runtime": self.runtime,
            "settings": self.settings,
        }


@dataclass
class LiveState:
    """What serves now: versions by model id, and the commit/digest of the last rollout."""

    commit: str | None = None
    digest: str | None = None
    models: dict[str, dict[str, LiveVersion]] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One step of a rollout."""

    action: Action
    model: str
    version: str
    role: str | None = None
    weight: float | None = None
    detail: str = ""

    def to_data(self) -> dict[str, Any]:
        """JSON form (ledger, ``--format json``)."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}

    def render(self) -> str:
        """One line: ``+ lab/iris-species 1.1.0 (canary 20%)``."""
        sign = {"load": "+", "replace": "~", "unload": "-", "route": "~"}[self.action]
        role = _role_text(self.role, self.weight)
        extra = f" — {self.detail}" if self.detail else ""
        return f"{sign} {self.action:<7} {self.model} {self.version}{f' ({role})' if role else ''}{extra}"


def _role_text(role: str | None, weight: float | None) -> str:
    if role is None:
        return ""
    return f"{role} {weight:g}%" if weight is not None else role


def plan_changes(desired: DesiredState, live: LiveState) -> list[Change]:
    """Every change that brings ``live`` to ``desired``: loads and replaces first, unloads last."""
    loads: list[Change] = []
    routes: list[Change] = []
    unloads: list[Change] = []
    for model_id in sorted(set(desired.models) | set(live.models)):
        want = desired.models.get(model_id)
        have = live.models.get(model_id, {})
        wanted_ids = {v.version for v in want.versions} if want else set()
        if want is not None:
            for v in want.versions:
                cur = have.get(v.version)
                if cur is None:
                    loads.append(Change("load", model_id, v.version, v.role, v.weight, "new version"))
                elif cur.serving_key() != v.serving_key():
                    what = [k for k in v.serving_key() if v.serving_key()[k] != cur.serving_key()[k]]
                    loads.append(
                        Change("replace", model_id, v.version, v.role, v.weight, f"{', '.join(what)} changed")
                    )
                elif cur.ready is False:
                    loads.append(Change("load", model_id, v.version, v.role, v.weight, "not ready: reload"))
                elif (cur.role, cur.weight) != (v.role, v.weight):
                    was = _role_text(cur.role, cur.weight) or "unrouted"
                    routes.append(Change("route", model_id, v.version, v.role, v.weight, f"was {was}"))
        for vid in sorted(set(have) - wanted_ids):
            why = "model removed from the specs" if want is None else "no longer deployed"
            unloads.append(Change("unload", model_id, vid, have[vid].role, have[vid].weight, why))
    return loads + routes + unloads


def _model_lines(versions: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    order = {r: i for i, r in enumerate(ROLE_ORDER)}
    for vid, v in sorted(versions.items(), key=lambda kv: (order.get(kv[1].get("role") or "", 9), kv[0])):
        lines.append(f"version: {vid}\n")
        for key in ("role", "weight", "artifact_uri", "sha256", "runtime"):
            if v.get(key) is not None:
                lines.append(f"  {key}: {v[key]}\n")
        settings = v.get("settings") or {}
        for key in sorted(k for k in settings if k not in ("name", "parameters", "implementation")):
            lines.append(f"  mlserver.{key}: {settings[key]}\n")
    return lines


def render_diff(desired: DesiredState, live: LiveState, changes: list[Change] | None = None) -> str:
    """A unified diff per model (``--- live/<id>`` / ``+++ desired/<id>``) and a one-line summary."""
    changes = plan_changes(desired, live) if changes is None else changes
    out: list[str] = []
    touched = sorted({c.model for c in changes})
    for model_id in touched:
        want = desired.models.get(model_id)
        have = live.models.get(model_id, {})
        a = _model_lines({k: v.__dict__ for k, v in have.items()})
        b = _model_lines({v.version: v.__dict__ for v in want.versions} if want else {})
        out.append(f"diff -u live/{model_id} desired/{model_id}\n")
        out.extend(difflib.unified_diff(a, b, f"live/{model_id}", f"desired/{model_id}", n=2))
    if not changes:
        out.append(
            f"in sync: {len(desired.models)} model(s) at {desired.ref}"
            f"{f' ({desired.commit[:12]})' if desired.commit else ''} already serve as desired\n"
        )
        return "".join(out)
    counts = {a: sum(c.action == a for c in changes) for a in ("load", "replace", "route", "unload")}
    out.append("\n")
    out.extend(c.render() + "\n" for c in changes)
    out.append(
        f"out of sync: {len(touched)} model(s): "
        + ", ".join(f"{n} to {a}" for a, n in counts.items() if n)
        + "\n"
    )
    return "".join(out)
