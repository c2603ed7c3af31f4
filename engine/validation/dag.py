"""The validation DAG: one task per (model, check), the same description everywhere.

Both executors consume this: the local executor runs the tasks in processes, and
``engine.validation.workflow`` renders the very same tasks as an Argo Workflow with hera, so a
run behaves alike in both places. A task carries everything its step needs as plain
parameters (never interpolated into a shell).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from engine.spec.config import Governance
from engine.spec.thresholds import effective_checks
from engine.spec.workspace import LoadedSpec

# checks that judge the candidate against the serving champion; when the candidate *is* the
# champion (a re-validation of main, or a model with no challenger) there is nothing to compare
COMPARES_WITH_CHAMPION = frozenset({"champion", "importance"})


@dataclass(frozen=True)
class ValidationTask:
    """One check for one model version: ``python -m runners CHECK --spec FILE --model ID``."""

    model: str
    check: str
    spec_file: str
    version: str
    champion: str | None
    thresholds: dict[str, float] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A unique, stable name: ``tenant/name/check``."""
        return f"{self.model}/{self.check}"

    def to_json(self) -> dict[str, Any]:
        """Plain data (results and workflow parameters use it)."""
        return asdict(self)


def candidate_version(loaded: LoadedSpec, new_versions: list[str] | None = None) -> str:
    """The version under validation: the newest added one, else the newest challenger, else the champion."""
    spec = loaded.spec
    if new_versions:
        return new_versions[-1]
    dep = spec.spec.deployment
    if dep and dep.challengers:
        return dep.challengers[-1].version
    if dep:
        return dep.champion
    return spec.spec.versions[-1].id


def build_dag(
    specs: list[LoadedSpec],
    config: Governance | None,
    *,
    new_versions: dict[str, list[str]] | None = None,
) -> list[ValidationTask]:
    """The tasks for these models, in a stable order (model id, then the tier's check order)."""
    tasks: list[ValidationTask] = []
    for loaded in sorted(specs, key=lambda s: s.id):
        dep = loaded.spec.spec.deployment
        version = candidate_version(loaded, (new_versions or {}).get(loaded.id))
        champion = dep.champion if dep and dep.champion != version else None
        for check, thresholds in effective_checks(loaded.spec, config).items():
            if check in COMPARES_WITH_CHAMPION and champion is None:
                continue  # nothing to compare with: the candidate is the champion
            tasks.append(
                ValidationTask(
                    model=loaded.id,
                    check=check,
                    spec_file=loaded.file,
                    version=version,
                    champion=champion,
                    thresholds=thresholds,
                )
            )
    return tasks


# plan-entry kinds that can change how a served model behaves: these models are validated
VALIDATE_KINDS = frozenset(
    {
        "new_model", "new_version", "artifact_changed", "champion_change", "challenger_change", "traffic_change",
        "tier_change", "threshold_tightened", "threshold_loosened", "check_added", "check_removed",
        "interface_change", "version_changed", "task_change", "deployment_change", "validation_change",
    }
)


class _PlanLike(Protocol):
    entries: list[dict[str, Any]]
    config_changes: list[dict[str, Any]]
    head_specs: Any

    def changed(self) -> list[dict[str, Any]]: ...


def specs_to_validate(plan: _PlanLike) -> list[LoadedSpec]:
    """The head specs a change must validate: changed behaviour, plus every model of a tier whose rules changed."""
    ids = {e["model"] for e in plan.changed() if e["change"] != "removed" and set(e["kinds"]) & VALIDATE_KINDS}
    tiers = {
        c["tier"]
        for c in plan.config_changes
        if c["what"] in ("required_check", "default_threshold") and c.get("tier")
    }
    if tiers:
        ids |= {m for m, s in plan.head_specs.items() if s.spec.spec.tier in tiers}
    return [plan.head_specs[m] for m in sorted(ids) if m in plan.head_specs]


def build_plan_dag(plan: _PlanLike, config: Governance | None) -> list[ValidationTask]:
    """The tasks for a change: the models it touches, each validating its newest added version."""
    new_versions = {e["model"]: e["new_versions"] for e in plan.entries if e["new_versions"]}
    return build_dag(specs_to_validate(plan), config, new_versions=new_versions)
