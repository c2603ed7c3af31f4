"""Running the gateway under uvicorn, and telling a running gateway to reload.

Serving stage. :func:`serve` binds the socket first (so ``--port 0`` and a taken port
are handled before anything starts), writes ``.govops/gateway.json`` (URL, pid and the
reload token, mode 0600) for ``govops status`` and ``govops rollout``, runs uvicorn on
the socket with the gateway's connection protocol (:mod:`engine.gateway.protocol`: capped
request heads, head and keep-alive timeouts), and removes the file when it stops. With a
metrics port it also listens on 127.0.0.1 only for keyless ``/metrics`` scrapes. The file's place,
how it is read and how a rollout asks for a reload are the handshake in
:mod:`engine.mlserver.local_serving` (the rollout never imports the gateway).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.gateway.app import Gateway
from engine.gateway.protocol import protocol_class
from engine.mlserver.local_serving import gateway_state_path, read_gateway_state
from engine.spec.errors import InputError
from engine.spec.private_files import write_private

if TYPE_CHECKING:
    import uvicorn

METRICS_HOST = "127.0.0.1"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); a taken port is exit 2."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (0.0.0.0 shown as 127.0.0.1)."""
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


def write_state(root: Path, gateway: Gateway, url: str) -> Path:
    """Write ``.govops/gateway.json`` (0600: it holds the reload token)."""
    path = gateway_state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "url": url,
        "pid": os.getpid(),
        "started": time.time(),
        "reload_url": f"{url}/-/reload",
        "reload_token": gateway.config.reload_token,
        "table": str(gateway.config.table_file) if gateway.config.table_file else "rollout state",
        "log_dir": str(gateway.log.log_dir) if gateway.log is not None else None,
        "auth": gateway.config.keys is not None,
    }
    write_private(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return path


def remove_state(root: Path) -> None:
    """Remove ``.govops/gateway.json`` if this process wrote it."""
    path = gateway_state_path(root)
    doc = read_gateway_state(root, check_alive=False)
    if doc is not None and doc.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


FD_RESERVE = 128  # descriptors kept for upstream connections, the log and the listeners


def max_connections(configured: int) -> int:
    """``configured``, or (0) the soft open-file limit minus ``FD_RESERVE``: accept never runs out of fds."""
    if configured > 0:
        return configured
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 1024
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(16, min(soft - FD_RESERVE, 10_000))


def uvicorn_config(gateway: Gateway, *, access_log: bool = False) -> uvicorn.Config:
    """The uvicorn settings of this gateway: its limits, its connection protocol, no server banner."""
    import uvicorn

    cfg = gateway.config
    # a request's body must be in by then: the head's and the body's own deadlines, the upstream
    # call (a routed request may wait for it before the body of the next one), and some slack
    request_timeout_s = cfg.header_timeout_s + cfg.body_timeout_s + cfg.timeout_s + 5.0
    http = protocol_class(max_head=cfg.max_header_bytes, max_field=cfg.max_header_field_bytes,
                          head_timeout_s=cfg.header_timeout_s, request_timeout_s=request_timeout_s,
                          max_connections=max_connections(cfg.max_connections), on_refusal=gateway.count_refusal)
    return uvicorn.Config(gateway.app, http=http, log_level="warning", access_log=access_log, lifespan="on",
                          timeout_keep_alive=cfg.keepalive_s, backlog=2048, server_header=False,
                          date_header=False, limit_concurrency=max_connections(cfg.max_connections))


def serve(gateway: Gateway, root: Path, host: str, port: int, *, access_log: bool = False,
          metrics_port: int | None = None) -> None:
    """Run the gateway until SIGINT/SIGTERM (uvicorn, one process, uvloop when installed)."""
    import uvicorn

    sock = bind(host, port)
    sockets = [sock]
    url = url_of(sock)
    shown = f"govops gateway listening on {url} (pid {os.getpid()})"
    if metrics_port is not None:
        try:
            msock = bind(METRICS_HOST, metrics_port)
        except InputError:
            sock.close()
            raise
        sockets.append(msock)
        gateway.metrics_listener = msock.getsockname()[:2]
        shown += f"; keyless metrics on {url_of(msock)}/metrics"
    server = uvicorn.Server(uvicorn_config(gateway, access_log=access_log))
    write_state(root, gateway, url)
    gateway.on_stop.append(lambda: remove_state(root))  # uvicorn re-raises SIGTERM after shutdown
    print(shown, flush=True)
    try:
        server.run(sockets=sockets)
    finally:
        remove_state(root)
        for s in sockets:
            s.close()
