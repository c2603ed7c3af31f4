"""Executors: where the validation DAG runs. One small protocol, one module per kind, picked by name.

Validation stage. ``local`` runs tasks in worker processes on this machine; ``argo``
(rendered with hera) submits the same tasks as an Argo Workflow. An executor runs the
checks it is given and collects their results; it never decides which checks a model
needs (that is ``engine.validation.dag``) and never edits specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.spec.config import Governance
from engine.spec.errors import UsageError
from engine.validation.dag import ValidationTask


@dataclass
class ValidationRun:
    """The outcome of running a DAG: every result document, the verdict, where the summary is."""

    results: list[dict[str, Any]]
    ok: bool
    summary_path: Path
    out_dir: Path
    counts: dict[str, int] = field(default_factory=dict)


class Executor(Protocol):
    """Runs validation tasks and writes one result per task plus ``summary.json``."""

    def run(
        self, root: Path, tasks: list[ValidationTask], out_dir: Path, *, jobs: int = 2, timeout_s: float = 300
    ) -> ValidationRun:
        """Run every task; never stops at the first failure."""
        ...


class _Local:
    def run(
        self, root: Path, tasks: list[ValidationTask], out_dir: Path, *, jobs: int = 2, timeout_s: float = 300
    ) -> ValidationRun:
        from engine.validation.executors.local import run_validation

        return run_validation(root, tasks, out_dir, jobs=jobs, timeout_s=timeout_s)


class _Argo:
    def __init__(self, head_sha: str | None, config: Governance | None, tiers: Mapping[str, str] | None) -> None:
        if not head_sha:
            raise UsageError("validation on Argo needs a commit: the pods clone it (uncommitted work cannot run there)")
        self.head_sha = head_sha
        self.config = config
        self.tiers = tiers

    def run(
        self, root: Path, tasks: list[ValidationTask], out_dir: Path, *, jobs: int = 2, timeout_s: float = 300
    ) -> ValidationRun:
        from engine.validation.executors.argo import run_validation_argo

        return run_validation_argo(root, tasks, out_dir, head_sha=self.head_sha, timeout_s=timeout_s,
                                   config=self.config, tiers=self.tiers)


def get(
    name: str, *, head_sha: str | None = None, config: Governance | None = None,
    tiers: Mapping[str, str] | None = None,
) -> Executor:
    """The executor registered under ``name``.

    ``argo`` needs the commit its pods check out, and, to reference the committed
    WorkflowTemplates, the governance config they were rendered from and each model's tier.
    """
    if name == "local":
        return _Local()
    if name == "argo":
        return _Argo(head_sha, config, tiers)
    raise UsageError(f"unknown executor '{name}'; choose one of: local, argo")
