"""Commit statuses: ``govops/policy``, one per (model, validator), and ``govops/validation``.

Contexts: ``govops/policy`` (every policy decision), ``govops/<tenant>/<model>/<check>``
(one validator on one model) and ``govops/validation`` (all validators together: the
context to make required in branch protection, since per-model contexts vary by PR).
Each has a one-line description (at most 140 characters) and a link: a validator's status
opens its own step in the Argo UI (the result's ``url``, set by the Argo executor, never by the
step), ``govops/validation`` the Argo run, and ``govops/policy`` the CI run (policy never runs
in Argo).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.report import PrReport, one_line, result_passed

POLICY = "govops/policy"
VALIDATION = "govops/validation"
STATE = {"pass": "success", "fail": "failure", "error": "error"}


def _status(state: str, context: str, description: str, url: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"state": state, "context": context, "description": one_line(description)}
    if url:
        out["target_url"] = url
    return out


def pending(validate: bool, url: str | None) -> list[dict[str, Any]]:
    """The statuses posted when the check starts."""
    out = [_status("pending", POLICY, "govops: evaluating policies", url)]
    if validate:
        out.append(_status("pending", VALIDATION, "govops: running validators", url))
    return out


def policy_status(report: PrReport) -> dict[str, Any]:
    """``govops/policy``: success, or failure naming the rules that denied."""
    errors = [d for d in report.policy_diagnostics if d.severity == "error"]
    warnings = len(report.policy_diagnostics) - len(errors)
    if not errors:
        text = f"{report.models_checked} model(s) checked: no violations"
        if warnings:
            text += f", {warnings} warning(s)"
        return _status("success", POLICY, text, report.run_url)
    first = "; ".join(f"{d.rule} {d.model or d.file}" for d in errors[:3])
    return _status("failure", POLICY, f"{len(errors)} violation(s): {first}", report.run_url)


def check_statuses(report: PrReport) -> list[dict[str, Any]]:
    """One status per (model, validator), in task order."""
    out = []
    for task in report.tasks:
        result = report.result_for(task.model, task.check)
        url = (result or {}).get("url") or report.run_url
        context = f"govops/{task.model}/{task.check}"
        if result is None:
            out.append(_status("error", context, f"{task.check} produced no result", url))
            continue
        state = STATE.get(str(result.get("status")), "error")
        if state == "success" and not result_passed(result):  # a "pass" its own metrics contradict
            state = "failure"
        text = result.get("summary") or f"{task.check}: {result.get('status')}"
        out.append(_status(state, context, f"{task.version}: {text}", url))
    return out


def validation_status(report: PrReport) -> dict[str, Any]:
    """``govops/validation``: all validators of the change together (linked to the Argo run when there is one)."""
    url = next((str(r["url"]) for r in report.argo_runs if r.get("url")), None) or report.run_url
    if not report.tasks:
        return _status("success", VALIDATION, "no model needs validation in this change", report.run_url)
    bad = [t for t in report.tasks if not result_passed(report.result_for(t.model, t.check))]
    if not bad:
        return _status("success", VALIDATION, f"{len(report.tasks)} validator(s) passed", url)
    names = ", ".join(f"{t.model}/{t.check}" for t in bad[:3])
    return _status("failure", VALIDATION, f"{len(bad)} of {len(report.tasks)} validator(s) failed: {names}", url)


def build(report: PrReport) -> list[dict[str, Any]]:
    """The final statuses, in the order they are sent."""
    out = [policy_status(report)]
    if report.validation_ran:
        out += check_statuses(report)
        out.append(validation_status(report))
    return out


def publish(
    create: Callable[..., Any], repo: str, sha: str, statuses: list[dict[str, Any]]
) -> None:
    """Send statuses in order with ``create`` (``GitHubClient.create_status``)."""
    for s in statuses:
        create(repo, sha, state=s["state"], context=s["context"], description=s["description"],
               target_url=s.get("target_url"))


class StatusesReporter:
    """The statuses as JSON lines (what ``--dry-run`` prints instead of sending)."""

    def render(self, report: PrReport) -> str:
        """One JSON object per line."""
        return "".join(json.dumps(s, sort_keys=True) + "\n" for s in build(report))
