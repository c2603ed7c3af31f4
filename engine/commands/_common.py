"""Helpers shared by commands: locating the repository, loading it, printing findings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.report.output import Findings, get
from engine.spec.errors import EXIT_INPUT, EXIT_OK
from engine.spec.workspace import Workspace, find_root, load_workspace


def repo_root(args: argparse.Namespace) -> Path:
    """``-C DIR`` if given, else the nearest directory holding govops.yaml."""
    if args.repo is not None:
        return Path(args.repo).resolve()
    return find_root(Path.cwd())


def workspace(args: argparse.Namespace, paths: list[Path] | None = None, *, keep_specs: bool = True) -> Workspace:
    """Load the repository named by the global options."""
    root = repo_root(args)
    config = Path(args.config).resolve() if args.config else None
    return load_workspace(root, paths, config_path=config, jobs=getattr(args, "jobs", None), keep_specs=keep_specs)


def emit(findings: Findings, fmt: str, out: Path | None = None) -> None:
    """Render findings in ``fmt`` to stdout (or a file)."""
    text = get(fmt).render(findings)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)


def add_format(parser: argparse.ArgumentParser, choices: list[str], default: str = "text") -> None:
    """The ``--format`` option."""
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default: {default})")


def exit_for(findings: Findings) -> int:
    """0 when nothing blocks, 2 when a spec is invalid input."""
    return EXIT_OK if findings.ok else EXIT_INPUT
