"""Rollout targets: one small protocol, one module per kind, picked by name.

Merge stage. ``local`` (the embedded default: a supervised MLServer on this machine)
and ``kubernetes`` (Seldon Core v2 or KServe manifests, written or applied). A target
computes the live state it can see, prints the diff, and applies the desired state; it
must never move traffic to a version before that version is healthy.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.rollout.desired import DesiredState
from engine.rollout.diff import Change, LiveState
from engine.spec.errors import UsageError

TARGETS = {
    "local": "engine.rollout.targets.local:LocalTarget",
    "kubernetes": "engine.rollout.targets.kubernetes:KubernetesTarget",
}


@dataclass
class RolloutResult:
    """What a rollout did: outcome, changes, health checks, ordered steps."""

    target: str
    outcome: str  # succeeded | failed | in-sync | dry-run | rendered
    changes: list[Change] = field(default_factory=list)
    health: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything serving changed."""
        return self.outcome == "succeeded" and bool(self.changes)

    def to_data(self) -> dict[str, Any]:
        """JSON form (ledger, ``--format json``)."""
        return {
            "target": self.target,
            "outcome": self.outcome,
            "changes": [c.to_data() for c in self.changes],
            "health": self.health,
            "steps": self.steps,
            "message": self.message,
            **({"details": self.details} if self.details else {}),
        }


class Target(Protocol):
    """A place the desired state is rolled out to."""

    name: str

    def session(self, dry_run: bool = False) -> contextlib.AbstractContextManager[None]:
        """Prepare the target (lock, recovery, server) for one rollout; a dry run only looks."""
        ...

    def live(self, desired: DesiredState) -> LiveState:
        """What serves now, as far as this target can see."""
        ...

    def diff(self, desired: DesiredState, live: LiveState) -> tuple[str, list[Change]]:
        """The printable diff and the changes it stands for."""
        ...

    def apply(self, desired: DesiredState, live: LiveState, changes: list[Change]) -> RolloutResult:
        """Make the target serve ``desired``."""
        ...


def get(name: str, root: Path, **options: Any) -> Target:
    """The target registered under ``name``, built for the repository at ``root``."""
    try:
        module_name, cls_name = TARGETS[name].split(":")
    except KeyError:
        raise UsageError(f"unknown rollout target '{name}'; choose one of {', '.join(sorted(TARGETS))}") from None
    cls = getattr(importlib.import_module(module_name), cls_name)
    target: Target = cls(root, **options)
    return target
