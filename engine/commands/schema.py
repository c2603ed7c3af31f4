"""Print the JSON Schema of a model spec or of govops.yaml (for editors and CI).

``--editor vscode`` prints instead the ``yaml.schemas`` block of VS Code's settings (the Red Hat
YAML extension) that maps the spec folders of govops.yaml (``specs/**/*.yaml``) to the published
model schema and ``govops.yaml`` to its own; ``--local`` maps them to this installation's schema
files instead of the URLs (for work on an unreleased govops, or offline).
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "schema"
HELP = "print the JSON Schema of a model spec (or of govops.yaml)"
ORDER = 90


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops schema``."""
    parser.add_argument("kind", nargs="?", choices=["model", "governance"], default="model")
    parser.add_argument("--editor", choices=["vscode"], default=None,
                        help="print the editor settings that map specs and govops.yaml to their schemas")
    parser.add_argument("--local", action="store_true", help="with --editor: this installation's schema files")


def run(args: argparse.Namespace) -> int:
    """Print the schema."""
    from engine.spec.schemas import governance_schema, model_schema

    if args.editor is not None:
        from engine.commands._schema_editor import vscode_settings

        sys.stdout.write(json.dumps(vscode_settings(args), indent=2) + "\n")
        return 0

    doc = model_schema() if args.kind == "model" else governance_schema()
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return 0
