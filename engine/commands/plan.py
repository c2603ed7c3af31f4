"""Show what a change does to each model: ``govops plan --base REF --head REF``.

The plan compares the merge base of ``--base`` and ``--head`` with ``--head`` (a pull
request's view, ``base...head``); ``--head WORKTREE`` plans uncommitted work. Per model it
lists added/removed/moved models, new versions, champion, challenger and traffic changes,
tier changes and threshold changes (tightened/loosened), then changes to ``govops.yaml``
and ``policies/``. ``--format json`` is a stable interface (README, "Interfaces").
Exit codes: 0 ok, 2 a bad ref or history, or an invalid spec at the head.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_INPUT, EXIT_OK

NAME = "plan"
HELP = "show what a change (base...head) does to each model, policies and govops.yaml"
ORDER = 40


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops plan``."""
    parser.add_argument("--base", required=True, metavar="REF", help="the branch or commit the change targets")
    parser.add_argument(
        "--head", default="HEAD", metavar="REF",
        help="the changed commit (default: HEAD); WORKTREE plans uncommitted work",
    )
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Print the plan."""
    from engine.change.gitread import plan_between
    from engine.report.plan_text import render
    from engine.spec.diagnostics import has_errors
    from engine.spec.workspace import load_config

    root = repo_root(args)
    config = None
    if args.config:
        config, _, diags = load_config(root, Path(args.config).resolve())
        for d in diags:
            print(d.render(), file=sys.stderr)
    plan = plan_between(root, args.base, args.head, config)
    for d in plan.diagnostics:
        print(d.render(), file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(json.dumps(plan.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render(plan))
    return EXIT_INPUT if has_errors(plan.diagnostics) else EXIT_OK
