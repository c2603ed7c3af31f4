"""``govops audit MODEL``: the model's timeline from Git history and the ledger notes.

``--format json`` is a stable interface: ``{"model", "events": [{"commit", "date",
"author", "committer", "kind", …}], "warnings"}``. ``--at DATE`` answers which version
was serving then, who approved it and on what evidence. A model that never existed is
exit 2; notes that are not valid JSON are warnings.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_OK

NAME = "audit"
HELP = "a model's timeline: changes, approvals, evidence, rollouts, shutdowns, reverts"
ORDER = 80


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops audit``."""
    parser.add_argument("model", metavar="MODEL", help="tenant/name, e.g. clinical/readmission-triage")
    parser.add_argument("--since", metavar="DATE", help="only events on or after DATE (YYYY-MM-DD or ISO 8601)")
    parser.add_argument("--until", metavar="DATE", help="only events on or before DATE")
    parser.add_argument("--at", metavar="DATE", help="which version was serving on DATE, approved by whom, on what")
    parser.add_argument("--ref", metavar="REF", default=None, help="the branch to read (default: main, else HEAD)")
    add_format(parser, ["text", "json", "md"])


def run(args: argparse.Namespace) -> int:
    """Print the timeline (or the ``--at`` answer)."""
    from engine.audit.timeline import audit_model, filter_events, serving_at
    from engine.audit.timeline_render import render_at_markdown, render_at_text, render_markdown, render_text
    from engine.audit.trail import parse_date

    since = parse_date(args.since, "--since") if args.since else None
    until = parse_date(args.until, "--until") if args.until else None
    at = parse_date(args.at, "--at") if args.at else None
    root = repo_root(args)
    timeline = audit_model(root, args.model, ref=args.ref)
    for w in timeline.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if at is not None:
        answer = serving_at(root, timeline, at)
        if args.format == "json":
            sys.stdout.write(json.dumps(answer, indent=2, default=str) + "\n")
        elif args.format == "md":
            sys.stdout.write(render_at_markdown(answer))
        else:
            sys.stdout.write(render_at_text(answer))
        return EXIT_OK
    shown = filter_events(timeline, since, until)
    if args.format == "json":
        sys.stdout.write(json.dumps(shown.to_data(), indent=2, default=str) + "\n")
    elif args.format == "md":
        sys.stdout.write(render_markdown(shown))
    else:
        sys.stdout.write(render_text(shown))
    return EXIT_OK
