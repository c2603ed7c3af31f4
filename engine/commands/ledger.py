"""Read the rollout ledger: the JSON records govops stored as git notes (``refs/notes/govops``).

``govops ledger show [REF]`` prints the records of REF's commit, or of every noted
commit. Notes that are not valid JSON are reported as warnings, never crashed on.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands._common import add_format, repo_root
from engine.errors import EXIT_OK

NAME = "ledger"
HELP = "show the rollout records stored as git notes (refs/notes/govops)"
ORDER = 74


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops ledger``."""
    sub = parser.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the records of REF (default: every noted commit)")
    show.add_argument("ref", nargs="?", default=None, metavar="REF")
    add_format(show, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Print the ledger."""
    from engine.ledger import read_ledger, render_text

    entries = read_ledger(repo_root(args), args.ref)
    if args.format == "json":
        sys.stdout.write(json.dumps([e.to_data() for e in entries], indent=2) + "\n")
    else:
        sys.stdout.write(render_text(entries))
    for e in entries:
        for bad in e.invalid:
            print(f"warning: {e.commit[:12]}: note line {bad['line']}: {bad['error']}", file=sys.stderr)
    return EXIT_OK
