"""List the models of the repository: id, tier, owners, versions, deployment, lineage, trail.

``--format json`` is a stable interface: ``{"models": [{"id", "tenant", "name", "tier",
"file", "champion", "versions"}]}`` (plus ``owners``, ``challengers``, ``failover``,
``last_validation``, ``last_rollout``, ``health``). ``--ref REF`` reads the specs at a Git
ref; ``MODEL --lineage`` prints the version tree. Invalid specs are reported and make the
exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.commands._common import add_format, repo_root, workspace
from engine.spec.diagnostics import has_errors
from engine.spec.errors import EXIT_INPUT, EXIT_OK, InputError

NAME = "catalog"
HELP = "list the models (id, tier, champion, challengers, versions)"
ORDER = 30


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops catalog``."""
    parser.add_argument("model", nargs="?", metavar="MODEL", help="only this model (tenant/name)")
    parser.add_argument("--ref", metavar="REF", default=None, help="read the specs at a Git ref (default: work tree)")
    parser.add_argument("--lineage", action="store_true", help="print MODEL's version tree (parent links)")
    add_format(parser, ["text", "json", "csv"])


def _trail(root: Any) -> tuple[list[Any], dict[str, dict[str, Any]] | None]:
    """Ledger notes (none outside a Git repository) and monitoring health (``None`` if never run)."""
    from engine.audit.trail import all_notes
    from engine.change.gitread import GitReadError, open_repo
    from engine.monitoring.state import read_health, state_dir

    try:
        with open_repo(root) as repo:
            notes = all_notes(repo)
    except GitReadError:
        notes = []
    health = read_health(root) if (state_dir(root) / "state.json").is_file() else None
    return notes, health


def run(args: argparse.Namespace) -> int:
    """Print the inventory."""
    from engine.audit.catalog import add_trail, catalog, lineage, render_csv, render_lineage_text, render_text

    root = repo_root(args)
    if args.lineage and not args.model:
        raise InputError("--lineage needs a MODEL (tenant/name)")
    if args.ref:
        from engine.change.gitread import plan_between

        plan = plan_between(root, args.ref, args.ref)
        specs = [plan.head_specs[k] for k in plan.head_specs]
        diagnostics = list(plan.diagnostics)
    else:
        ws = workspace(args)
        specs, diagnostics = ws.specs, ws.diagnostics
    for d in diagnostics:
        print(d.render(), file=sys.stderr)
    doc = catalog(specs)
    if args.model:
        doc["models"] = [m for m in doc["models"] if m["id"] == args.model]
        if not doc["models"]:
            where = f"at {args.ref}" if args.ref else "in the work tree"
            raise InputError(f"model '{args.model}' is not declared {where} (see `govops catalog`)")
    notes, health = _trail(root)
    add_trail(doc, notes, health)
    if args.lineage:
        tree = lineage(doc["models"][0])
        if args.format == "json":
            sys.stdout.write(json.dumps(tree, indent=2) + "\n")
        else:
            sys.stdout.write(render_lineage_text(tree))
    elif args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(render_csv(doc))
    else:
        sys.stdout.write(render_text(doc))
    return EXIT_INPUT if has_errors(diagnostics) else EXIT_OK
