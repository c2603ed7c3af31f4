"""The local serving directory and the gateway handshake: the contract between a local rollout and a local gateway.

Foundation, beside the MLServer client. A local rollout (``engine.rollout``) writes
``.govops/serving/`` (the MLServer model repository, ``state.json`` with the roles of the last
rollout, ``server.json`` with the supervised MLServer's URL); a local gateway
(``engine.gateway``) reads those files to build its routing table and writes
``.govops/gateway.json`` (its URL and reload token) so that a rollout can tell it to reload.
The gateway comes after the rollout in the flow and the rollout may not import it, and the
gateway learns about a rollout only from these files, not by importing ``engine.rollout``: so
the layout and the handshake both read live here, below both of them. They describe how the
local MLServer deployment is laid out on disk, hence ``engine.mlserver``.

This module reads and writes small JSON files and sends one reload request; it never starts
or stops a server and never decides what serves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.mlserver.process import is_mlserver_pid

SERVING_DIR = Path(".govops") / "serving"
GATEWAY_STATE_FILE = "gateway.json"


@dataclass(frozen=True)
class ServingPaths:
    """Every file and directory of the local target, under ``<repo>/.govops/serving``."""

    base: Path

    @classmethod
    def for_repo(cls, root: Path) -> ServingPaths:
        """The serving directory of a GitOps repository (``GOVOPS_SERVING_DIR`` overrides it)."""
        override = os.environ.get("GOVOPS_SERVING_DIR")
        return cls(Path(override).resolve() if override else root.resolve() / SERVING_DIR)

    @property
    def repository(self) -> Path:
        """The MLServer model repository govops materialises."""
        return self.base / "repository"

    @property
    def server(self) -> Path:
        """``server.json``: pid, ports and URL of the running MLServer."""
        return self.base / "server.json"

    @property
    def state(self) -> Path:
        """``state.json``: roles, commit and digest of the last completed rollout."""
        return self.base / "state.json"

    @property
    def journal(self) -> Path:
        """``journal.json``: the write-ahead journal of a rollout in progress."""
        return self.base / "journal.json"

    @property
    def lock(self) -> Path:
        """``rollout.lock``: held (fcntl) by the running rollout."""
        return self.base / "rollout.lock"

    @property
    def log(self) -> Path:
        """MLServer's log file."""
        return self.base / "mlserver.log"

    @property
    def work(self) -> Path:
        """MLServer's working directory (metrics, environments)."""
        return self.base / "work"

    @property
    def staging(self) -> Path:
        """Where artifacts are copied and verified before they enter the repository."""
        return self.base / "staging"

    @property
    def backup(self) -> Path:
        """Copies of replaced versions, kept until the rollout commits."""
        return self.base / "backup"

    @property
    def gateway_state(self) -> Path:
        """``.govops/gateway.json``: where a running gateway writes its URL and reload token."""
        return self.base.parent / GATEWAY_STATE_FILE

    def version_dir(self, name: str, version: str) -> Path:
        """The repository folder of one model version."""
        return self.repository / name / version

    def ensure(self) -> None:
        """Create the directories."""
        for d in (self.base, self.repository, self.work, self.staging, self.backup):
            d.mkdir(parents=True, exist_ok=True)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or ``None`` if it does not exist or is not valid JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class ServerInfo:
    """The running (or last known) local MLServer."""

    pid: int
    url: str
    http_port: int
    grpc_port: int
    metrics_port: int
    started: float

    def running(self) -> bool:
        """Whether the recorded pid is alive and still MLServer."""
        return is_mlserver_pid(self.pid)


def read_server(paths: ServingPaths) -> ServerInfo | None:
    """The server recorded in ``server.json``, if any."""
    data = read_json(paths.server)
    if not isinstance(data, dict):
        return None
    try:
        return ServerInfo(**{k: data[k] for k in ServerInfo.__dataclass_fields__})
    except (KeyError, TypeError):
        return None


def gateway_state_path(root: Path) -> Path:
    """``.govops/gateway.json``: where a running gateway writes its URL (``govops status`` reads it)."""
    return ServingPaths.for_repo(root).gateway_state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_gateway_state(root: Path, *, check_alive: bool = True) -> dict[str, Any] | None:
    """The running gateway's ``gateway.json``; ``None`` if absent, unreadable or its pid is gone."""
    try:
        doc = json.loads(gateway_state_path(root).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    if check_alive and not (isinstance(doc.get("pid"), int) and _alive(doc["pid"])):
        return None
    return doc


def notify_reload(root: Path, timeout_s: float = 2.0) -> str:
    """Ask a running gateway to reload its routing table; a one-line outcome, never an exception.

    For ``govops rollout`` to call after a rollout. Without a gateway it does nothing (the
    gateway also polls the rollout state every ``GOVOPS_GATEWAY_WATCH_S`` seconds).
    """
    doc = read_gateway_state(root)
    if doc is None:
        return "no gateway running"
    try:
        import requests

        r = requests.post(str(doc["reload_url"]), headers={"X-Govops-Reload-Token": str(doc["reload_token"])},
                          timeout=timeout_s)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    except Exception as exc:  # noqa: BLE001 - a gateway that does not answer must not fail a rollout
        return f"gateway at {doc.get('url')} did not take the reload ({type(exc).__name__}); it polls the state"
    if r.status_code != 200:
        return f"gateway at {doc.get('url')} refused the reload (HTTP {r.status_code}: {body.get('error', '')})"
    return f"gateway at {doc.get('url')} reloaded its routing table ({body.get('models')} models)"
