"""Rendering a model's timeline and the ``--at`` answer as text or Markdown (JSON is ``to_data``).

Audit stage (presentation only): pure functions over the data ``engine.audit.timeline`` returns;
never reads Git, never decides anything.
"""

from __future__ import annotations

from typing import Any

from engine.audit.timeline import Timeline
from engine.spec.markdown_text import md_text


def _what(event: dict[str, Any]) -> str:
    plan = event.get("plan")
    if event.get("changes"):
        return ", ".join(
            f"{c.get('action')} {c.get('version')}" + (f" ({c['role']})" if c.get("role") else "")
            for c in event["changes"]
        )
    if not plan:
        return event.get("message") or ""
    bits = [", ".join(plan.get("kinds", [])) or plan.get("change", "")]
    if plan.get("new_versions"):
        bits.append("new " + ",".join(plan["new_versions"]))
    champ = plan.get("champion") or {}
    if champ.get("from") != champ.get("to") and champ.get("to"):
        bits.append(f"champion {champ.get('from') or '-'} -> {champ['to']}")
    if event.get("reverts"):
        bits.append(f"reverts {event['reverts'][:12]}")
    return "; ".join(b for b in bits if b)


def _evidence(event: dict[str, Any]) -> str:
    src = event if "plan" not in event else (event.get("admitted_by") or {})
    decisions = src.get("policy_decisions") or []
    results = src.get("validation") or []
    if not decisions and not results:
        return "none recorded"
    denied = sum(1 for d in decisions if not d.get("allowed"))
    failed = [r["check"] for r in results if r.get("status") != "pass"]
    policy = f"{len(decisions)} policy decision(s)" + (f", {denied} denied" if denied else "")
    checks = f"{len(results)} check(s)" + (f", failed: {','.join(map(str, failed))}" if failed else " passed")
    return f"{policy}; {checks}"


def _trail(event: dict[str, Any]) -> str:
    """``PR #12; reviewers: a, b; CI run: URL; Argo: URL`` from the evidence, or ``""``."""
    links = event.get("links") or {}
    bits = []
    if links.get("pr"):
        bits.append(f"PR #{links['pr']}" + (f" (head {str(links['pr_head'])[:12]})" if links.get("pr_head") else ""))
    if links.get("reviewers"):
        bits.append("reviewers: " + ", ".join(links["reviewers"]))
    if links.get("ci_run"):
        bits.append(f"CI run: {links['ci_run']}")
    if links.get("argo_runs"):
        bits.append("Argo: " + ", ".join(
            f"{r.get('namespace')}/{r.get('name')} (uid {r.get('uid') or '?'}) {r.get('url') or ''}".rstrip()
            for r in links["argo_runs"]))
    elif links.get("argo"):
        bits.append("Argo: " + ", ".join(links["argo"]))
    return "; ".join(bits)


def _who(event: dict[str, Any]) -> str:
    author = str(event.get("author") or "?")
    return author.split(" <", 1)[0]


def render_text(timeline: Timeline) -> str:
    """One block per event, oldest first, then warnings."""
    out = [f"{timeline.model}: {len(timeline.events)} event(s) on {timeline.ref} ({timeline.commit[:12]}); "
           f"file(s): {', '.join(timeline.files) or '-'}\n"]
    for e in timeline.events:
        pr = f"#{e['pr']}" if e.get("pr") else ""
        head = f"{str(e.get('date') or '?')[:19]}  {e['kind']:<9} {e['commit'][:12]} {pr:<6} {_who(e)}"
        if e.get("outcome"):
            head += f"  {e['outcome']} ({e.get('target') or '?'})"
        if e.get("unverified"):
            head += "  UNVERIFIED"
        out.append(head.rstrip() + "\n")
        if e.get("unverified"):
            out.append(f"    UNVERIFIED: {e['unverified']}\n")
        what = _what(e)
        if what:
            out.append(f"    {what}\n")
        if "plan" in e:
            approvers = ", ".join(e.get("approvers") or []) or "none recorded"
            out.append(f"    approved by: {approvers}\n")
        out.append(f"    evidence: {_evidence(e)}\n")
        trail = _trail(e)
        if trail:
            out.append(f"    {trail}\n")
        if isinstance(e.get("evidence_missing"), dict):
            w = e["evidence_missing"]
            out.append(f"    rolled out without PR evidence: {w.get('flag')} by {w.get('allowed_by')}\n")
        for missing in e.get("missing_evidence") or []:
            out.append(f"    missing evidence: {missing}\n")
    for w in timeline.warnings:
        out.append(f"warning: {w}\n")
    return "".join(out)


def _cell(text: Any) -> str:
    """A cell govops composed itself (dates, kinds, commit code spans, ``#PR``): only ``|`` and line breaks escaped."""
    return str(text if text not in (None, "") else "-").replace("|", "\\|").replace("\n", " ")


def _free(text: Any) -> str:
    """A cell of text people wrote (author and approver names, subjects, notes): inert Markdown."""
    return md_text(str(text if text not in (None, "") else "-"))


def render_markdown(timeline: Timeline) -> str:
    """A Markdown table of the events (for PR comments, wikis, audit files)."""
    out = [f"## Audit trail of `{timeline.model}`\n\n",
           f"On `{timeline.ref}` at `{timeline.commit[:12]}`; spec file(s): "
           f"{', '.join(f'`{f}`' for f in timeline.files) or '-'}.\n\n",
           "| Date | Kind | Commit | PR | Author | Approved by | What | Evidence | Missing evidence | Trail |\n",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"]
    for e in timeline.events:
        approvers = ", ".join(e.get("approvers") or []) if "plan" in e else ""
        out.append(
            "| " + " | ".join(
                [_cell(x) for x in (str(e.get("date") or "")[:19], e["kind"], f"`{e['commit'][:12]}`",
                                    f"#{e['pr']}" if e.get("pr") else "")]
                + [_free(x) for x in (
                    _who(e), approvers,
                    _what(e) + (f" — {e['outcome']}" if e.get("outcome") else ""), _evidence(e),
                    "; ".join(e.get("missing_evidence") or []),
                    ("UNVERIFIED: " + str(e["unverified"]) + "; " if e.get("unverified") else "") + _trail(e),
                )]
            ) + " |\n"
        )
    if timeline.warnings:
        out.append("\n**Warnings**\n\n" + "".join(f"- {w}\n" for w in timeline.warnings))
    return "".join(out)


def render_at_text(answer: dict[str, Any]) -> str:
    """The ``--at`` answer in a few lines."""
    serving = answer.get("serving")
    lines = [f"{answer['model']} on {answer['at']}:"]
    if serving is None:
        lines.append(f"  nothing was serving ({answer.get('basis')})")
        return "\n".join(lines) + "\n"
    challengers = ", ".join(
        f"{c['version']} ({c['mode']}{' ' + format(c['weight'], 'g') + '%' if c.get('weight') is not None else ''})"
        for c in serving["challengers"]
    ) or "-"
    lines.append(f"  champion {serving['champion']}; challengers {challengers}; failover {serving['failover'] or '-'}")
    for v in serving["versions"]:
        lines.append(f"    {v['id']}  sha256 {v['sha256'] or '(not pinned)'}")
    change = answer.get("change") or {}
    pr = f" (PR #{change['pr']})" if change.get("pr") else ""
    lines.append(f"  from commit {str(change.get('commit'))[:12]}{pr} by {_who(change)} on {change.get('date')}")
    lines.append(f"  approved by: {', '.join(answer.get('approved_by') or []) or 'none recorded'}")
    lines.append(f"  basis: {answer.get('basis')}")
    evidence = answer.get("evidence")
    lines.append(f"  evidence: {_evidence(evidence) if evidence else 'none recorded'}")
    if evidence:
        for d in evidence.get("policy_decisions") or []:
            lines.append(f"    policy decision {d.get('decision_id')} (revision {d.get('revision')}): "
                         f"{'allowed' if d.get('allowed') else 'denied ' + ','.join(d.get('deny') or [])}")
        for r in evidence.get("validation") or []:
            lines.append(f"    {r.get('check')} {r.get('version')}: {r.get('status')} — {r.get('summary')}")
    for m in answer.get("missing_evidence") or []:
        lines.append(f"  missing evidence: {m}")
    if answer.get("shutdown"):
        lines.append(f"  note: an automatic shutdown was recorded at {answer['shutdown'].get('date')}")
    return "\n".join(lines) + "\n"


def render_at_markdown(answer: dict[str, Any]) -> str:
    """The ``--at`` answer as Markdown."""
    return "```\n" + render_at_text(answer) + "```\n"
