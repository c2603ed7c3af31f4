"""``govops report``: a compliance report an auditor can read offline (HTML, Markdown or JSON).

HTML is one self-contained file (inline CSS, charts as inline SVG, no JavaScript, no
network). ``--tenant`` narrows it to one tenant, ``--since``/``--until`` to a period.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_OK, InputError

NAME = "report"
HELP = "compliance report: inventory, changes and approvals, exceptions, failures, incidents, missing evidence"
ORDER = 84


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops report``."""
    parser.add_argument("--tenant", metavar="T", help="only this tenant's models")
    parser.add_argument("--since", metavar="DATE", help="start of the period (YYYY-MM-DD or ISO 8601)")
    parser.add_argument("--until", metavar="DATE", help="end of the period (default: now)")
    parser.add_argument("--ref", metavar="REF", default=None, help="the branch to read (default: main, else HEAD)")
    parser.add_argument("--out", metavar="FILE", type=Path, help="write to FILE instead of stdout")
    add_format(parser, ["html", "md", "json"], default="html")


def run(args: argparse.Namespace) -> int:
    """Build and write the report."""
    from engine.audit.compliance import build_report
    from engine.audit.compliance_render import render_html, render_markdown
    from engine.audit.trail import parse_date

    since = parse_date(args.since, "--since") if args.since else None
    until = parse_date(args.until, "--until") if args.until else None
    root = repo_root(args)
    doc = build_report(root, ref=args.ref, tenant=args.tenant, since=since, until=until)
    if args.tenant and not doc["inventory"]["models"] and not doc["changes"]:
        raise InputError(f"tenant '{args.tenant}' has no models at {doc['ref']} and no changes in the period")
    if args.format == "json":
        text = json.dumps(doc, indent=2, default=str) + "\n"
    elif args.format == "md":
        text = render_markdown(doc)
    else:
        text = render_html(doc)
    if args.out:
        try:
            args.out.write_text(text)
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror}", file=str(args.out)) from None
        print(f"wrote {args.out} ({len(text)} bytes)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
