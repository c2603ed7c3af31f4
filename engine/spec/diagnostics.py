"""Diagnostics: one finding at one place, the common currency of lint, check and reports.

Every stage that judges specs (YAML syntax, schema, semantic checks, policies) yields
``Diagnostic`` values; the output formats (text, json, github, sarif) render them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


# C0/C1 controls, DEL and the Unicode line/paragraph separators: a rendered diagnostic is exactly one line
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A finding: rule id, severity, message, and where (file:line:col, model id, spec path)."""

    file: str
    line: int
    col: int
    rule: str
    message: str
    severity: Severity = "error"
    model: str | None = None
    path: str | None = field(default=None, compare=False)

    def render(self) -> str:
        """The ``file:line:col: severity: message [rule]`` form editors and humans read.

        File names and messages carry text from the change (file names, authors, labels):
        control characters are shown escaped, so none reaches a terminal or a CI log as
        an escape sequence or a forged extra line.
        """
        text = f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message} [{self.rule}]"
        return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (see README, "Interfaces")."""
        return {k: v for k, v in asdict(self).items() if v is not None or k in ("model",)}


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    """True if any diagnostic blocks (severity ``error``)."""
    return any(d.severity == "error" for d in diagnostics)


@dataclass
class Findings:
    """What a judging command found: diagnostics and how many models it looked at.

    The collection every output format renders (:mod:`engine.report.output`). It sits here, beside
    ``Diagnostic``, because the stages that produce it (lint, policy check) come before the report.
    """

    diagnostics: list[Diagnostic]
    models_checked: int
    tool: str = "govops"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if nothing blocks."""
        return not has_errors(self.diagnostics)
