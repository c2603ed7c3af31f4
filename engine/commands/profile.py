"""Build the reference profile of model versions (the summary monitoring compares traffic with).

Validation stage, command side. Reads each version's reference data and model once
(digests verified), and writes it to the cache directory, outside the checkout
(``<cache>/profiles/<tenant>--<name>/<version>/<digest>.json``, ``engine.spec.statedir``; and,
with ``--out DIR``, ``DIR/<tenant>/<name>/profile-<version>.json`` beside validation
results). Default: the champion and challengers of every deployed model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands._common import add_format, repo_root, workspace
from engine.spec.errors import EXIT_OK, UsageError

NAME = "profile"
HELP = "build reference profiles (mergeable sketches) of model versions for monitoring"
ORDER = 52


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops profile``."""
    parser.add_argument("--model", action="append", default=[], metavar="ID", help="a model id (repeatable)")
    parser.add_argument("--version", default=None, help="only this version (with one --model)")
    parser.add_argument("--out", type=Path, default=None, help="also write beside validation results in DIR")
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Build and store profiles."""
    from engine.validation.profile import compute_profile, save_profile, store_beside_results, stored_path

    ws = workspace(args)
    root = repo_root(args)
    by_id = ws.by_id()
    unknown = [m for m in args.model if m not in by_id]
    if unknown:
        raise UsageError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(by_id)) or 'none'}")
    if args.version and len(args.model) != 1:
        raise UsageError("--version needs exactly one --model")
    written = []
    for mid in args.model or sorted(by_id):
        spec = by_id[mid].spec
        dep = spec.spec.deployment
        if args.version:
            versions = [args.version]
        elif dep is not None:
            versions = [dep.champion, *[c.version for c in dep.challengers]]
        else:
            continue
        if spec.spec.validation is None:
            continue
        for v in versions:
            profile = compute_profile(root, spec, v)
            paths = (store_beside_results(root, profile, args.out.resolve()) if args.out
                     else [save_profile(profile, stored_path(root, profile))])
            written.append({"model": mid, "version": v, "rows": profile.rows, "paths": [str(p) for p in paths]})
    if args.format == "json":
        sys.stdout.write(json.dumps({"profiles": written}, indent=2) + "\n")
    else:
        for w in written:
            print(f"{w['model']} {w['version']}: {w['rows']} reference rows -> {w['paths'][0]}")
    return EXIT_OK
