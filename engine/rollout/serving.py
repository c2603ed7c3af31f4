"""The local serving directory (``.govops/serving/``) and the supervised MLServer behind it.

Merge stage, local target. Holds the paths (model repository, state, journal, lock,
log), reads and writes the small JSON files atomically, and starts, finds and stops
the one detached MLServer that ``govops serve`` / ``govops rollout`` run. It never
decides what serves: the model repository on disk is the live state, and MLServer
loads exactly that.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.mlserver.client import MLServerClient
from engine.mlserver.process import MLServerProcess, is_mlserver_pid, stop_pid

SERVING_DIR = Path(".govops") / "serving"


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


def running_server(paths: ServingPaths) -> ServerInfo | None:
    """The recorded server if its process is alive and answers ``/v2/health/live``."""
    info = read_server(paths)
    if info is None or not info.running():
        return None
    client = MLServerClient(info.url)
    try:
        return info if client.live() else None
    finally:
        client.close()


def start_server(
    paths: ServingPaths,
    *,
    http_port: int | None = None,
    grpc_port: int | None = None,
    metrics_port: int | None = None,
    timeout_s: float = 120.0,
) -> tuple[ServerInfo, bool]:
    """Start the detached MLServer on the repository unless one runs; ``(info, started_now)``."""
    current = running_server(paths)
    if current is not None:
        return current, False
    paths.ensure()
    proc = MLServerProcess(
        paths.repository,
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        load_models_at_startup=True,
        log_file=paths.log,
        work_dir=paths.work,
        startup_timeout_s=timeout_s,
        detach=True,
        repository_implementation="engine.mlserver.repository.NameFolderRepository",
    )
    proc.start()
    assert proc.pid is not None
    info = ServerInfo(
        pid=proc.pid,
        url=proc.url,
        http_port=proc.http_port,
        grpc_port=proc.grpc_port,
        metrics_port=proc.metrics_port,
        started=time.time(),
    )
    write_json(paths.server, info.__dict__)
    return info, True


def stop_server(paths: ServingPaths, timeout_s: float = 10.0) -> ServerInfo | None:
    """Stop the recorded server (SIGTERM, then SIGKILL); the stopped server's info, or ``None``."""
    info = read_server(paths)
    if info is None:
        return None
    if info.running():
        stop_pid(info.pid, timeout_s)
    with contextlib.suppress(FileNotFoundError):
        paths.server.unlink()
    return info


@dataclass(frozen=True)
class ServedMismatch:
    """A served file whose bytes are not what the desired state (or its own ``govops.json``) says."""

    model: str
    version: str
    file: Path
    expected: str | None
    actual: str | None
    why: str

    def message(self) -> str:
        """One line naming the file and both digests."""
        return (f"{self.file}: {self.model} {self.version} {self.why} (expected sha256 "
                f"{(self.expected or '-')[:12]}, served {(self.actual or 'missing')[:12]})")


def rehash_served(paths: ServingPaths, desired: Any | None = None) -> list[ServedMismatch]:
    """Re-hash every served artifact; what differs from ``desired`` (a ``DesiredState``) or ``govops.json``.

    The model repository is the live state MLServer loads: a file copied over a served
    artifact would serve unnoticed, so every reader that trusts the directory (``serve``,
    ``rollout``, ``verify``) re-hashes it first. Without ``desired`` each version is held to
    the sha256 its ``govops.json`` recorded; with it, to the sha256 the specs pin.
    """
    from engine.rollout.materialise import read_record, sha256_of

    out: list[ServedMismatch] = []
    repo = paths.repository
    if not repo.is_dir():
        return out
    for folder in sorted(v for n in repo.iterdir() if n.is_dir() for v in n.iterdir() if v.is_dir()):
        rec = read_record(folder)
        if rec is None:
            continue
        model, version = str(rec.get("model")), str(rec.get("version"))
        settings = rec.get("settings") if isinstance(rec.get("settings"), dict) else {}
        params = settings.get("parameters") if isinstance(settings, dict) else None
        uri = params.get("uri") if isinstance(params, dict) else None
        expected = rec.get("sha256")
        why = "does not match the sha256 in its govops.json"
        if desired is not None:
            wanted = desired.models[model].version(version) if model in desired.models else None
            if wanted is not None:
                expected, why = wanted.sha256, "does not match the sha256 the specs pin"
                settings_file = folder / "model-settings.json"
                served_settings = read_json(settings_file)
                if served_settings is not None and served_settings != wanted.settings:
                    out.append(ServedMismatch(model, version, settings_file, None, None,
                                              "has settings that differ from the desired state"))
        if not isinstance(uri, str) or not uri:
            continue
        artifact = folder / uri
        actual = sha256_of(artifact) if artifact.is_file() else None
        if actual != expected:
            out.append(ServedMismatch(model, version, artifact, str(expected) if expected else None, actual, why))
    return out
