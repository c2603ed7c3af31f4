"""Output formats for findings (lint, check): one small protocol, one module per format.

Modelled on conftest's ``Outputter``: a format is picked by name from ``FORMATS``.
Every format renders the same ``Findings``; adding one needs no change elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from engine.spec.diagnostics import Diagnostic, has_errors
from engine.spec.errors import UsageError


@dataclass
class Findings:
    """What a judging command found: diagnostics and how many models it looked at."""

    diagnostics: list[Diagnostic]
    models_checked: int
    tool: str = "govops"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if nothing blocks."""
        return not has_errors(self.diagnostics)


class Formatter(Protocol):
    """Renders findings to text."""

    def render(self, findings: Findings) -> str:
        """The whole output, ending with a newline."""
        ...


def get(name: str) -> Formatter:
    """The formatter registered under ``name``."""
    from engine.report.output import github, json_format, text

    formats: dict[str, Formatter] = {
        "text": text.TextFormatter(),
        "json": json_format.JsonFormatter(),
        "github": github.GithubFormatter(),
    }
    try:
        from engine.report.output import sarif  # type: ignore[attr-defined,unused-ignore]

        formats["sarif"] = sarif.SarifFormatter()
    except ImportError:  # pragma: no cover - sarif arrives with the policy stage
        pass
    if name not in formats:
        raise UsageError(f"unknown format '{name}'; choose one of: {', '.join(formats)}")
    return formats[name]
