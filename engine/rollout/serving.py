"""The supervised MLServer behind the local serving directory (``.govops/serving/``), and what serves there.

Merge stage, local target. Starts, finds and stops the one detached MLServer that
``govops serve`` / ``govops rollout`` run, and re-hashes the model repository it loads.
The directory's layout and its small JSON files are :mod:`engine.mlserver.local_serving`
(the gateway reads them too). It never decides what serves: the model repository on disk
is the live state, and MLServer loads exactly that.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.mlserver.client import MLServerClient
from engine.mlserver.local_serving import ServerInfo, ServingPaths, read_json, read_server, write_json
from engine.mlserver.process import MLServerProcess, stop_pid


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


def stray_entries(paths: ServingPaths) -> list[Path]:
    """Every file or folder in the model repository that govops did not write there.

    MLServer loads every ``model-settings.json`` below the repository (and a module or a
    ``settings.json`` dropped in could change the server itself), so only this shape is
    accepted: ``<mlserver name>/<version>/`` holding a ``govops.json`` that names exactly
    that model and version, a ``model-settings.json`` that names them too, and the one
    artifact file its ``parameters.uri`` points at. Anything else is a stray.
    """
    from engine.mlserver.settings import mlserver_name
    from engine.rollout.materialise import GOVOPS_FILE, MODEL_SETTINGS_FILE, read_record

    repo = paths.repository
    if not repo.is_dir():
        return []
    strays: list[Path] = []
    for top in sorted(repo.iterdir()):
        if top.is_symlink() or not top.is_dir():
            strays.append(top)
            continue
        for folder in sorted(top.iterdir()):
            rec = read_record(folder) if folder.is_dir() and not folder.is_symlink() else None
            settings = read_json(folder / MODEL_SETTINGS_FILE) if rec is not None else None
            params = settings.get("parameters") if isinstance(settings, dict) else None
            uri = params.get("uri") if isinstance(params, dict) else None
            if (rec is None or not isinstance(settings, dict) or not isinstance(params, dict)
                    or mlserver_name(str(rec.get("model"))) != top.name or str(rec.get("version")) != folder.name
                    or settings.get("name") != top.name or str(params.get("version")) != folder.name
                    or not isinstance(uri, str)):
                strays.append(folder)
                continue
            allowed = {GOVOPS_FILE, MODEL_SETTINGS_FILE, uri}
            for item in sorted(folder.rglob("*")):
                if item.is_dir() and not item.is_symlink():
                    if not any(a.startswith(item.relative_to(folder).as_posix() + "/") for a in allowed):
                        strays.append(item)
                    continue
                if item.relative_to(folder).as_posix() not in allowed and not any(
                        item.is_relative_to(s) for s in strays):
                    strays.append(item)
    return [s for s in strays if not any(s != o and s.is_relative_to(o) for o in strays)]


def rehash_served(paths: ServingPaths, desired: Any | None = None, *, exact: bool = True) -> list[ServedMismatch]:
    """Re-hash what serves; every file that differs from ``desired`` (a ``DesiredState``) or was not written by govops.

    The model repository is the live state MLServer loads: a file copied over a served
    artifact, an extra version folder or a module dropped in would serve unnoticed, so every
    reader that trusts the directory (``serve``, ``rollout``, ``verify``) checks it first.
    With ``desired`` each version folder is held to the desired state computed from Git
    only: its ``model-settings.json`` and ``govops.json`` must be the ones govops writes,
    and the artifact MLServer loads (the ``uri`` of the desired settings, which the served
    settings must equal) must have the pinned sha256; with ``exact`` a version the desired
    state does not serve is a mismatch too (``rollout`` passes ``exact=False``: those are
    the versions it retires). Without ``desired`` (no commit to compare with) each version is
    held to its own ``govops.json``, which proves little: callers that can, pass ``desired``.
    """
    from engine.rollout.materialise import GOVOPS_FILE, MODEL_SETTINGS_FILE, govops_record, read_record, sha256_of

    stray = stray_entries(paths)
    out = [ServedMismatch("-", "-", p, None, None, "was not written by govops (remove it; MLServer would read it)")
           for p in stray]
    repo = paths.repository
    if not repo.is_dir():
        return out
    for folder in sorted(v for n in repo.iterdir() if n.is_dir() and n not in stray for v in n.iterdir()
                         if v.is_dir() and v not in stray):
        rec = read_record(folder)
        if rec is None:
            continue
        model, version = str(rec.get("model")), str(rec.get("version"))
        if desired is None:
            settings = rec.get("settings") if isinstance(rec.get("settings"), dict) else {}
            params = settings.get("parameters") if isinstance(settings, dict) else None
            uri = params.get("uri") if isinstance(params, dict) else None
            expected, why = rec.get("sha256"), "does not match the sha256 in its govops.json"
        else:
            wanted = desired.models[model].version(version) if model in desired.models else None
            if wanted is None:
                if exact:
                    out.append(ServedMismatch(model, version, folder, None, None,
                                              "is served but the desired state does not serve it"))
                continue
            uri = wanted.settings.get("parameters", {}).get("uri")
            expected, why = wanted.sha256, "does not match the sha256 the specs pin"
            if read_json(folder / MODEL_SETTINGS_FILE) != wanted.settings:
                out.append(ServedMismatch(model, version, folder / MODEL_SETTINGS_FILE, None, None,
                                          "has settings that differ from the desired state"))
            if read_json(folder / GOVOPS_FILE) != json.loads(json.dumps(govops_record(wanted))):
                out.append(ServedMismatch(model, version, folder / GOVOPS_FILE, None, None,
                                          "differs from what govops writes for the desired state"))
        if not isinstance(uri, str) or not uri:
            continue
        artifact = folder / uri
        actual = sha256_of(artifact) if artifact.is_file() else None
        if actual != expected:
            out.append(ServedMismatch(model, version, artifact, str(expected) if expected else None, actual, why))
    return out
