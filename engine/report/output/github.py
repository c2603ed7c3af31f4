"""GitHub Actions workflow commands: an annotation at file:line:col per finding."""

from __future__ import annotations

from engine.spec.diagnostics import Findings


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


class GithubFormatter:
    """``::error file=…,line=…,col=…,title=…::message``, as GitHub documents them."""

    def render(self, findings: Findings) -> str:
        """One workflow command per finding and a notice with the summary."""
        lines = []
        for d in sorted(findings.diagnostics):
            level = "error" if d.severity == "error" else "warning"
            props = f"file={_escape_prop(d.file)},line={d.line},col={d.col},title={_escape_prop(d.rule)}"
            lines.append(f"::{level} {props}::{_escape_data(d.message)}")
        errors = sum(d.severity == "error" for d in findings.diagnostics)
        lines.append(f"::notice::{findings.tool}: {findings.models_checked} model(s) checked, {errors} error(s)")
        return "\n".join(lines) + "\n"
