"""Plain text: ``file:line:col: severity: message [rule]``, then a one-line summary."""

from __future__ import annotations

from engine.spec.diagnostics import Findings


class TextFormatter:
    """The human default; editors and terminals turn file:line:col into links."""

    def render(self, findings: Findings) -> str:
        """One line per finding and a summary."""
        lines = [d.render() for d in sorted(findings.diagnostics)]
        errors = sum(d.severity == "error" for d in findings.diagnostics)
        warnings = len(findings.diagnostics) - errors
        verdict = "ok" if findings.ok else "FAILED"
        lines.append(
            f"{findings.tool}: {verdict}: {findings.models_checked} model(s) checked, "
            f"{errors} error(s), {warnings} warning(s)"
        )
        return "\n".join(lines) + "\n"
