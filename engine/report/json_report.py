"""The PR check as one JSON document (``--out DIR/pr-check.json``), for any CI system.

A stable interface (README, "Interfaces"): fields are added, never renamed or dropped.
"""

from __future__ import annotations

import json
from typing import Any

from engine.report import PrReport
from engine.report.statuses import build as build_statuses

SCHEMA_VERSION = 1


def document(report: PrReport) -> dict[str, Any]:
    """The report as plain data."""
    return {
        "version": SCHEMA_VERSION,
        "ok": report.ok,
        "context": report.context.to_json(),
        "plan": report.plan.to_json(),
        "policy": {
            "ok": report.policy_ok,
            "models_checked": report.models_checked,
            "violations": [
                {"rule": d.rule, "severity": d.severity, "model": d.model, "file": d.file, "line": d.line,
                 "col": d.col, "message": d.message, "path": d.path}
                for d in sorted(report.policy_diagnostics)
            ],
            "decisions": report.decisions,
        },
        "validation": {
            "ran": report.validation_ran,
            "ok": report.validation_ok,
            "tasks": [t.to_json() for t in report.tasks],
            "results": report.results,
            "argo": report.argo_runs,
        },
        "statuses": build_statuses(report),
        "run_url": report.run_url,
    }


class JsonReporter:
    """``document`` as indented JSON."""

    def render(self, report: PrReport) -> str:
        """The JSON text plus a newline."""
        return json.dumps(document(report), indent=2, default=str) + "\n"
