"""Validate specs and govops.yaml: YAML, schema and structural rules, reported at file:line:col.

Also refuses files tracked under ``.govops/`` (caches and runtime state must never come
from a checkout; see ``engine.spec.statedir``). Reads only; never writes or changes a file.
Exit 0 when every spec is valid, 2 when any is not (input the user must fix).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands._common import add_format, emit, exit_for, repo_root, workspace
from engine.spec.diagnostics import Findings

NAME = "lint"
HELP = "validate specs and govops.yaml (YAML, schema, structure) at file:line:col"
ORDER = 20


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops lint``."""
    parser.add_argument("paths", nargs="*", type=Path, help="spec files or directories (default: specPaths)")
    add_format(parser, ["text", "json", "github"])
    parser.add_argument("--jobs", type=int, default=None, help="worker processes for large repositories")


def run(args: argparse.Namespace) -> int:
    """Lint and print every finding (through the result cache where it can stand in: ``engine.policy.cached_lint``)."""
    import os

    from engine.policy.cached_lint import cached_lint

    config = Path(args.config).resolve() if args.config else None
    cached = cached_lint(repo_root(args), [p.resolve() for p in args.paths] or None, config,
                         getattr(args, "jobs", None), os.environ)
    if cached is not None:
        emit(cached[0], args.format)
        return exit_for(cached[0])
    from engine.policy.cached_lint import policy_directory
    from engine.policy.evidence_lint import evidence_findings, evidence_summary
    from engine.spec.statedir import tracked_state

    # each spec summarised where it is loaded: what the evidence rules need (no evaluation data)
    ws = workspace(args, [p.resolve() for p in args.paths] or None, keep_specs=False, summarise=evidence_summary)
    state = tracked_state(repo_root(args))  # a committed .govops/ would be read as state by the next checkout
    # the policy directory as the cached path names it (no settings class: pydantic-settings costs ~0.1 s)
    evidence = evidence_findings(ws, repo_root(args), policy_directory(repo_root(args), os.environ)[1])
    findings = Findings([*ws.diagnostics, *state, *evidence], models_checked=ws.files_read, tool="govops lint")
    emit(findings, args.format)
    return exit_for(findings)
