"""A GitOps repository as govops sees it: ``govops.yaml`` plus every spec under ``specs/``.

Loading never stops at the first bad file: every file is read, every problem becomes a
diagnostic at ``file:line:col``, and the caller decides (lint prints them all). Nothing
here writes to the repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import ConfigError, InputError
from engine.spec.loader import YamlDocument, YamlError, load_yaml_file, parse_yaml
from engine.spec.model import ModelSpec
from engine.spec.schema_errors import diagnostics_from_validation
from engine.spec.semantics import config_findings, spec_findings, to_diagnostics
from engine.spec.spec_files import duplicate_id

CONFIG_FILE = "govops.yaml"
SPEC_SUFFIXES = (".yaml", ".yml")
PARALLEL_THRESHOLD = 400


@dataclass
class LoadedSpec:
    """A valid spec and where it came from."""

    file: str
    doc: YamlDocument
    spec: ModelSpec

    @property
    def id(self) -> str:
        """``tenant/name``."""
        return self.spec.id


@dataclass
class Workspace:
    """The loaded repository: config, valid specs, and every diagnostic found on the way."""

    root: Path
    config: Governance | None
    config_file: str
    specs: list[LoadedSpec] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files_read: int = 0
    summaries: list[SpecSummary] = field(default_factory=list)
    """With ``load_workspace(summarise=...)``: one per valid spec (duplicates left out), in file order."""

    def by_id(self) -> dict[str, LoadedSpec]:
        """Specs keyed by model id."""
        return {s.id: s for s in self.specs}


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``govops.yaml`` (else ``start``)."""
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return here


def display_path(path: Path, root: Path) -> str:
    """Repository-relative path for messages (absolute if outside the repository)."""
    from engine.spec.spec_files import display_path as shown

    return shown(path, root)


def diagnostic_from_error(exc: YamlError | InputError, file: str, rule: str = "yaml/syntax") -> Diagnostic:
    """A diagnostic for a file that could not be parsed at all."""
    return Diagnostic(file=exc.file or file, line=exc.line or 1, col=exc.col or 1, rule=rule, message=exc.message)


def load_config(root: Path, path: Path | None = None) -> tuple[Governance | None, str, list[Diagnostic]]:
    """Read ``govops.yaml``; a missing file is an error the user must fix."""
    cfg_path = path or root / CONFIG_FILE
    shown = display_path(cfg_path, root)
    if cfg_path.is_dir():
        raise ConfigError(f"{shown} is a directory; expected the govops.yaml file", file=shown)
    if not cfg_path.exists():
        raise ConfigError(
            f"no {CONFIG_FILE} at {root}; run `govops init` to scaffold one, or pass --config FILE",
            file=shown,
        )
    try:
        doc = load_yaml_file(cfg_path, shown)
    except YamlError as exc:
        return None, shown, [diagnostic_from_error(exc, shown, "config/yaml")]
    if not isinstance(doc.data, dict):
        return None, shown, [Diagnostic(shown, 1, 1, "config/schema", "govops.yaml must be a mapping")]
    try:
        config = Governance.model_validate(doc.data)
    except ValidationError as exc:
        return (
            None,
            shown,
            [
                d.__class__(**{**d.__dict__, "rule": d.rule.replace("schema/", "config/")})
                for d in diagnostics_from_validation(exc, doc, Governance)
            ],
        )
    return config, shown, to_diagnostics(config_findings(config), doc, None)


def discover(root: Path, paths: Iterable[Path] | None, config: Governance | None) -> list[Path]:
    """Every spec file under ``paths`` (default: the config's spec paths), sorted (``engine.spec.spec_files``)."""
    from engine.spec.spec_files import discover_files

    return discover_files(root, paths, list(config.spec_paths) if config else ["specs"])


def load_spec_text(
    raw: bytes, file: str, root: Path, config: Governance | None
) -> tuple[LoadedSpec | None, list[Diagnostic]]:
    """Parse and validate one spec's bytes (from disk or from a Git blob)."""
    try:
        doc = parse_yaml(raw, file)
    except YamlError as exc:
        return None, [diagnostic_from_error(exc, file)]
    return validate_doc(doc, root, config)


def load_spec_file(path: Path, root: Path, config: Governance | None) -> tuple[LoadedSpec | None, list[Diagnostic]]:
    """Parse and validate one spec file."""
    shown = display_path(path, root)
    try:
        doc = load_yaml_file(path, shown)
    except YamlError as exc:
        return None, [diagnostic_from_error(exc, shown)]
    return validate_doc(doc, root, config)


def validate_doc(
    doc: YamlDocument, root: Path, config: Governance | None
) -> tuple[LoadedSpec | None, list[Diagnostic]]:
    """Schema, then structural rules; positions come from ``doc``."""
    if not isinstance(doc.data, dict):
        return None, [
            Diagnostic(
                doc.file,
                1,
                1,
                "schema/not-a-mapping",
                "a spec must be a mapping with apiVersion, kind, metadata and spec",
            )
        ]
    model_id = _guess_id(doc.data)
    try:
        spec = ModelSpec.model_validate(doc.data)
    except ValidationError as exc:
        return None, diagnostics_from_validation(exc, doc, ModelSpec, model_id=model_id)
    diags = to_diagnostics(spec_findings(spec, config, root), doc, spec.id)
    return LoadedSpec(doc.file, doc, spec), diags


def _guess_id(data: dict[str, object]) -> str | None:
    meta = data.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("tenant"), str) and isinstance(meta.get("name"), str):
        return f"{meta['tenant']}/{meta['name']}"
    return None


@dataclass(frozen=True)
class SpecSummary:
    """What duplicate detection needs of a valid spec, without its document (cheap to pickle)."""

    id: str
    file: str
    name_position: tuple[int, int]
    extra: Any = None
    """What ``load_workspace``'s ``summarise`` computed from the spec, in the process that loaded it."""


Summarise = Callable[[LoadedSpec], Any]
"""Turns a loaded spec into something small to send back (must be picklable, as must its result)."""


def _load_chunk(
    args: tuple[list[Path], Path, Governance | None, bool, Summarise | None],
) -> list[tuple[LoadedSpec | SpecSummary | None, list[Diagnostic]]]:
    files, root, config, keep, summarise = args
    out: list[tuple[LoadedSpec | SpecSummary | None, list[Diagnostic]]] = []
    for f in files:
        loaded, diags = load_spec_file(f, root, config)
        if loaded is not None and not keep:
            extra = summarise(loaded) if summarise is not None else None
            out.append((SpecSummary(loaded.id, loaded.file, loaded.doc.position(("metadata", "name")), extra), diags))
        elif loaded is not None:
            out.append((LoadedSpec(loaded.file, loaded.doc.compact(f.read_bytes()), loaded.spec), diags))
        else:
            out.append((None, diags))
    return out


def load_workspace(
    root: Path,
    paths: Iterable[Path] | None = None,
    *,
    config_path: Path | None = None,
    jobs: int | None = None,
    keep_specs: bool = True,
    summarise: Summarise | None = None,
) -> Workspace:
    """Load config and specs, collecting every diagnostic; duplicates across files are caught here.

    ``keep_specs=False`` (lint) leaves ``specs`` empty: worker processes then send back only
    diagnostics and ids, which is most of the speed of linting thousands of specs.
    ``summarise`` (implies ``keep_specs=False``) is applied to each valid spec where it was
    loaded, and ``summaries`` holds the results: work that needs each spec once (a policy
    input, say) is then done in the workers instead of shipping every spec back.
    """
    if summarise is not None:
        keep_specs = False
    config, config_file, diags = load_config(root, config_path)
    files = discover(root, paths, config)
    ws = Workspace(root=root, config=config, config_file=config_file, diagnostics=list(diags))
    results: list[tuple[LoadedSpec | SpecSummary | None, list[Diagnostic]]]
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    if len(files) >= PARALLEL_THRESHOLD and workers > 1:
        size = max(50, len(files) // (workers * 4))
        chunks = [(files[i : i + size], root, config, keep_specs, summarise) for i in range(0, len(files), size)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = [r for chunk in pool.map(_load_chunk, chunks) for r in chunk]
    elif summarise is not None:
        results = _load_chunk((files, root, config, False, summarise))
    else:
        results = [load_spec_file(f, root, config) for f in files]
    first: dict[str, LoadedSpec | SpecSummary] = {}
    for loaded, spec_diags in results:
        ws.diagnostics.extend(spec_diags)
        if loaded is None:
            continue
        other = first.get(loaded.id)
        if other is not None:
            if isinstance(loaded, SpecSummary):
                line, col = loaded.name_position
            else:
                line, col = loaded.doc.position(("metadata", "name"))
            ws.diagnostics.append(duplicate_id(loaded.file, line, col, loaded.id, other.file))
            continue
        first[loaded.id] = loaded
        if isinstance(loaded, LoadedSpec):
            ws.specs.append(loaded)
        elif summarise is not None:
            ws.summaries.append(loaded)
    ws.files_read = len(files)
    return ws
