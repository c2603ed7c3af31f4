"""The valid specs at one Git ref (or the working tree), read without walking history.

Change stage. Reads ``govops.yaml`` and the spec files of one commit with one ``git ls-tree``
and GitPython's persistent ``git cat-file`` process, validates them with the same loader as
``govops lint``, and refuses invalid specs and duplicate model ids (input errors, exit 2). The
literal ref ``WORKTREE`` reads the working tree instead. Two later stages read what is at a
rolled-out commit: the rollout builds its desired state from it (:mod:`engine.rollout.desired`)
and the gateway names its prediction log's input columns from it
(:mod:`engine.gateway.table`); both import this reader, so neither imports the other. This
module never writes, never touches a server and never reads outside the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from engine.change import gitread
from engine.change.gitread import WORKTREE
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic, has_errors
from engine.spec.errors import ConfigError, InputError
from engine.spec.loader import YamlError, parse_yaml
from engine.spec.workspace import CONFIG_FILE, SPEC_SUFFIXES, LoadedSpec, load_spec_text, load_workspace

__all__ = ["WORKTREE", "SpecsAt", "load_specs_at", "read_files_at", "resolve_commit"]


@dataclass
class SpecsAt:
    """The specs at one ref: the commit it names (``None`` for ``WORKTREE``), its config and diagnostics."""

    ref: str
    commit: str | None
    specs: list[LoadedSpec]
    config: Governance | None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def resolve_commit(root: Path, ref: str) -> str:
    """The commit sha ``ref`` names; a ref that does not exist is an input error (exit 2)."""
    import git

    if not ref or ref.startswith("-") or any(c in ref for c in "\x00\n\r "):
        raise InputError(f"'{ref}' is not a valid Git ref")
    try:
        with git.Repo(root) as repo:
            # the PR stage's reader: same messages for a missing ref everywhere
            return gitread.resolve_commit(repo, ref, "rollout")
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


def load_specs_at(root: Path, ref: str = "HEAD") -> SpecsAt:
    """The specs at ``ref`` (or the working tree for ``WORKTREE``); invalid specs are input errors."""
    root = root.resolve()
    if ref == WORKTREE:
        ws = load_workspace(root)
        _refuse_invalid(ws.diagnostics)
        return SpecsAt(ref, None, ws.specs, ws.config, ws.diagnostics)
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
    return SpecsAt(ref, commit, specs, config, diags)


def _refuse_invalid(diags: list[Diagnostic]) -> None:
    errors = [d for d in diags if d.severity == "error"]
    if has_errors(diags):
        first = errors[0]
        more = f" (and {len(errors) - 1} more; run govops lint)" if len(errors) > 1 else ""
        raise InputError(first.message + more, file=first.file, line=first.line, col=first.col)
