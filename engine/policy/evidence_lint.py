"""Lint rules for documentation evidence: the regulation packs and the data every explanation needs.

Part of the policy stage, run by ``govops lint`` beside the spec rules. Two findings, both
errors at file:line:col (exit 2):

- a pack file that cannot judge anything: unknown evidence kind, duplicate control id, a
  check its tier does not run, an unknown group (:func:`engine.policy.packs.lint_packs`);
- a model that declares no evaluation data (no ``spec.validation``) while its tier runs
  checks or requires packs: no check, explanation, model card figure or pack control could
  ever be evidenced for it.

Reads the working tree only (lint is the author's loop); a change is judged by the base's packs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.policy.packs import PACKS_DIR, lint_packs, load_packs, required_packs
from engine.spec.diagnostics import Diagnostic


def evidence_summary(loaded: Any) -> dict[str, Any]:
    """What the lint rule needs of one spec (computed where the spec was loaded; small to send back)."""
    spec = loaded.spec
    line, col = loaded.doc.position(("spec", "validation") if spec.spec.validation else ("spec",))
    return {"tier": spec.spec.tier, "evaluation": spec.spec.validation is not None, "line": line, "col": col}


def no_evaluation_data(model: str, file: str, summary: dict[str, Any], config: Any) -> Diagnostic | None:
    """The finding for a model whose tier needs evidence but that names no evaluation data."""
    if summary.get("evaluation") or config is None:
        return None
    tier = config.tiers.get(summary["tier"])
    if tier is None:
        return None
    checks, packs = list(tier.required_checks), required_packs(config, summary["tier"])
    if not checks and not packs:
        return None
    needs = ", ".join(checks) + (f"; packs {', '.join(packs)}" if packs else "")
    return Diagnostic(file, summary["line"], summary["col"], "spec/no-evaluation-data",
                      f"{model} declares no evaluation data (spec.validation with evaluationData, referenceData "
                      f"and label), but tier {summary['tier']} runs {needs}: no check, explanation or model card "
                      "figure can be computed without it", model=model)


def evidence_findings(ws: Any, root: Path, policy_dir: str = "policies") -> list[Diagnostic]:
    """Every documentation-evidence finding of a loaded workspace (specs as summaries or as loaded specs)."""
    out: list[Diagnostic] = []
    for s in ws.summaries:
        if isinstance(s.extra, dict):
            found = no_evaluation_data(s.id, s.file, s.extra, ws.config)
            if found is not None:
                out.append(found)
    for loaded in ws.specs:
        found = no_evaluation_data(loaded.id, loaded.file, evidence_summary(loaded), ws.config)
        if found is not None:
            out.append(found)
    directory = Path(policy_dir) if Path(policy_dir).is_absolute() else root / policy_dir
    packs, diags = load_packs(directory / PACKS_DIR, f"{policy_dir.rstrip('/')}/{PACKS_DIR}")
    out += diags
    out += lint_packs(packs, ws.config, ws.config_file)
    return out
