"""The Markdown step summary (``GITHUB_STEP_SUMMARY``): verdict, models × checks, the plan, approvals needed."""

from __future__ import annotations

from typing import Any

from engine.report import PrReport, one_line
from engine.report.plan_text import render as render_plan

_ICON = {"pass": "✅", "fail": "❌", "error": "⚠️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _metric(m: dict[str, Any]) -> str:
    value = m.get("value")
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    scope = m.get("scope")
    name = f"{m.get('name')} [{scope}]" if scope and scope != "overall" else str(m.get("name"))
    if m.get("threshold") is None:
        return f"{name} {shown}"
    mark = " ❌" if m.get("passed") is False else ""
    why = f" ({m['note']})" if value is None and m.get("note") else ""  # why a value is unknown or n/a
    return f"{name} {shown} {m.get('op') or ''} {m.get('threshold')}{mark}{why}"


def _metric_order(m: dict[str, Any]) -> int:
    """Failing gates first, then judged metrics, then informational ones."""
    if m.get("passed") is False:
        return 0
    return 1 if m.get("threshold") is not None else 2


def required_approvals(report: PrReport) -> list[str]:
    """What a reviewer must approve, one line per requirement."""
    cfg = report.config
    out: list[str] = []
    approvers = [str(a["approver"]) for a in report.context.approvals if a["approver"] != report.context.author]
    for e in report.plan.changed():
        tier = e["tier"]["to"] or e["tier"]["from"]
        t = cfg.tiers.get(tier) if cfg and tier else None
        if t is None:
            continue
        need = f"{t.approvals.count} approval(s)"
        if t.approvals.groups:
            need += " including one from each of: " + ", ".join(f"`{g}`" for g in t.approvals.groups)
        loosened = [x for x in e["thresholds"] if x["change"] in ("loosened", "check_removed")]
        extra = ""
        if loosened and cfg:
            extra = f"; it loosens thresholds or drops checks, which needs the `{cfg.risk_group}` group"
        out.append(f"`{e['model']}` (tier {tier}): {need}{extra}")
    if report.plan.config_changed or report.plan.policies_changed:
        group = cfg.risk_group if cfg else "risk"
        what = " and ".join(x for x, on in (("govops.yaml", report.plan.config_changed),
                                            ("policies/", report.plan.policies_changed)) if on)
        out.append(f"{what} changed: an approval from the `{group}` group")
    got = ", ".join(
        f"{x['approver']} ({x['group']})" if x["group"] else str(x["approver"])
        for x in report.context.approvals
        if x["approver"] in approvers
    )
    out.append(f"approvals so far: {got or 'none'}")
    stale = report.context.stale_approvals
    if stale:
        gone = ", ".join(f"{x['approver']} (on {(x.get('commit') or '')[:12] or 'an unknown commit'})" for x in stale)
        out.append(f"approvals of an older commit, not counted until given again on the latest one: {gone}")
    return out


class MarkdownReporter:
    """A summary a reviewer reads on the run page."""

    def render(self, report: PrReport) -> str:
        """The Markdown document."""
        ctx = report.context
        verdict = "✅ passed" if report.ok else "❌ failed"
        out = [f"## govops pr-check: {verdict}", ""]
        who = f"PR #{ctx.pr_number}" if ctx.pr_number is not None else "change"
        if ctx.author:
            who += f" by `{ctx.author}`"
        head = report.plan.head_sha if report.plan.head_sha == "WORKTREE" else report.plan.head_sha[:12]
        out.append(f"{who} into `{ctx.target_branch or report.plan.base_ref}` "
                   f"(merge base `{report.plan.base_sha[:12]}`, head `{head}`)")
        if report.run_url:
            out.append(f"[run details]({report.run_url})")
        for run in report.argo_runs:  # where the validators ran (each validator's status links to its step)
            if run.get("url"):
                out.append(f"[Argo run `{run.get('name')}`]({run['url']})")
        out.append("")
        out += ["### Policy", ""]
        if report.policy_diagnostics:
            out += ["| | rule | model | where | message |", "|---|---|---|---|---|"]
            for d in sorted(report.policy_diagnostics):
                icon = "❌" if d.severity == "error" else "⚠️"
                out.append(f"| {icon} | `{d.rule}` | {d.model or ''} | `{d.file}:{d.line}` | "
                           f"{_cell(one_line(d.message, 300))} |")
        else:
            out.append(f"✅ {report.models_checked} model(s) checked: no violations.")
        out += ["", "### Validation", ""]
        if not report.validation_ran:
            out.append("Not run (`--no-validate`).")
        elif not report.tasks:
            out.append("No model in this change needs validation.")
        else:
            checks = list(dict.fromkeys(t.check for t in report.tasks))
            models = list(dict.fromkeys(t.model for t in report.tasks))
            out.append("| model | " + " | ".join(checks) + " |")
            out.append("|---|" + "---|" * len(checks))
            for model in models:
                cells = []
                for check in checks:
                    task = next((t for t in report.tasks if t.model == model and t.check == check), None)
                    if task is None:
                        cells.append("")
                        continue
                    r = report.result_for(model, check)
                    if r is None:
                        cells.append("⚠️ no result")
                        continue
                    metrics = [m for m in r.get("metrics", []) if isinstance(m, dict)]
                    metrics.sort(key=_metric_order)
                    shown = "<br>".join(_cell(_metric(m)) for m in metrics[:4])
                    cells.append(f"{_ICON.get(str(r.get('status')), '⚠️')} {shown}".strip())
                out.append(f"| `{model}` | " + " | ".join(cells) + " |")
        out += ["", "### Plan", "", "```", render_plan(report.plan).rstrip("\n"), "```", ""]
        out += ["### What a reviewer must approve", ""]
        out += [f"- {line}" for line in required_approvals(report)]
        return "\n".join(out) + "\n"
