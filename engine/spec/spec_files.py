"""Which files are specs: the walk ``load_workspace`` and the cached ``lint``/``check`` paths share.

Kept free of the spec model (pydantic) and the YAML loader, so the warm, cached path of
``lint`` and ``check --all`` (``engine.spec.result_cache``) lists the same files without
importing either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import InputError

SPEC_SUFFIXES = (".yaml", ".yml")


def discover_files(root: Path, paths: Iterable[Path] | None, spec_paths: list[str]) -> list[Path]:
    """Every spec file under ``paths`` (default: ``spec_paths`` under ``root``, those that exist), sorted."""
    return [Path(name) for name in discover_names(root, paths, spec_paths)]


def discover_names(root: Path, paths: Iterable[Path] | None, spec_paths: list[str]) -> list[str]:
    """``discover_files`` as strings, in the same order (``Path`` order: part by part), without making paths."""
    if paths is None:
        paths = [p for p in (root / s for s in spec_paths) if p.exists()]
    files: list[str] = []
    for p in paths:
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                files.extend(os.path.join(dirpath, f) for f in filenames if f.endswith(SPEC_SUFFIXES))
        elif p.exists():
            files.append(str(p))
        else:
            raise InputError(f"{p}: no such file or directory", file=str(p))
    return sorted(files, key=lambda name: name.split(os.sep))


def display_path(path: Path, root: Path) -> str:
    """Repository-relative path for messages (absolute if outside the repository)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def duplicate_id(file: str, line: int, col: int, model: str, first_file: str) -> Diagnostic:
    """The finding for a spec declaring a model ``first_file`` already declares (the first one wins)."""
    return Diagnostic(file, line, col, "spec/duplicate-id",
                      f"model '{model}' is already declared in {first_file}; "
                      "each tenant/name must be unique: rename one of them", model=model)
