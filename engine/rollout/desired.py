"""The desired serving state: what the specs at a Git ref say should serve.

Merge stage. Reads ``govops.yaml`` and the spec files of one commit with one
``git ls-tree`` and GitPython's persistent ``git cat-file`` process (never walking
commits), validates them with the same loader as ``govops lint``, and returns every
deployed model's champion, challengers (mode, weight) and failover with their
artifacts (uri, sha256), runtime and MLServer settings, plus a stable digest. The
literal ref ``WORKTREE`` reads the working tree instead. This module never touches a
server or the file system outside the repository.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.mlserver.settings import mlserver_name, model_settings
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic, has_errors
from engine.spec.errors import ConfigError, InputError
from engine.spec.loader import YamlError, parse_yaml
from engine.spec.model import ModelSpec
from engine.spec.workspace import CONFIG_FILE, SPEC_SUFFIXES, LoadedSpec, load_spec_text, load_workspace

WORKTREE = "WORKTREE"
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


def resolve_commit(root: Path, ref: str) -> str:
    """The commit sha ``ref`` names; a ref that does not exist is an input error (exit 2)."""
    import git

    if not ref or ref.startswith("-") or any(c in ref for c in "\x00\n\r "):
        raise InputError(f"'{ref}' is not a valid Git ref")
    try:
        from engine.change import gitread  # the PR stage's reader: same messages for a missing ref everywhere
    except ImportError:  # pragma: no cover - gitread ships with govops
        gitread = None  # type: ignore[assignment]
    try:
        with git.Repo(root) as repo:
            if gitread is not None:
                return gitread.resolve_commit(repo, ref, "rollout")
            return str(repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")).strip()
    except git.InvalidGitRepositoryError as exc:
        raise InputError(f"{root} is not a Git repository; --ref needs one (or use --ref {WORKTREE})") from exc
    except git.NoSuchPathError as exc:
        raise InputError(f"{root} does not exist") from exc
    except git.GitCommandError as exc:
        raise InputError(f"ref '{ref}' does not exist in {root} (no such branch, tag or commit)") from exc


def read_files_at(root: Path, commit: str, paths: list[str]) -> dict[str, bytes]:
    """The blobs under ``paths`` at ``commit``: one ``ls-tree`` plus the persistent ``cat-file`` process."""
    import git

    out: dict[str, bytes] = {}
    with git.Repo(root) as repo:
        listing = repo.git.ls_tree("-r", "-z", "--full-tree", commit, "--", *paths)
        for entry in listing.split("\x00"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            _mode, kind, sha = meta.split()
            if kind != "blob":
                continue
            out[path] = repo.odb.stream(bytes.fromhex(sha)).read()
    return out


def _config_from_bytes(raw: bytes) -> Governance:
    try:
        doc = parse_yaml(raw, CONFIG_FILE)
    except YamlError as exc:
        raise ConfigError(exc.message, file=exc.file, line=exc.line, col=exc.col) from exc
    try:
        return Governance.model_validate(doc.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        line, col = doc.position(tuple(err["loc"]))
        raise ConfigError(f"invalid govops.yaml: {err['msg']}", file=CONFIG_FILE, line=line, col=col) from exc


def load_desired(root: Path, ref: str = "HEAD") -> DesiredState:
    """The desired state at ``ref`` (or the working tree for ``WORKTREE``); invalid specs are input errors."""
    root = root.resolve()
    if ref == WORKTREE:
        ws = load_workspace(root)
        _refuse_invalid(ws.diagnostics)
        state = desired_from_specs(ws.specs, ref, None)
        state.diagnostics = ws.diagnostics
        state.namespaces = _namespaces(ws.config)
        return state
    commit = resolve_commit(root, ref)
    cfg_blob = read_files_at(root, commit, [CONFIG_FILE]).get(CONFIG_FILE)
    if cfg_blob is None:
        raise ConfigError(f"no {CONFIG_FILE} at {ref} ({commit[:12]})", file=CONFIG_FILE)
    config = _config_from_bytes(cfg_blob)
    blobs = read_files_at(root, commit, list(config.spec_paths))
    specs: list[LoadedSpec] = []
    diags: list[Diagnostic] = []
    for path in sorted(blobs):
        if not path.endswith(SPEC_SUFFIXES) or any(part.startswith(".") for part in Path(path).parts):
            continue
        loaded, found = load_spec_text(blobs[path], path, root, config)
        diags.extend(found)
        if loaded is not None:
            specs.append(loaded)
    _refuse_invalid(diags)
    ids = [s.id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"model ids declared twice at {ref}: {', '.join(dupes)}")
    state = desired_from_specs(specs, ref, commit)
    state.diagnostics = diags
    state.namespaces = _namespaces(config)
    return state


def _namespaces(config: Governance | None) -> dict[str, str]:
    return {name: env.namespace for name, env in (config.environments if config else {}).items()}


def _refuse_invalid(diags: list[Diagnostic]) -> None:
    errors = [d for d in diags if d.severity == "error"]
    if has_errors(diags):
        first = errors[0]
        more = f" (and {len(errors) - 1} more; run govops lint)" if len(errors) > 1 else ""
        raise InputError(first.message + more, file=first.file, line=first.line, col=first.col)
