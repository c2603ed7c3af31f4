"""Run the champion/challenger gateway (Open Inference Protocol V2) in front of MLServer.

Routes each model's traffic as the rolled-out specs say (champion, canary/ab weights,
shadows, failover), checks per-tenant API keys, logs predictions to Parquet and serves
Prometheus ``/metrics``. Without ``--table`` the routing table is the local rollout's
state (``.govops/serving``), reloaded when a rollout changes it. Exit codes: 0 stopped
cleanly, 2 bad input (no keys without ``--no-auth``, bad table, port taken).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.commands._common import repo_root
from engine.spec.errors import EXIT_OK, InputError, UsageError

NAME = "gateway"
HELP = "run the champion/challenger gateway (V2 protocol): routing, auth, prediction log, metrics"
ORDER = 75


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops gateway``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8088, help="port to listen on (default: 8088; 0: a free one)")
    parser.add_argument("--table", type=Path, metavar="FILE",
                        help="routing table file (JSON/YAML) instead of the local rollout state")
    parser.add_argument("--log-dir", type=Path, metavar="DIR",
                        help="prediction log root (default: GOVOPS_LOG_DIR or .govops/logs)")
    parser.add_argument("--no-log", action="store_true", help="do not write the prediction log")
    parser.add_argument("--no-auth", action="store_true",
                        help="accept requests without an API key (local experiments only)")
    parser.add_argument("--access-log", action="store_true", help="print uvicorn's access log")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="also serve /metrics without a key on 127.0.0.1:PORT only (0: a free one); "
                             "on the main port /metrics needs an API key")


def run(args: argparse.Namespace) -> int:
    """Load keys and table, then serve until interrupted."""
    from engine.gateway.app import GatewayConfig, build_gateway
    from engine.gateway.auth import ENV_KEYS, load_keys
    from engine.gateway.predlog import DEFAULT_LOG_DIR, PredictionLog
    from engine.gateway.server import serve
    from engine.gateway.table import load_table
    from engine.spec.errors import TableError
    from engine.spec.settings import get_settings
    from engine.spec.workspace import load_config

    root = repo_root(args)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port (0-65535)")
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        raise UsageError(f"--metrics-port {args.metrics_port} is not a TCP port (0-65535)")
    settings = get_settings()  # a bad GOVOPS_* value is an InputError naming the variable
    keys = None
    if not args.no_auth:
        config, shown, diags = load_config(root, Path(args.config).resolve() if args.config else None)
        if config is None:
            first = diags[0]
            raise InputError(first.message, file=first.file, line=first.line, col=first.col)
        keys = load_keys(root, config.secrets.file)
        if config.secrets.file:
            from engine.spec.private_files import shared_mode

            loose = shared_mode(root / config.secrets.file)
            if loose:
                print(loose, file=sys.stderr)
        if not len(keys):
            where = f"the secrets file {config.secrets.file} (gatewayKeys)" if config.secrets.file else ""
            raise InputError(
                f"no gateway API keys: put {{tenant: [key, ...]}} under gatewayKeys in "
                f"{where or 'the secrets file named by secrets.file in ' + shown} or set {ENV_KEYS}; "
                "or run with --no-auth for a local experiment"
            )
    table_file = args.table.resolve() if args.table else None
    if table_file is not None:
        try:
            load_table(root, table_file)  # refuse a bad table before listening
        except TableError as exc:
            raise InputError(str(exc), file=str(args.table)) from None
    log = None
    if not args.no_log:
        log_dir = args.log_dir or (Path(settings.log_dir) if settings.log_dir else root / DEFAULT_LOG_DIR)
        log = PredictionLog(log_dir if log_dir.is_absolute() else root / log_dir,
                            sample_rate=settings.log_sample_rate)
    gateway = build_gateway(
        GatewayConfig(
            root=root,
            keys=keys,
            table_file=table_file,
            max_body=settings.gateway_max_body,
            timeout_s=settings.gateway_timeout_s,
            shadow_timeout_s=settings.gateway_shadow_timeout_s,
            shadow_queue=settings.gateway_shadow_queue,
            shadow_workers=settings.gateway_shadow_workers,
            connections=settings.gateway_upstream_connections,
            watch_s=settings.gateway_watch_s,
            log=log,
            body_timeout_s=settings.gateway_body_timeout_s,
            header_timeout_s=settings.gateway_header_timeout_s,
            keepalive_s=settings.gateway_keepalive_s,
            max_connections=settings.gateway_max_connections,
            max_header_bytes=settings.gateway_max_header_bytes,
            max_header_field_bytes=settings.gateway_max_header_field_bytes,
        )
    )
    if keys is None:
        print("warning: --no-auth: the gateway accepts requests without an API key", file=sys.stderr)
    serve(gateway, root, args.host, args.port, access_log=args.access_log, metrics_port=args.metrics_port)
    return EXIT_OK
