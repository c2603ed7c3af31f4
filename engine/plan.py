"""The change plan: what a change does to each model (the second stage of the flow).

``diff_specs`` compares a model's spec at the base and at the head and returns a plan
entry: a plain JSON-able dict that policies receive as ``input.plan`` and that
``govops plan`` prints. Reading the two trees from Git is ``engine.gitread``'s job;
this module is pure and never touches Git.
"""

from __future__ import annotations

from typing import Any

from engine.catalog_of_checks import direction
from engine.config import Governance
from engine.spec import ModelSpec
from engine.thresholds import effective_checks

CHANGE_KINDS = (
    "new_model",
    "removed_model",
    "moved",
    "new_version",
    "removed_version",
    "artifact_changed",
    "champion_change",
    "challenger_change",
    "traffic_change",
    "failover_change",
    "tier_change",
    "threshold_tightened",
    "threshold_loosened",
    "check_added",
    "check_removed",
    "monitoring_change",
    "interface_change",
    "metadata_change",
)


def _traffic(spec: ModelSpec | None) -> dict[str, dict[str, Any]]:
    if spec is None or spec.spec.deployment is None:
        return {}
    dep = spec.spec.deployment
    out: dict[str, dict[str, Any]] = {dep.champion: {"role": "champion"}}
    for ch in dep.challengers:
        out[ch.version] = {"role": ch.mode, **({"weight": ch.weight} if ch.weight is not None else {})}
    if dep.failover:
        out.setdefault(dep.failover, {"role": "failover"})
    return out


def _digests(spec: ModelSpec | None) -> dict[str, str | None]:
    return {v.id: v.artifact.sha256 for v in spec.spec.versions} if spec else {}


def diff_specs(
    base: ModelSpec | None,
    head: ModelSpec | None,
    *,
    base_file: str | None = None,
    head_file: str | None = None,
    config: Governance | None = None,
) -> dict[str, Any]:
    """The plan entry for one model between two states (either side may be absent)."""
    if base is None and head is None:
        raise ValueError("diff_specs needs at least one side")
    model_id = (head or base).id  # type: ignore[union-attr]
    kinds: list[str] = []
    entry: dict[str, Any] = {
        "model": model_id,
        "change": "modified",
        "file": head_file,
        "previous_file": base_file,
        "kinds": kinds,
    }
    if base is None:
        entry["change"] = "added"
        kinds.append("new_model")
    elif head is None:
        entry["change"] = "removed"
        kinds.append("removed_model")
    elif base_file and head_file and base_file != head_file:
        entry["change"] = "moved"
        kinds.append("moved")

    old_v, new_v = _digests(base), _digests(head)
    entry["new_versions"] = [v for v in new_v if v not in old_v]
    entry["removed_versions"] = [v for v in old_v if v not in new_v]
    entry["changed_artifacts"] = [v for v in new_v if v in old_v and new_v[v] != old_v[v]]
    if entry["new_versions"] and base is not None:
        kinds.append("new_version")
    if entry["removed_versions"] and head is not None:
        kinds.append("removed_version")
    if entry["changed_artifacts"]:
        kinds.append("artifact_changed")

    old_dep = base.spec.deployment if base else None
    new_dep = head.spec.deployment if head else None
    old_champ = old_dep.champion if old_dep else None
    new_champ = new_dep.champion if new_dep else None
    entry["champion"] = {"from": old_champ, "to": new_champ}
    if old_champ != new_champ and base is not None and head is not None:
        kinds.append("champion_change")
    old_t, new_t = _traffic(base), _traffic(head)
    entry["traffic"] = {"from": old_t, "to": new_t}
    old_ch = {k: v for k, v in old_t.items() if v["role"] in ("canary", "ab", "shadow")}
    new_ch = {k: v for k, v in new_t.items() if v["role"] in ("canary", "ab", "shadow")}
    if base is not None and head is not None:
        if {k: v["role"] for k, v in old_ch.items()} != {k: v["role"] for k, v in new_ch.items()}:
            kinds.append("challenger_change")
        if {k: v.get("weight") for k, v in old_ch.items()} != {k: v.get("weight") for k, v in new_ch.items()}:
            kinds.append("traffic_change")
        old_fo = old_dep.failover if old_dep else None
        new_fo = new_dep.failover if new_dep else None
        if old_fo != new_fo:
            kinds.append("failover_change")
    entry["tier"] = {"from": base.spec.tier if base else None, "to": head.spec.tier if head else None}
    if base is not None and head is not None and base.spec.tier != head.spec.tier:
        kinds.append("tier_change")

    entry["thresholds"] = _threshold_changes(base, head, config)
    if base is not None and head is not None:
        changes = {t["change"] for t in entry["thresholds"]}
        for change, kind in (
            ("tightened", "threshold_tightened"),
            ("loosened", "threshold_loosened"),
            ("check_added", "check_added"),
            ("check_removed", "check_removed"),
        ):
            if change in changes:
                kinds.append(kind)
        if base.spec.monitoring != head.spec.monitoring:
            kinds.append("monitoring_change")
        if base.spec.interface != head.spec.interface:
            kinds.append("interface_change")
        if base.metadata != head.metadata:
            kinds.append("metadata_change")
    if not kinds:
        entry["change"] = "unchanged"
    return entry


def _threshold_changes(
    base: ModelSpec | None, head: ModelSpec | None, config: Governance | None
) -> list[dict[str, Any]]:
    if base is None or head is None:
        return []
    old, new = effective_checks(base, config), effective_checks(head, config)
    out: list[dict[str, Any]] = []
    for check in sorted(set(old) | set(new)):
        if check not in old:
            out.append({"check": check, "threshold": None, "from": None, "to": None, "change": "check_added"})
            continue
        if check not in new:
            out.append({"check": check, "threshold": None, "from": None, "to": None, "change": "check_removed"})
            continue
        for name in sorted(set(old[check]) | set(new[check])):
            a, b = old[check].get(name), new[check].get(name)
            if a == b:
                continue
            if a is None or b is None:
                change = "loosened" if b is None else "tightened"
            elif direction(name) == "min":
                change = "tightened" if b > a else "loosened"
            else:
                change = "tightened" if b < a else "loosened"
            out.append({"check": check, "threshold": name, "from": a, "to": b, "change": change})
    return out
