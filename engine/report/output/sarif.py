"""SARIF 2.1.0, so GitHub code scanning shows every finding at its file:line.

Every result carries a physical location with a repository-relative ``uri`` and a
``startLine``; rules are listed once in the driver with their ids.
"""

from __future__ import annotations

import json
from typing import Any

from engine.spec.diagnostics import Findings

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/govops/govops"


class SarifFormatter:
    """One run, tool ``govops``, one result per finding."""

    def render(self, findings: Findings) -> str:
        """The SARIF log as JSON plus a newline."""
        diags = sorted(findings.diagnostics)
        rule_ids = sorted({d.rule for d in diags})
        index = {r: i for i, r in enumerate(rule_ids)}
        results: list[dict[str, Any]] = []
        for d in diags:
            result: dict[str, Any] = {
                "ruleId": d.rule,
                "ruleIndex": index[d.rule],
                "level": "error" if d.severity == "error" else "warning",
                "message": {"text": d.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": d.file},
                            "region": {"startLine": max(1, d.line), "startColumn": max(1, d.col)},
                        }
                    }
                ],
            }
            props: dict[str, Any] = {}
            if d.model:
                props["model"] = d.model
            if d.path:
                props["path"] = d.path
            if props:
                result["properties"] = props
            results.append(result)
        log = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "govops",
                            "informationUri": INFO_URI,
                            "rules": [
                                {"id": r, "name": r.replace("-", ""), "shortDescription": {"text": r}}
                                for r in rule_ids
                            ],
                        }
                    },
                    "results": results,
                    "properties": {"modelsChecked": findings.models_checked},
                }
            ],
        }
        return json.dumps(log, indent=2) + "\n"
