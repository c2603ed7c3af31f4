"""Check runs: the same verdicts as the commit statuses, with annotations at file:line and the summary.

One check run per status context (``govops/policy``, ``govops/<tenant>/<model>/<check>``,
``govops/validation``), so branch protection that requires a context keeps working whichever
of the two GitHub received. Only rendering lives here: the policy run carries one
annotation per policy finding, each validator's run one at the spec's check for a validator
that did not pass; ``govops/policy`` and ``govops/validation`` carry the Markdown summary
as their output. Sending, batching (the Checks API takes at most 50 annotations per
request) and the fallback to statuses are ``engine.report.publish``'s job.
"""

from __future__ import annotations

from typing import Any

from engine.report import PrReport
from engine.report.annotations import _check_position, _metrics_text
from engine.report.statuses import POLICY, VALIDATION

ANNOTATIONS_PER_REQUEST = 50
"""The Checks API's limit on ``output.annotations`` in one create or update request."""
SUMMARY_MAX = 65535
TITLE_MAX = 255
MESSAGE_MAX = 65535
CONCLUSION = {"success": "success", "failure": "failure", "error": "failure"}
"""A status state as a check-run conclusion: an error blocks like a failure (there is no "error" conclusion)."""


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    if len(text) <= limit:
        return text
    note = "\n\n… (cut: the full summary is on the run page)"
    return text[: limit - len(note)] + note


def annotation(path: str, line: int, col: int, level: str, title: str, message: str) -> dict[str, Any]:
    """One ``output.annotations`` item (columns only on one line, as the API requires)."""
    return {
        "path": path, "start_line": max(1, line), "end_line": max(1, line), "start_column": max(1, col),
        "end_column": max(1, col), "annotation_level": level, "title": truncate(title, TITLE_MAX),
        "message": truncate(message, MESSAGE_MAX),
    }


def policy_annotations(report: PrReport) -> list[dict[str, Any]]:
    """One annotation per policy finding, at its file:line:col."""
    return [
        annotation(d.file, d.line, d.col, "failure" if d.severity == "error" else "warning", d.rule, d.message)
        for d in sorted(report.policy_diagnostics)
    ]


def validator_annotations(report: PrReport, model: str, check: str) -> list[dict[str, Any]]:
    """The annotation of a validator that did not pass, at the spec's check (none when it passed)."""
    task = next((t for t in report.tasks if t.model == model and t.check == check), None)
    if task is None:
        return []
    result = report.result_for(model, check)
    if result is not None and result.get("status") == "pass":
        return []
    loaded = report.plan.head_specs.get(model)
    file = loaded.file if loaded else task.spec_file
    line, col = _check_position(loaded.doc, check) if loaded else (1, 1)
    summary = (result or {}).get("summary") or "no result"
    message = f"{check} on {model} {task.version}: {summary}{_metrics_text(result or {})}"
    return [annotation(file, line, col, "failure", f"govops/{model}/{check}", message)]


def run_payload(status: dict[str, Any], sha: str, *, summary: str | None = None) -> dict[str, Any]:
    """The create/update body of the check run standing for ``status`` (annotations are added by the sender)."""
    title = truncate(status["description"], TITLE_MAX)
    body: dict[str, Any] = {"name": status["context"], "head_sha": sha}
    if status["state"] == "pending":
        body["status"] = "in_progress"
    else:
        body["status"] = "completed"
        body["conclusion"] = CONCLUSION.get(status["state"], "failure")
    if status.get("target_url"):
        body["details_url"] = status["target_url"]
    body["output"] = {"title": title, "summary": truncate(summary or title, SUMMARY_MAX)}
    return body


def final_runs(report: PrReport, statuses: list[dict[str, Any]], sha: str,
               markdown: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(body, annotations) of every final check run, in the order of ``statuses``."""
    out = []
    for s in statuses:
        context = s["context"]
        if context in (POLICY, VALIDATION):
            body = run_payload(s, sha, summary=markdown)
            notes = policy_annotations(report) if context == POLICY else []
        else:
            model, check = context.removeprefix("govops/").rsplit("/", 1)
            result = report.result_for(model, check) or {}
            text = f"{s['description']}{_metrics_text(result)}"
            body = run_payload(s, sha, summary=text)
            notes = validator_annotations(report, model, check)
        out.append((body, notes))
    return out
