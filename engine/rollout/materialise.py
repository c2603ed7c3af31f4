"""Materialising one model version into the MLServer model repository.

Merge stage, local target. The artifact named by the spec is hashed and compared with
its pinned sha256 *before* it is copied; the copy is hashed again; only then is the
version folder (artifact, ``model-settings.json``, ``govops.json``) moved into the
repository with one rename. A failure (missing file, digest mismatch, disk full)
leaves the repository untouched. Nothing here talks to MLServer.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from engine.mlserver.settings import MODEL_SETTINGS_FILE
from engine.rollout.desired import DesiredVersion
from engine.spec.errors import GovopsError
from engine.spec.uris import local_path, uri_problem

GOVOPS_FILE = "govops.json"


class ArtifactError(GovopsError):
    """An artifact cannot be served: missing, wrong digest, unreadable, or the disk is full (exit 1)."""

    exit_code = 1


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def copy_file(src: Path, dst: Path) -> None:
    """Copy bytes (a separate function so a failing write can be simulated in tests)."""
    shutil.copyfile(src, dst)


def source_path(version: DesiredVersion, root: Path) -> Path:
    """The local artifact file of a version; object storage is refused for the local target."""
    problem = uri_problem(version.artifact_uri, root)
    if problem:
        raise ArtifactError(f"{version.model} {version.version}: {problem}")
    path = local_path(version.artifact_uri, root)
    if path is None:
        raise ArtifactError(
            f"{version.model} {version.version}: artifact {version.artifact_uri} is in object storage; "
            "the local target serves repository or file:// artifacts only"
        )
    return path


def verify_artifact(version: DesiredVersion, root: Path) -> Path:
    """The artifact's path after checking it exists and matches its pinned sha256."""
    src = source_path(version, root)
    if not src.is_file():
        raise ArtifactError(f"{version.model} {version.version}: artifact {version.artifact_uri} is missing")
    if version.sha256 is None:
        raise ArtifactError(
            f"{version.model} {version.version}: artifact {version.artifact_uri} has no sha256 pinned in the spec; "
            "refusing to serve unverified bytes"
        )
    actual = sha256_of(src)
    if actual != version.sha256:
        raise ArtifactError(
            f"{version.model} {version.version}: artifact {version.artifact_uri} has sha256 {actual[:12]}…, "
            f"the spec pins {version.sha256[:12]}…; refused before load"
        )
    return src


def govops_record(version: DesiredVersion) -> dict[str, Any]:
    """What ``govops.json`` in a version folder says (the live state is read back from it)."""
    return {"model": version.model, "version": version.version, **version.serving_key()}


def stage_version(version: DesiredVersion, root: Path, staging: Path) -> Path:
    """Build the version folder under ``staging`` (verified artifact + settings); return it."""
    src = verify_artifact(version, root)
    folder = staging / f"{version.mlserver_name}@{version.version}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    try:
        target = folder / str(version.settings["parameters"]["uri"])
        copy_file(src, target)
        if sha256_of(target) != version.sha256:
            raise ArtifactError(f"{version.model} {version.version}: the copied artifact does not match its sha256")
        (folder / MODEL_SETTINGS_FILE).write_text(json.dumps(version.settings, indent=2, sort_keys=True) + "\n")
        (folder / GOVOPS_FILE).write_text(json.dumps(govops_record(version), indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ArtifactError(
            f"{version.model} {version.version}: materialising into {staging} failed: {exc.strerror or exc}"
        ) from exc
    except ArtifactError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def read_record(folder: Path) -> dict[str, Any] | None:
    """``govops.json`` of a version folder in the repository, if readable."""
    try:
        data = json.loads((folder / GOVOPS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
