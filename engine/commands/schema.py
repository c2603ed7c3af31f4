"""Print the JSON Schema of a model spec or of govops.yaml (for editors and CI)."""

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


def run(args: argparse.Namespace) -> int:
    """Print the schema."""
    from engine.spec.schemas import governance_schema, model_schema

    doc = model_schema() if args.kind == "model" else governance_schema()
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return 0
