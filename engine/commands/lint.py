"""Validate specs and govops.yaml: YAML, schema and structural rules, reported at file:line:col.

Also refuses files tracked under ``.govops/`` (caches and runtime state must never come
from a checkout; see ``engine.spec.statedir``). Reads only; never writes or changes a file.
Exit 0 when every spec is valid, 2 when any is not (input the user must fix).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands._common import add_format, emit, exit_for, repo_root, workspace
from engine.report.output import Findings

NAME = "lint"
HELP = "validate specs and govops.yaml (YAML, schema, structure) at file:line:col"
ORDER = 20


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops lint``."""
    parser.add_argument("paths", nargs="*", type=Path, help="spec files or directories (default: specPaths)")
    add_format(parser, ["text", "json", "github"])
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for large repositories")


def run(args: argparse.Namespace) -> int:
    """Lint and print every finding."""
    from engine.spec.statedir import tracked_state

    ws = workspace(args, [p.resolve() for p in args.paths] or None, keep_specs=False)
    state = tracked_state(repo_root(args))  # a committed .govops/ would be read as state by the next checkout
    findings = Findings([*ws.diagnostics, *state], models_checked=ws.files_read, tool="govops lint")
    emit(findings, args.format)
    return exit_for(findings)
