"""``govops docs MODEL [--version V] --format md|html|json``: the model card, from the spec and the recorded evidence.

Sections follow Mitchell et al., "Model Cards for Model Reporting", and the Hugging Face
model-card layout; every figure names the commit and the ledger record it came from, and a
fact govops does not hold is shown as missing. ``--results DIR`` adds the full results of a
``govops validate --out DIR`` run (partial dependence curves) when they read the governed
artifact's exact bytes. Exit 0, or 2 for an unknown model or version.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands._common import add_format, repo_root, write_rendered
from engine.spec.errors import EXIT_OK

NAME = "docs"
HELP = "generate a model card (Markdown or HTML) from the spec and the recorded evidence"
ORDER = 85


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops docs``."""
    parser.add_argument("model", metavar="MODEL", help="the model (tenant/name)")
    parser.add_argument("--version", dest="model_version", metavar="V", default=None,
                        help="the version to document (default: the champion)")
    parser.add_argument("--ref", metavar="REF", default=None, help="the branch to read (default: main, else HEAD)")
    parser.add_argument("--results", metavar="DIR", type=Path, default=None,
                        help="full check results (govops validate --out DIR) for curves and charts")
    parser.add_argument("--out", metavar="FILE", type=Path, help="write to FILE instead of stdout")
    add_format(parser, ["md", "html", "json"], default="md")


def run(args: argparse.Namespace) -> int:
    """Build and write the card."""
    from engine.audit.evidence_index import build_index
    from engine.audit.model_card import build_card
    from engine.audit.model_card_render import render_card_html, render_card_markdown

    index = build_index(repo_root(args), args.ref)
    doc = build_card(index, args.model, args.model_version, args.results)
    write_rendered(doc, args.format, args.out, md=render_card_markdown, html=render_card_html)
    return EXIT_OK
