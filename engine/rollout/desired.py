"""The desired serving state: what the specs at a Git ref say should serve.

Merge stage. Takes the valid specs at one commit (:func:`engine.change.specs_at.load_specs_at`:
one ``git ls-tree`` and GitPython's persistent ``git cat-file`` process, the same loader as
``govops lint``; the literal ref ``WORKTREE`` reads the working tree) and returns every
deployed model's champion, challengers (mode, weight) and failover with their
artifacts (uri, sha256), runtime and MLServer settings, plus a stable digest. This module
never touches a server or the file system outside the repository.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.change.specs_at import load_specs_at
from engine.mlserver.settings import mlserver_name, model_settings
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import InputError
from engine.spec.model import ModelSpec
from engine.spec.workspace import LoadedSpec

ROLE_ORDER = ("champion", "canary", "ab", "shadow", "failover")


@dataclass(frozen=True)
class DesiredVersion:
    """One version that must serve, with its role and everything needed to serve it."""

    model: str
    version: str
    role: str
    weight: float | None
    artifact_uri: str
    sha256: str | None
    runtime: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def mlserver_name(self) -> str:
        """The MLServer model name (``tenant--name``)."""
        return mlserver_name(self.model)

    def serving_key(self) -> dict[str, Any]:
        """What decides whether a loaded copy is this version (role and weight excluded)."""
        return {
            "artifact_uri": self.artifact_uri,
            "sha256": self.sha256,
            "runtime": self.runtime,
            "settings": self.settings,
        }


@dataclass(frozen=True)
class DesiredModel:
    """One deployed model: its versions by role, and the data its smoke test reads."""

    model: str
    file: str
    environment: str
    replicas: int
    cpu: str
    memory: str
    task: str
    inputs: list[str]
    evaluation_uri: str | None
    evaluation_sha256: str | None
    versions: list[DesiredVersion]

    def version(self, version_id: str) -> DesiredVersion | None:
        """The desired version with this id."""
        return next((v for v in self.versions if v.version == version_id), None)

    @property
    def champion(self) -> DesiredVersion:
        """The champion version."""
        return next(v for v in self.versions if v.role == "champion")


@dataclass
class DesiredState:
    """Every deployed model at one commit, and the digest of that state."""

    ref: str
    commit: str | None
    models: dict[str, DesiredModel]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    namespaces: dict[str, str] = field(default_factory=dict)

    def namespace(self, environment: str) -> str:
        """The Kubernetes namespace of an environment (govops.yaml ``environments``; default ``models``)."""
        return self.namespaces.get(environment, "models")

    def to_data(self) -> dict[str, Any]:
        """Plain JSON data, models sorted by id (what the digest covers, minus ref and commit)."""
        return {"models": {k: asdict(self.models[k]) for k in sorted(self.models)}}

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the state (independent of ref, commit and file order)."""
        blob = json.dumps(self.to_data(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def desired_from_specs(specs: list[LoadedSpec], ref: str, commit: str | None) -> DesiredState:
    """The desired state of already-loaded specs (models without a deployment do not serve)."""
    models: dict[str, DesiredModel] = {}
    for loaded in sorted(specs, key=lambda s: s.id):
        model = _desired_model(loaded)
        if model is not None:
            models[model.model] = model
    return DesiredState(ref=ref, commit=commit, models=models)


def _desired_model(loaded: LoadedSpec) -> DesiredModel | None:
    spec: ModelSpec = loaded.spec
    dep = spec.spec.deployment
    if dep is None:
        return None
    roles: list[tuple[str, str, float | None]] = [(dep.champion, "champion", None)]
    roles += [(c.version, c.mode, c.weight) for c in dep.challengers]
    if dep.failover:
        roles.append((dep.failover, "failover", None))
    batching = dep.mlserver.adaptive_batching
    name = mlserver_name(spec.id)
    versions: list[DesiredVersion] = []
    seen: set[str] = set()
    for vid, role, weight in roles:
        if vid in seen:
            continue  # one served copy per version; its first role wins (champion > challenger > failover)
        declared = spec.version(vid)
        if declared is None:
            line, col = loaded.doc.position(("spec", "deployment"))
            raise InputError(
                f"{spec.id}: deployment names version {vid} ({role}) which is not declared in spec.versions",
                file=loaded.file, line=line, col=col,
            )
        seen.add(vid)
        settings = model_settings(
            name,
            vid,
            "model" + Path(declared.artifact.uri).suffix,
            declared.runtime,
            parallel_workers=dep.mlserver.parallel_workers,
            max_batch_size=batching.max_batch_size if batching else None,
            max_batch_time_ms=batching.max_batch_time_ms if batching else None,
        )
        versions.append(
            DesiredVersion(
                model=spec.id,
                version=vid,
                role=role,
                weight=weight,
                artifact_uri=declared.artifact.uri,
                sha256=declared.artifact.sha256,
                runtime=declared.runtime,
                settings=settings,
            )
        )
    val = spec.spec.validation
    return DesiredModel(
        model=spec.id,
        file=loaded.file,
        environment=dep.environment,
        replicas=dep.replicas,
        cpu=dep.resources.cpu,
        memory=dep.resources.memory,
        task=spec.spec.task,
        inputs=spec.model_inputs(),
        evaluation_uri=val.evaluation_data.uri if val else None,
        evaluation_sha256=val.evaluation_data.sha256 if val else None,
        versions=versions,
    )


def load_desired(root: Path, ref: str = "HEAD") -> DesiredState:
    """The desired state at ``ref`` (or the working tree for ``WORKTREE``); invalid specs are input errors."""
    at = load_specs_at(root, ref)
    state = desired_from_specs(at.specs, ref, at.commit)
    state.diagnostics = at.diagnostics
    state.namespaces = _namespaces(at.config)
    return state


def _namespaces(config: Governance | None) -> dict[str, str]:
    return {name: env.namespace for name, env in (config.environments if config else {}).items()}
