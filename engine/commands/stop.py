"""Stop the local MLServer started by ``govops serve`` or ``govops rollout`` (SIGTERM, then SIGKILL).

The model repository and the rollout state stay on disk: ``govops serve`` brings the
same versions back.
"""

from __future__ import annotations

import argparse

from engine.commands._common import repo_root
from engine.spec.errors import EXIT_OK

NAME = "stop"
HELP = "stop the local MLServer (the rolled-out state stays on disk)"
ORDER = 72


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops stop``."""
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")


def run(args: argparse.Namespace) -> int:
    """Stop the recorded server, if any."""
    from engine.mlserver.local_serving import ServingPaths
    from engine.rollout.serving import stop_server

    info = stop_server(ServingPaths.for_repo(repo_root(args)), args.timeout)
    print(f"stopped MLServer (pid {info.pid}, {info.url})" if info else "no MLServer is running")
    return EXIT_OK
