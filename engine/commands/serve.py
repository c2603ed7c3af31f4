"""Start the local MLServer that govops supervises (``.govops/serving/``).

It serves the model repository that ``govops rollout`` materialises, on free local
ports unless ``--port`` is given; a port already in use is refused (exit 2). The server
keeps running after this command returns; ``govops stop`` stops it.
"""

from __future__ import annotations

import argparse

from engine.commands._common import repo_root
from engine.errors import EXIT_OK

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
    from engine.rollout.serving import ServingPaths, start_server

    paths = ServingPaths.for_repo(repo_root(args))
    info, started = start_server(
        paths, http_port=args.port, grpc_port=args.grpc_port, metrics_port=args.metrics_port, timeout_s=args.timeout
    )
    if started:
        print(f"MLServer started at {info.url} (pid {info.pid}); repository {paths.repository}; log {paths.log}")
    else:
        note = f" (not on --port {args.port})" if args.port and args.port != info.http_port else ""
        print(f"MLServer already running at {info.url} (pid {info.pid}){note}")
    return EXIT_OK
