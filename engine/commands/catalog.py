"""List the models of the repository: id, tier, champion, challengers, versions.

``--format json`` is a stable interface: ``{"models": [{"id", "tenant", "name", "tier",
"file", "champion", "versions"}]}``. Invalid specs are reported and make the exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands._common import add_format, workspace
from engine.diagnostics import has_errors
from engine.errors import EXIT_INPUT, EXIT_OK

NAME = "catalog"
HELP = "list the models (id, tier, champion, challengers, versions)"
ORDER = 30


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops catalog``."""
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Print the inventory."""
    from engine.catalog import catalog, render_text

    ws = workspace(args)
    for d in ws.diagnostics:
        print(d.render(), file=sys.stderr)
    doc = catalog(ws.specs)
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(doc))
    return EXIT_INPUT if has_errors(ws.diagnostics) else EXIT_OK
