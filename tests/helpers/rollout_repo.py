"""Test helper (rollout helper's tests): small real GitOps repositories in temporary directories."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SPEC_FILES = {
    "lab/iris-species": "specs/lab/iris-species.yaml",
    "beverages/wine-cultivar": "specs/beverages/wine-cultivar.yaml",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_repo(root: Path, models: tuple[str, ...] = ("lab/iris-species", "beverages/wine-cultivar")) -> Path:
    """A git repository holding govops.yaml, the given example specs, their artifacts and data."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    (root / ".gitignore").write_text(".govops/\n")
    for model in models:
        rel = SPEC_FILES[model]
        text = (PROJECT / rel).read_text()
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        for uri in sorted(set(re.findall(r"uri: (artifacts/[^\s,}]+)", text))):
            (root / uri).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(PROJECT / uri, root / uri)
    git(root, "init", "-q", "-b", "main")
    commit(root, "initial specs")
    return root


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def set_deployment(repo: Path, model: str, deployment_yaml: str) -> None:
    """Replace the ``deployment:`` block of a spec with ``deployment_yaml`` (indented 4 spaces)."""
    path = repo / SPEC_FILES[model]
    text = path.read_text()
    new = re.sub(r"  deployment:\n(?:    .*\n)+", "  deployment:\n" + deployment_yaml, text)
    assert new != text or "deployment:\n" + deployment_yaml in text
    path.write_text(new)


def add_version(repo: Path, model: str, version: str, artifact: Path) -> None:
    """Declare a new version (artifact copied into the repo, sha256 pinned)."""
    path = repo / SPEC_FILES[model]
    tenant, name = model.split("/")
    rel = f"artifacts/models/{tenant}/{name}/{version}/model.joblib"
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    if artifact.resolve() != (repo / rel).resolve():
        shutil.copy(artifact, repo / rel)
    entry = (
        f"    - id: {version}\n"
        f"      artifact:\n"
        f"        uri: {rel}\n"
        f"        sha256: {sha256(repo / rel)}\n"
        f"      runtime: mlserver_sklearn.SKLearnModel\n"
    )
    text = path.read_text()
    path.write_text(text.replace("  deployment:\n", entry + "  deployment:\n", 1))
