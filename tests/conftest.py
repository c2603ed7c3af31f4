"""Shared fixtures: the project root and throwaway copies of the example GitOps repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets an empty cache directory (caches live outside checkouts: ``engine.spec.statedir``)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.delenv("RUNNER_TEMP", raising=False)
    monkeypatch.delenv("GOVOPS_CACHE_DIR", raising=False)


@pytest.fixture(scope="session")
def project_root() -> Path:
    """This checkout (holds govops.yaml, specs/, artifacts/)."""
    return PROJECT


def copy_example_repo(dest: Path, *, git: bool = True) -> Path:
    """Copy govops.yaml, specs/, artifacts/ and policies/ into ``dest`` (and commit them in a new git repo)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "govops.yaml", dest / "govops.yaml")
    for folder in ("specs", "artifacts", "policies"):
        if (PROJECT / folder).exists():
            shutil.copytree(PROJECT / folder, dest / folder)
    if git:
        run_git(dest, "init", "-q", "-b", "main")
        run_git(dest, "add", "-A")
        run_git(dest, "commit", "-q", "-m", "initial state")
    return dest


def run_git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity; returns stdout."""
    env = {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A fresh git repository holding the example specs, artifacts and policies."""
    return copy_example_repo(tmp_path / "repo")


def govops(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (what a user runs), capturing output."""
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=cwd or PROJECT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
