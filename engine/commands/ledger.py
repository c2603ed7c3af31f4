"""Read the rollout ledger: the JSON records govops stored as git notes (``refs/notes/govops``).

``govops ledger show [REF]`` prints the records of REF's commit, or of every noted
commit (``--evidence``: the PR evidence notes, ``refs/notes/govops-evidence``). Notes that
are not valid JSON are reported as warnings, never crashed on. ``govops ledger record-pr
DIR`` writes the evidence of a PR check (``govops pr-check --out DIR``) as a signed note
on the PR's head commit; the job that posts the statuses runs it, and ``--push`` sends it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_OK

NAME = "ledger"
HELP = "show the rollout records stored as git notes (refs/notes/govops)"
ORDER = 74


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops ledger``."""
    sub = parser.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the records of REF (default: every noted commit)")
    show.add_argument("ref", nargs="?", default=None, metavar="REF")
    show.add_argument("--evidence", action="store_true", help="show the PR evidence notes instead of rollouts")
    add_format(show, ["text", "json"])
    rec = sub.add_parser("record-pr", help="record a PR check's evidence as a note on its head commit")
    rec.add_argument("dir", type=Path, metavar="DIR", help="the directory `govops pr-check --out` wrote")
    rec.add_argument("--push", action="store_true", help="push refs/notes/govops-evidence afterwards")
    rec.add_argument("--remote", help="remote to push to (default: origin)")


def run(args: argparse.Namespace) -> int:
    """Print the ledger, or record a PR's evidence."""
    from engine.audit.ledger import EVIDENCE_REF, NOTES_REF, read_ledger, render_text

    if args.ledger_command == "record-pr":
        return _record_pr(args)
    entries = read_ledger(repo_root(args), args.ref, notes_ref=EVIDENCE_REF if args.evidence else NOTES_REF)
    if args.format == "json":
        sys.stdout.write(json.dumps([e.to_data() for e in entries], indent=2) + "\n")
    else:
        sys.stdout.write(render_text(entries))
    for e in entries:
        for bad in e.invalid:
            print(f"warning: {e.commit[:12]}: note line {bad['line']}: {bad['error']}", file=sys.stderr)
    return EXIT_OK


def _record_pr(args: argparse.Namespace) -> int:
    from engine.audit.ledger import EVIDENCE_REF, push_notes
    from engine.audit.pr_evidence import record_pr_evidence
    from engine.spec.workspace import load_config

    root = repo_root(args)
    config, _, _ = load_config(root, Path(args.config).resolve() if args.config else None)
    allowed = list(config.ledger.allowed_signers) if config is not None and config.ledger is not None else None
    stored = record_pr_evidence(root, args.dir.resolve(), allowed_signers=allowed)
    print(f"recorded the PR evidence in refs/notes/{EVIDENCE_REF} on {stored['head'][:12]} (seq {stored['seq']}): "
          f"{len(stored['evidence']['policy_decisions'])} policy decision(s), "
          f"{len(stored['evidence']['validation'])} validation result(s)")
    if args.push:
        print(push_notes(root, args.remote, ref=EVIDENCE_REF, pending=[(stored["head"], stored)],
                         allowed_signers=allowed))
    return EXIT_OK
