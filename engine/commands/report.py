"""``govops report``: a compliance report an auditor can read offline (HTML, Markdown or JSON).

HTML is one self-contained file (inline CSS, charts as inline SVG, no JavaScript, no
network). ``--tenant`` narrows it to one tenant, ``--since``/``--until`` to a period.
``--pack NAME [MODEL]`` reports a regulation pack instead: per model, each control covered
(with links to its evidence), partial or missing; exit 1 when a control is not covered.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands._common import add_format, repo_root, write_rendered
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
    parser.add_argument("--pack", metavar="NAME", default=None,
                        help="a regulation pack (policies/packs/NAME.yaml): each control covered, partial or missing "
                        "per model, with links to its evidence (exit 1 when a control is not covered)")
    parser.add_argument("model", metavar="MODEL", nargs="?", default=None, help="with --pack: only this model")
    add_format(parser, ["html", "md", "json"], default="html")


def run(args: argparse.Namespace) -> int:
    """Build and write the report."""
    from engine.audit.compliance import build_report
    from engine.audit.compliance_render import render_html, render_markdown
    from engine.audit.trail import parse_date

    if args.pack or args.model:
        return _pack(args)
    since = parse_date(args.since, "--since") if args.since else None
    until = parse_date(args.until, "--until") if args.until else None
    root = repo_root(args)
    doc = build_report(root, ref=args.ref, tenant=args.tenant, since=since, until=until)
    if args.tenant and not doc["inventory"]["models"] and not doc["changes"]:
        raise InputError(f"tenant '{args.tenant}' has no models at {doc['ref']} and no changes in the period")
    write_rendered(doc, args.format, args.out, md=render_markdown, html=render_html)
    return EXIT_OK


def _pack(args: argparse.Namespace) -> int:
    """``--pack NAME [MODEL]``: the regulation pack's coverage, from the shared evidence index."""
    from engine.audit.evidence_index import build_index
    from engine.audit.model_card_render import render_pack_html, render_pack_markdown
    from engine.audit.pack_report import pack_report
    from engine.spec.errors import EXIT_GOVERNANCE
    from engine.spec.settings import get_settings

    if not args.pack:
        raise InputError("MODEL is only taken with --pack NAME")
    doc = pack_report(build_index(repo_root(args), args.ref), args.pack, args.model,
                      policy_dir=get_settings().policy_dir)
    write_rendered(doc, args.format, args.out, md=render_pack_markdown, html=render_pack_html)
    return EXIT_OK if doc["complete"] else EXIT_GOVERNANCE
