"""``govops verify``: check the integrity of the audit trail (history, digests, artifacts, signatures).

Exit 0 when the trail holds, 1 with the offending commits when it does not, 2 when it
cannot be checked (not a repository, a shallow clone). ``--format json``:
``{"ok", "ref", "commit", "checked", "offending_commits", "problems": [{"check", "commit",
"severity", "message"}]}``.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_OK

NAME = "verify"
HELP = "verify the audit trail: signed hash-chained notes, records for every change, digests, served bytes"
ORDER = 82


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops verify``."""
    parser.add_argument("--ref", metavar="REF", default=None, help="the branch to verify (default: main, else HEAD)")
    parser.add_argument("--strict", action="store_true", help="missing evidence is an error, not a warning")
    parser.add_argument("--deep", action="store_true",
                        help="rebuild the desired state of every rolled-out commit and compare the validated "
                        "artifacts (slow); by default records that name their spec trees are compared by tree id")
    parser.add_argument("--all-signatures", action="store_true",
                        help="check the signature of every ledger notes commit, not only each notes ref's tip")
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Print the problems; exit 1 when the trail does not hold.

    The history walk is started before the verifier is imported (``engine.audit.gitjobs``):
    git walks the branch while Python imports and reads the notes.
    """
    import gc

    from engine.audit.gitjobs import prestart

    collecting = gc.isenabled()
    gc.disable()  # tens of thousands of records, commits, lines and imported objects, no cycles: collecting costs 5%
    try:
        root = repo_root(args)
        started = prestart(root, args.ref)
        from engine.audit.verify import render_text, verify

        report = verify(root, ref=args.ref, strict=args.strict, every_signature=args.all_signatures, deep=args.deep,
                        started=started)
    finally:
        if collecting:
            gc.enable()
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_data(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return EXIT_OK if report.ok else EXIT_GOVERNANCE
