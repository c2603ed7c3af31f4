"""Coverage of a regulation pack for one model: each control covered, partial or missing, with its evidence.

Part of the policy stage, used twice with the same rules: at PR time (:func:`facts_for_change`:
what the change itself guarantees, the evidence govops records only after merge counted as
``deferred``) and by the audit stage (``govops report --pack``, model cards), which passes
:class:`Facts` filled from the recorded evidence index. One evaluator, so a control judged
covered in a report is covered by the same definition the rollout gate used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.policy.packs import LEDGER_ITEMS, Control, Evidence, Pack

Item = dict[str, Any]
"""``{"status": covered|missing|deferred, "note": str, "links": [{"label", "commit", "record"}]}``."""


@dataclass
class Facts:
    """What is known about one model version, as evidence items by kind."""

    spec: dict[str, Any]
    """The spec as policies see it (``ModelSpec.to_data()``)."""
    version: str | None
    """The version the pack is judged for (the served champion by default)."""
    checks: dict[str, Item] = field(default_factory=dict)
    approvals: Item | None = None
    approvers: list[str] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    ledger: dict[str, Item] = field(default_factory=dict)
    monitoring_state: Item | None = None
    spec_link: dict[str, Any] | None = None
    """Where the spec facts come from (file, commit)."""


def _empty(value: Any) -> bool:
    """No evidence: nothing, or only whitespace (``limitations: ' '`` documents nothing)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == [] or value == {}


def _get(data: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def spec_value(facts: Facts, path: str) -> tuple[Any, str]:
    """The value at a pack's spec path, and the spec path it maps to (``version.x`` → ``spec.versions[i].x``)."""
    parts = path.split(".")
    if parts[0] != "version":
        return _get(facts.spec, parts), path
    versions = _get(facts.spec, ["spec", "versions"]) or []
    for i, v in enumerate(versions):
        if isinstance(v, dict) and v.get("id") == facts.version:
            return _get(v, parts[1:]), f"spec.versions[{i}]." + ".".join(parts[1:])
    return None, "spec.versions"


def judge_item(ev: Evidence, facts: Facts) -> Item:
    """One evidence item against the facts."""
    if ev.kind == "spec":
        value, where = spec_value(facts, ev.value)
        if _empty(value):
            return {"status": "missing", "note": f"{where} is not set", "links": [], "path": where}
        return {"status": "covered", "note": "", "links": [dict(facts.spec_link or {}, label=where)], "path": where}
    if ev.kind == "check":
        return facts.checks.get(ev.value) or {"status": "missing", "links": [],
                                              "note": f"no {ev.value} result", "path": "spec.validation.checks"}
    if ev.kind == "approval":
        return _approval(ev.value, facts)
    if ev.kind == "monitoring":
        return _monitoring(ev.value, facts)
    if ev.kind == "ledger":
        return facts.ledger.get(ev.value) or {"status": "missing", "links": [], "path": "spec.deployment",
                                              "note": f"not recorded: {LEDGER_ITEMS[ev.value]}"}
    return {"status": "missing", "note": f"unknown evidence kind {ev.kind}", "links": [], "path": "spec"}


def _approval(group: str, facts: Facts) -> Item:
    if facts.approvals is not None and facts.approvals["status"] != "covered":
        return facts.approvals
    people = facts.approvers if group == "any" else [p for p in facts.approvers if p in facts.groups.get(group, [])]
    if not people:
        who = "anyone but the author" if group == "any" else f"a member of group {group}"
        return {"status": "missing", "note": f"no approval from {who}", "links": [], "path": "spec.tier"}
    links = list((facts.approvals or {}).get("links") or [])
    return {"status": "covered", "note": "approved by " + ", ".join(sorted(people)), "links": links,
            "path": "spec.tier"}


def _monitoring(what: str, facts: Facts) -> Item:
    mon = _get(facts.spec, ["spec", "monitoring"]) or {}
    path = f"spec.monitoring.{what}"
    if what == "state":
        return facts.monitoring_state or {"status": "missing", "note": "no health measured by govops monitor",
                                          "links": [], "path": "spec.monitoring"}
    if what == "thresholds":
        th = mon.get("thresholds") or {}
        ok = any(not _empty(v) for v in th.values()) if isinstance(th, dict) else False
    elif what == "autoShutdown":
        ok = bool((mon.get("autoShutdown") or {}).get("enabled"))
    else:
        ok = not _empty(mon.get(what))
    if not ok:
        return {"status": "missing", "note": f"{path} is not declared", "links": [], "path": path}
    return {"status": "covered", "note": "", "links": [dict(facts.spec_link or {}, label=path)], "path": path}


def judge_control(control: Control, facts: Facts) -> dict[str, Any]:
    """A control's status (covered: every item covered or deferred; partial: some; missing: none)."""
    items = [{"kind": ev.kind, "value": ev.value, "key": ev.key, **judge_item(ev, facts)} for ev in control.evidence]
    good = [i for i in items if i["status"] in ("covered", "deferred")]
    status = "covered" if len(good) == len(items) else ("partial" if good else "missing")
    missing = [i for i in items if i["status"] not in ("covered", "deferred")]
    return {
        "id": control.id, "ref": control.ref, "title": control.title, "text": control.text, "status": status,
        "items": items, "missing": [i["key"] for i in missing],
        "path": missing[0]["path"] if missing else "spec",
    }


def coverage(pack: Pack, facts: Facts) -> dict[str, Any]:
    """Every control of ``pack`` judged for one model version, and a summary."""
    controls = [judge_control(c, facts) for c in pack.controls]
    counts = {s: sum(1 for c in controls if c["status"] == s) for s in ("covered", "partial", "missing")}
    return {"pack": pack.name, "title": pack.title, "source": pack.source, "published": pack.published,
            "file": pack.file, "version": facts.version, "complete": counts["covered"] == len(controls),
            "counts": counts, "controls": controls}


def policy_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The compact form policies receive (``input.packs[name]``): status, ref, what is missing, where."""
    return {
        "title": doc["title"],
        "found": True,
        "complete": doc["complete"],
        "controls": {
            c["id"]: {"status": c["status"], "ref": c["ref"], "missing": c["missing"],
                      "missing_text": ", ".join(c["missing"]), "path": c["path"]}
            for c in doc["controls"]
        },
    }


def served_version(spec: dict[str, Any]) -> str | None:
    """The champion the spec serves (the version a rollout puts in production)."""
    dep = _get(spec, ["spec", "deployment"]) or {}
    champion = dep.get("champion") if isinstance(dep, dict) else None
    return str(champion) if champion else None


def facts_for_change(spec: dict[str, Any], checks: dict[str, dict[str, float]], declared: dict[str, Any],
                     context: dict[str, Any], groups: dict[str, list[str]]) -> Facts:
    """What a change guarantees before it merges.

    A check counts when the model's effective checks run it (the validation gate must then
    pass before merge) and the spec does not disable it; approvals are the forge's, never the
    author's own; ledger records and a measured health are written by govops after merge, so
    they are ``deferred`` here (``govops report --pack`` and ``govops verify`` judge them).
    """
    facts = Facts(spec=spec, version=served_version(spec), groups=groups)
    for name in checks:
        cfg = declared.get(name) or {}
        if cfg.get("enabled", True) is False:
            facts.checks[name] = {"status": "missing", "note": f"{name} is disabled in the spec", "links": [],
                                  "path": f"spec.validation.checks.{name}.enabled"}
        else:
            facts.checks[name] = {"status": "covered", "note": f"{name} runs in the validation gate", "links": [],
                                  "path": "spec.tier"}
    author = context.get("author")
    facts.approvers = sorted({a["approver"] for a in context.get("approvals") or []
                              if isinstance(a, dict) and a.get("approver") and a.get("approver") != author})
    deferred = {"status": "deferred", "note": "recorded by govops when the change rolls out", "links": [],
                "path": "spec.deployment"}
    facts.ledger = {k: dict(deferred) for k in LEDGER_ITEMS}
    facts.monitoring_state = {"status": "deferred", "note": "measured by govops monitor once served",
                              "links": [], "path": "spec.monitoring"}
    return facts


def change_coverage(packs: dict[str, Pack], required: list[str], spec: dict[str, Any],
                    checks: dict[str, dict[str, float]], context: dict[str, Any],
                    groups: dict[str, list[str]]) -> dict[str, Any]:
    """``input.packs``: the policy view of every required pack for one model at PR time.

    A required pack the judging library does not hold is reported as ``found: false`` and
    incomplete: the policy then denies (fail closed), it never skips the pack.
    """
    declared = _get(spec, ["spec", "validation", "checks"]) or {}
    facts = facts_for_change(spec, checks, declared, context, groups)
    out: dict[str, Any] = {}
    for name in required:
        pack = packs.get(name)
        if pack is None:
            out[name] = {"title": name, "found": False, "complete": False, "controls": {}}
            continue
        out[name] = policy_view(coverage(pack, facts))
    return out
