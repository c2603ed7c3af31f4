"""Re-pin the sha256 of every file a spec names (artifacts, training and validation data).

Only the digests of files that changed are rewritten, in place: comments, order, quoting and
layout stay byte for byte (``engine.spec.pinning``). One line per re-pinned digest, at its
``file:line:col``. Exit 0 when every pin could be checked, 2 when a named file is missing or
unreadable (reported at the ``uri``'s ``file:line:col``; that spec is left unchanged).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands._common import repo_root

NAME = "pin"
HELP = "re-pin the sha256 digests of the files specs name, keeping comments and layout"
ORDER = 24


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops pin``."""
    parser.add_argument("specs", nargs="*", type=Path, metavar="SPEC",
                        help="spec files or directories (default: the specPaths of govops.yaml)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a digest would change (for CI and pre-commit)")


def run(args: argparse.Namespace) -> int:
    """Pin every spec and report each changed digest."""
    from engine.spec.errors import EXIT_GOVERNANCE, EXIT_OK
    from engine.spec.pinning import pin_file
    from engine.spec.workspace import discover, display_path, load_config

    root = repo_root(args)
    config = None
    if not args.specs or (root / "govops.yaml").is_file():
        config, _, _ = load_config(root, Path(args.config).resolve() if args.config else None)
    # absolute, links kept (not resolved): pin_file refuses a link rather than edit what it points at
    files = discover(root, [p.absolute() for p in args.specs] or None, config)
    changed = unchanged = 0
    for path in files:
        outcome = pin_file(path, root, display_path(path, root), write=not args.check)
        for repin in outcome.repinned:
            print(repin.render())
        for uri in outcome.skipped:
            print(f"{outcome.file}: skipped {uri} (object storage is not fetched; pin it where it is written)")
        changed += len(outcome.repinned)
        unchanged += outcome.unchanged
    verb = "would re-pin" if args.check else "re-pinned"
    print(f"{verb} {changed} digest(s) in {len(files)} spec(s); {unchanged} unchanged")
    return EXIT_GOVERNANCE if args.check and changed else EXIT_OK
