"""The change plan: what a change does to each model (the second stage of the flow).

``diff_specs`` compares a model's spec at the base and at the head and returns a plan
entry: a plain JSON-able dict that policies receive as ``input.plan`` and that
``govops plan`` prints. Reading the two trees from Git is ``engine.change.gitread``'s job;
this module is pure and never touches Git.
"""

from __future__ import annotations

from typing import Any

from engine.spec.catalog_of_checks import direction
from engine.spec.config import Governance, TierConfig
from engine.spec.model import ModelSpec
from engine.spec.thresholds import effective_checks

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
    base_config: Governance | None = None,
) -> dict[str, Any]:
    """The plan entry for one model between two states (either side may be absent).

    ``config`` is the governance config at the head; ``base_config`` the one at the base
    (default: the same), so a threshold loosened by a tier default in ``govops.yaml``
    shows as loosened for the model too. The entry's kinds come in a fixed order: the
    model itself, its versions, its deployment and tier, its thresholds, its other sections.
    """
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
    _diff_versions(entry, base, head)
    _diff_deployment(entry, base, head)
    entry["tier"] = {"from": base.spec.tier if base else None, "to": head.spec.tier if head else None}
    if base is not None and head is not None and base.spec.tier != head.spec.tier:
        kinds.append("tier_change")
    entry["thresholds"] = _threshold_changes(base, head, config, base_config)
    if base is not None and head is not None:
        kinds.extend(_section_kinds(base, head, {t["change"] for t in entry["thresholds"]}))
        if not kinds and base != head:
            # nothing above names it, but the spec differs: never let an edit read as "unchanged"
            # (every rule guarded by a change, such as approvals, must see it)
            kinds.append("spec_change")
    if not kinds:
        entry["change"] = "unchanged"
    return entry


def _diff_versions(entry: dict[str, Any], base: ModelSpec | None, head: ModelSpec | None) -> None:
    """New, removed and re-pointed versions (by digest, then whole)."""
    kinds: list[str] = entry["kinds"]
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
    # a released version is compared whole, not by digest alone: pointing it at another
    # uri, runtime or lineage changes what would serve under an already approved id
    entry["changed_versions"] = _changed_versions(base, head)
    if entry["changed_versions"]:
        kinds.append("version_changed")


def _diff_deployment(entry: dict[str, Any], base: ModelSpec | None, head: ModelSpec | None) -> None:
    """The champion, the traffic split, the challengers and the failover."""
    kinds: list[str] = entry["kinds"]
    old_dep = base.spec.deployment if base else None
    new_dep = head.spec.deployment if head else None
    old_champ = old_dep.champion if old_dep else None
    new_champ = new_dep.champion if new_dep else None
    entry["champion"] = {"from": old_champ, "to": new_champ}
    if old_champ != new_champ and base is not None and head is not None:
        kinds.append("champion_change")
    old_t, new_t = _traffic(base), _traffic(head)
    entry["traffic"] = {"from": old_t, "to": new_t}
    if base is None or head is None:
        return
    old_ch = {k: v for k, v in old_t.items() if v["role"] in ("canary", "ab", "shadow")}
    new_ch = {k: v for k, v in new_t.items() if v["role"] in ("canary", "ab", "shadow")}
    if {k: v["role"] for k, v in old_ch.items()} != {k: v["role"] for k, v in new_ch.items()}:
        kinds.append("challenger_change")
    if {k: v.get("weight") for k, v in old_ch.items()} != {k: v.get("weight") for k, v in new_ch.items()}:
        kinds.append("traffic_change")
    old_fo = old_dep.failover if old_dep else None
    new_fo = new_dep.failover if new_dep else None
    if old_fo != new_fo:
        kinds.append("failover_change")


def _section_kinds(base: ModelSpec, head: ModelSpec, threshold_changes: set[str]) -> list[str]:
    """The kinds of a model on both sides: threshold moves, then each other section that differs."""
    kinds = [
        kind
        for change, kind in (
            ("tightened", "threshold_tightened"),
            ("loosened", "threshold_loosened"),
            ("check_added", "check_added"),
            ("check_removed", "check_removed"),
        )
        if change in threshold_changes
    ]
    if base.spec.monitoring != head.spec.monitoring:
        kinds.append("monitoring_change")
    if base.spec.interface != head.spec.interface:
        kinds.append("interface_change")
    if base.metadata != head.metadata:
        kinds.append("metadata_change")
    if base.spec.task != head.spec.task:
        kinds.append("task_change")
    if _deployment_settings(base) != _deployment_settings(head):
        kinds.append("deployment_change")
    if _validation_settings(base) != _validation_settings(head):
        kinds.append("validation_change")
    return kinds


def _changed_versions(base: ModelSpec | None, head: ModelSpec | None) -> list[str]:
    """Version ids on both sides whose entry differs in anything but its description."""
    if base is None or head is None:
        return []
    old = {v.id: v.model_copy(update={"description": ""}) for v in base.spec.versions}
    return [v.id for v in head.spec.versions if v.id in old and old[v.id] != v.model_copy(update={"description": ""})]


def _deployment_settings(spec: ModelSpec) -> Any:
    """The deployment without the traffic fields other kinds name (replicas, environment, resources, MLServer)."""
    dep = spec.spec.deployment
    return None if dep is None else dep.model_copy(update={"champion": "", "challengers": [], "failover": None})


def _validation_settings(spec: ModelSpec) -> Any:
    """The validation section without thresholds (data, label, slices, positive class, which checks are on)."""
    val = spec.spec.validation
    if val is None:
        return None
    return val.model_copy(update={"checks": {k: c.enabled for k, c in val.checks.items()}})


def _threshold_changes(
    base: ModelSpec | None,
    head: ModelSpec | None,
    config: Governance | None,
    base_config: Governance | None = None,
) -> list[dict[str, Any]]:
    if base is None or head is None:
        return []
    old = effective_checks(base, base_config if base_config is not None else config)
    new = effective_checks(head, config)
    out: list[dict[str, Any]] = []
    for check in sorted(set(old) | set(new)):
        if check not in old:
            out.append(
                {
                    "check": check,
                    "threshold": None,
                    "from": None,
                    "to": None,
                    "change": "check_added",
                }
            )
            continue
        if check not in new:
            out.append(
                {
                    "check": check,
                    "threshold": None,
                    "from": None,
                    "to": None,
                    "change": "check_removed",
                }
            )
            continue
        for name in sorted(set(old[check]) | set(new[check])):
            a, b = old[check].get(name), new[check].get(name)
            if a == b:
                continue
            change = _threshold_change(name, a, b)
            out.append({"check": check, "threshold": name, "from": a, "to": b, "change": change})
    return out


def _threshold_change(name: str, a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "loosened" if b is None else "tightened"
    if direction(name) == "min":
        return "tightened" if b > a else "loosened"
    return "tightened" if b < a else "loosened"


def diff_config(base: Governance | None, head: Governance | None) -> list[dict[str, Any]]:
    """What a change to ``govops.yaml`` does, one dict per change (pure, JSON-able).

    Each item has ``what`` (``tier``, ``required_check``, ``default_threshold``,
    ``approvals``, or a top-level key such as ``groups``), ``change`` (``added``,
    ``removed``, ``changed``, ``tightened``, ``loosened``) and the details. Tier defaults
    apply to every model of the tier, so a loosened default loosens all of them.
    """
    if base is None and head is None:
        return []
    if base is None or head is None:
        return [{"what": "config", "change": "added" if base is None else "removed"}]
    out: list[dict[str, Any]] = []
    for tier in sorted(set(base.tiers) | set(head.tiers)):
        old_t, new_t = base.tiers.get(tier), head.tiers.get(tier)
        if old_t is None or new_t is None:
            out.append({"what": "tier", "tier": tier, "change": "added" if old_t is None else "removed"})
            continue
        out.extend(_diff_tier(tier, old_t, new_t))
    old_d = base.to_data()
    new_d = head.to_data()
    for key in sorted((set(old_d) | set(new_d)) - {"tiers"}):
        if old_d.get(key) != new_d.get(key):
            out.append({"what": key, "change": "changed", "from": old_d.get(key), "to": new_d.get(key)})
    return out


def _diff_tier(tier: str, old_t: TierConfig, new_t: TierConfig) -> list[dict[str, Any]]:
    """What changed in one tier on both sides: required checks, defaults, approvals, other settings."""
    out: list[dict[str, Any]] = []
    for check in new_t.required_checks:
        if check not in old_t.required_checks:
            out.append({"what": "required_check", "tier": tier, "check": check, "change": "tightened"})
    for check in old_t.required_checks:
        if check not in new_t.required_checks:
            out.append({"what": "required_check", "tier": tier, "check": check, "change": "loosened"})
    for check in sorted(set(old_t.defaults) | set(new_t.defaults)):
        a_map, b_map = old_t.defaults.get(check, {}), new_t.defaults.get(check, {})
        for name in sorted(set(a_map) | set(b_map)):
            a, b = a_map.get(name), b_map.get(name)
            if a != b:
                out.append(
                    {
                        "what": "default_threshold",
                        "tier": tier,
                        "check": check,
                        "threshold": name,
                        "from": a,
                        "to": b,
                        "change": _threshold_change(name, a, b),
                    }
                )
    oa, na = old_t.approvals, new_t.approvals
    if oa != na:
        looser = na.count < oa.count or not set(oa.groups) <= set(na.groups)
        out.append(
            {
                "what": "approvals",
                "tier": tier,
                "from": oa.model_dump(),
                "to": na.model_dump(),
                "change": "loosened" if looser else "tightened",
            }
        )
    rest_old = old_t.model_dump(exclude={"required_checks", "defaults", "approvals", "description"})
    rest_new = new_t.model_dump(exclude={"required_checks", "defaults", "approvals", "description"})
    for key in sorted(rest_old):
        if rest_old[key] != rest_new[key]:
            out.append(
                {
                    "what": "tier_setting",
                    "tier": tier,
                    "setting": key,
                    "from": rest_old[key],
                    "to": rest_new[key],
                    "change": "changed",
                }
            )
    return out
