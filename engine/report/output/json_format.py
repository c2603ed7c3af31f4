"""JSON: ``{"ok", "violations": [{"rule", "severity", "model", "file", "line", "col", "message"}], "models_checked"}``.

A stable interface (README, "Interfaces"): fields are added, never renamed or dropped.
"""

from __future__ import annotations

import json

from engine.spec.diagnostics import Findings


class JsonFormatter:
    """Machine-readable findings for scripts and other CI systems."""

    def render(self, findings: Findings) -> str:
        """The JSON document plus a newline."""
        doc = {
            "ok": findings.ok,
            "violations": [
                {
                    "rule": d.rule,
                    "severity": d.severity,
                    "model": d.model,
                    "file": d.file,
                    "line": d.line,
                    "col": d.col,
                    "message": d.message,
                    "path": d.path,
                }
                for d in sorted(findings.diagnostics)
            ],
            "models_checked": findings.models_checked,
            **findings.extra,
        }
        return json.dumps(doc, indent=2) + "\n"
