"""The change plan as text, read like ``terraform plan``: one block per model, a summary line.

Rendering only: it never reads Git or judges the change (policies do that).
"""

from __future__ import annotations

from typing import Any

from engine.change.gitread import Plan

SYMBOL = {"added": "+", "removed": "-", "modified": "~", "moved": ">", "unchanged": "="}


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "(none)" if v is None else str(v)


def _approvals(a: dict[str, Any]) -> str:
    groups = ", ".join(a.get("groups") or []) or "none"
    return f"{a.get('count')} (groups: {groups})"


def _traffic(t: dict[str, dict[str, Any]]) -> str:
    parts = []
    for version, info in t.items():
        if info["role"] in ("canary", "ab"):
            parts.append(f"{version} {info['role']} {_fmt(info.get('weight'))}%")
        elif info["role"] == "shadow":
            parts.append(f"{version} shadow")
    return ", ".join(parts) or "(none)"


def entry_lines(e: dict[str, Any]) -> list[str]:
    """The detail lines of one plan entry (without the header)."""
    lines: list[str] = []
    kinds = e["kinds"]
    if e["change"] == "added":
        lines.append(f"tier: {e['tier']['to']}; versions: {', '.join(e['new_versions'])}; "
                     f"champion: {_fmt(e['champion']['to'])}")
        return lines
    if e["change"] == "removed":
        lines.append(f"was tier {e['tier']['from']}, champion {_fmt(e['champion']['from'])}")
        return lines
    if "moved" in kinds:
        lines.append(f"moved: {e['previous_file']} -> {e['file']}")
    for v in e["new_versions"]:
        lines.append(f"+ version {v}")
    for v in e["removed_versions"]:
        lines.append(f"- version {v}")
    for v in e["changed_artifacts"]:
        lines.append(f"~ version {v}: artifact changed")
    if "champion_change" in kinds:
        lines.append(f"~ champion: {_fmt(e['champion']['from'])} -> {_fmt(e['champion']['to'])}")
    if "challenger_change" in kinds or "traffic_change" in kinds:
        lines.append(f"~ challengers: {_traffic(e['traffic']['from'])} -> {_traffic(e['traffic']['to'])}")
    if "failover_change" in kinds:
        old = next((v for v, i in e["traffic"]["from"].items() if i["role"] == "failover"), None)
        new = next((v for v, i in e["traffic"]["to"].items() if i["role"] == "failover"), None)
        lines.append(f"~ failover: {_fmt(old)} -> {_fmt(new)}")
    if "tier_change" in kinds:
        lines.append(f"~ tier: {e['tier']['from']} -> {e['tier']['to']}")
    lines.extend(_threshold_line(t) for t in e["thresholds"])
    for kind, label in (("monitoring_change", "monitoring"), ("interface_change", "interface"),
                        ("metadata_change", "metadata")):
        if kind in kinds:
            lines.append(f"~ {label} changed")
    if e["change"] == "unchanged":
        lines.append("no governed change (formatting or comments only)")
    return lines


def _threshold_line(t: dict[str, Any]) -> str:
    """One threshold change: a check added or removed, or a threshold moved (``!`` when loosened)."""
    if t["change"] in ("check_added", "check_removed"):
        sign = "+" if t["change"] == "check_added" else "-"
        return f"{sign} check {t['check']}"
    mark = "!" if t["change"] == "loosened" else "~"
    return f"{mark} threshold {t['check']}.{t['threshold']}: {_fmt(t['from'])} -> {_fmt(t['to'])} ({t['change']})"


def config_lines(changes: list[dict[str, Any]]) -> list[str]:
    """One line per ``govops.yaml`` change."""
    out = []
    for c in changes:
        what = c["what"]
        if what == "default_threshold":
            mark = "!" if c["change"] == "loosened" else "~"
            out.append(f"{mark} tier {c['tier']}: default {c['check']}.{c['threshold']}: "
                       f"{_fmt(c['from'])} -> {_fmt(c['to'])} ({c['change']})")
        elif what == "required_check":
            verb = "now requires" if c["change"] == "tightened" else "no longer requires"
            mark = "!" if c["change"] == "loosened" else "~"
            out.append(f"{mark} tier {c['tier']} {verb} check {c['check']}")
        elif what == "approvals":
            mark = "!" if c["change"] == "loosened" else "~"
            out.append(f"{mark} tier {c['tier']}: approvals {_approvals(c['from'])} -> {_approvals(c['to'])} "
                       f"({c['change']})")
        elif what in ("tier", "tier_setting"):
            detail = f" {c['setting']}: {c['from']} -> {c['to']}" if what == "tier_setting" else ""
            out.append(f"~ tier {c['tier']}{detail} ({c['change']})")
        else:
            out.append(f"~ {what} {c['change']}")
    return out


def render(plan: Plan) -> str:
    """The whole plan as text, ending with a newline."""
    head = plan.head_sha if plan.head_sha == "WORKTREE" else plan.head_sha[:12]
    out = [f"govops plan: {plan.base_ref} (merge base {plan.base_sha[:12]}) -> {plan.head_ref} ({head})", ""]
    for e in plan.entries:
        where = e["file"] or e["previous_file"] or ""
        out.append(f"  {SYMBOL[e['change']]} {e['model']}  ({where})")
        out.extend(f"      {line}" for line in entry_lines(e))
    if plan.config_changed:
        out.append("  ~ govops.yaml changed")
        out.extend(f"      {line}" for line in config_lines(plan.config_changes))
    if plan.policies_changed:
        out.append(f"  ~ policies/ changed: {', '.join(plan.policy_files)}")
    if len(out) == 2:
        out.append("  No governed changes: specs, govops.yaml and policies/ are the same.")
    s = plan.summary()
    extra = []
    if plan.config_changed:
        extra.append("govops.yaml changed")
    if plan.policies_changed:
        extra.append("policies/ changed")
    out += ["", f"Plan: {s['added']} to add, {s['modified']} to change, {s['moved']} to move, "
            f"{s['removed']} to remove." + (" " + "; ".join(extra) + "." if extra else "")]
    return "\n".join(out) + "\n"
