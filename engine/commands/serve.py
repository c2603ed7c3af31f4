"""Start the local MLServer that govops supervises (``.govops/serving/``).

It serves the model repository that ``govops rollout`` materialises, on free local
ports unless ``--port`` is given; a port already in use is refused (exit 2). The server
keeps running after this command returns; ``govops stop`` stops it. Before starting,
every served artifact is re-hashed against the desired state of the last rollout (the
specs at the commit ``state.json`` names): a file whose bytes differ is refused (exit 1),
named, and nothing starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.commands._common import repo_root
from engine.spec.errors import EXIT_OK, GovernanceFailure

NAME = "serve"
HELP = "start the local MLServer that serves what govops rolled out"
ORDER = 71


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops serve``."""
    parser.add_argument("--port", type=int, help="HTTP port (default: a free port)")
    parser.add_argument("--grpc-port", type=int, help="gRPC port (default: a free port)")
    parser.add_argument("--metrics-port", type=int, help="metrics port (default: a free port)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")


def run(args: argparse.Namespace) -> int:
    """Start (or find) the server and print where it listens."""
    from engine.mlserver.local_serving import ServingPaths
    from engine.rollout.serving import start_server

    root = repo_root(args)
    paths = ServingPaths.for_repo(root)
    refuse_tampered(root, paths)
    info, started = start_server(
        paths, http_port=args.port, grpc_port=args.grpc_port, metrics_port=args.metrics_port, timeout_s=args.timeout
    )
    if started:
        print(f"MLServer started at {info.url} (pid {info.pid}); repository {paths.repository}; log {paths.log}")
    else:
        note = f" (not on --port {args.port})" if args.port and args.port != info.http_port else ""
        print(f"MLServer already running at {info.url} (pid {info.pid}){note}")
    return EXIT_OK


def refuse_tampered(root: Path, paths: Any) -> None:
    """Raise ``GovernanceFailure`` (exit 1) naming every served file that is not what the ledger says."""
    from engine.mlserver.local_serving import read_json
    from engine.rollout.desired import load_desired
    from engine.rollout.serving import rehash_served
    from engine.spec.errors import GovopsError

    state = read_json(paths.state)
    commit = state.get("commit") if isinstance(state, dict) else None
    desired = None
    problems = []
    if isinstance(commit, str) and commit:
        try:
            desired = load_desired(root, commit)
        except GovopsError:
            # nothing in the serving directory is evidence of itself: without the commit there is nothing to hold
            # the files to
            problems.append(f"{paths.state}: names commit {commit[:12]}, which is not in this repository: the "
                            "served files cannot be checked against Git")
    problems += [m.message() for m in rehash_served(paths, desired)]
    if problems:
        raise GovernanceFailure("refusing to serve: the served bytes are not the rolled-out ones:\n  "
                                + "\n  ".join(problems)
                                + "\nrun `govops rollout` to restore them from the verified artifacts")
