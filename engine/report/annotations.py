"""GitHub workflow commands: an annotation at the spec's file:line for every violation and failed validator."""

from __future__ import annotations

from engine.report import PrReport
from engine.spec.loader import YamlDocument


def escape_data(s: str) -> str:
    """Escape a workflow command's message."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_prop(s: str) -> str:
    """Escape a workflow command's property value."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(level: str, file: str, line: int, col: int, title: str, message: str) -> str:
    """``::error file=…,line=…,col=…,title=…::message``."""
    props = f"file={escape_prop(file)},line={line},col={col},title={escape_prop(title)}"
    return f"::{level} {props}::{escape_data(message)}"


def _check_position(doc: YamlDocument, check: str) -> tuple[int, int]:
    if ("spec", "validation", "checks", check) in doc.positions:
        return doc.position(("spec", "validation", "checks", check))
    return doc.position(("spec", "tier"))


def _metrics_text(result: dict[str, object]) -> str:
    metrics = result.get("metrics")
    if not isinstance(metrics, list):
        return ""
    failed = [m for m in metrics if isinstance(m, dict) and m.get("passed") is False]
    parts = [f"{m.get('name')}={m.get('value')} ({m.get('op')} {m.get('threshold')})"
             + (f" {m['note']}" if m.get("value") is None and m.get("note") else "") for m in failed[:5]]
    return "; failing: " + ", ".join(parts) if parts else ""


class AnnotationsReporter:
    """Workflow commands for the policy findings and the failed validators."""

    def render(self, report: PrReport) -> str:
        """One command per finding, then a notice with the verdict."""
        lines = []
        for d in sorted(report.policy_diagnostics):
            level = "error" if d.severity == "error" else "warning"
            lines.append(command(level, d.file, d.line, d.col, d.rule, d.message))
        for task in report.tasks if report.validation_ran else []:
            result = report.result_for(task.model, task.check)
            if result is not None and result.get("status") == "pass":
                continue
            loaded = report.plan.head_specs.get(task.model)
            file = loaded.file if loaded else task.spec_file
            line, col = _check_position(loaded.doc, task.check) if loaded else (1, 1)
            summary = (result or {}).get("summary") or "no result"
            message = f"{task.check} on {task.model} {task.version}: {summary}{_metrics_text(result or {})}"
            lines.append(command("error", file, line, col, f"govops/{task.model}/{task.check}", message))
        verdict = "passed" if report.ok else "failed"
        lines.append(f"::notice::govops pr-check {verdict}: {len(report.plan.changed())} model(s) changed, "
                     f"{sum(d.severity == 'error' for d in report.policy_diagnostics)} policy error(s), "
                     f"{len(report.tasks) if report.validation_ran else 0} validator(s) run")
        return "\n".join(lines) + "\n"
