"""``govops explain COMMIT [MODEL]``: why a recorded policy decision came out as it did.

The decision recorded for COMMIT (its rollout record, else the PR evidence note on it) is
evaluated again with the policies at the recorded revision and the recorded input, and the
rule-level why is printed: each rule that fired, its message, the spec line and the data it
used; for an allow, the rules evaluated and passed. ``--format json`` prints the decision
records exactly in OPA's decision-log shape (``decision_id``, ``path``, ``input``,
``result``, ``bundles``, ``timestamp``, ``labels``), one JSON object per line, ready for any
decision-log sink. Exit 0 when every decision reproduces, 1 when one does not (the record
or the policies' history changed), 2 when nothing is recorded or the record is incomplete.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_OK

NAME = "explain"
HELP = "re-evaluate a recorded policy decision and print the rule-level why"
ORDER = 81


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops explain``."""
    parser.add_argument("commit", metavar="COMMIT", help="a rolled-out commit or a PR head with recorded evidence")
    parser.add_argument("model", metavar="MODEL", nargs="?", default=None, help="only this model (tenant/name)")
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Print the explanation."""
    from engine.audit.explain import explain, render_text

    explanations = explain(repo_root(args), args.commit, args.model)
    if args.format == "json":
        for e in explanations:
            sys.stdout.write(json.dumps(e.to_opa(), sort_keys=True) + "\n")
    else:
        sys.stdout.write(render_text(explanations))
    return EXIT_OK
