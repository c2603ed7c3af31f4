"""Output formats for findings (lint, check): one small protocol, one module per format.

Modelled on conftest's ``Outputter``: a format is picked by name from ``FORMATS``.
Every format renders the same :class:`engine.spec.diagnostics.Findings`; adding one needs no change
elsewhere.
"""

from __future__ import annotations

from typing import Protocol

from engine.spec.diagnostics import Findings
from engine.spec.errors import UsageError


class Formatter(Protocol):
    """Renders findings to text."""

    def render(self, findings: Findings) -> str:
        """The whole output, ending with a newline."""
        ...


def get(name: str) -> Formatter:
    """The formatter registered under ``name``."""
    from engine.report.output import github, json_format, sarif, text

    formats: dict[str, Formatter] = {
        "text": text.TextFormatter(),
        "json": json_format.JsonFormatter(),
        "github": github.GithubFormatter(),
        "sarif": sarif.SarifFormatter(),
    }
    if name not in formats:
        raise UsageError(f"unknown format '{name}'; choose one of: {', '.join(formats)}")
    return formats[name]
