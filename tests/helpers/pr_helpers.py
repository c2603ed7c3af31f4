"""Helpers for the PR tests: real Git repositories in tmp dirs holding the example GitOps content."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dana DS", "GIT_AUTHOR_EMAIL": "dana@example.com",
    "GIT_COMMITTER_NAME": "Dana DS", "GIT_COMMITTER_EMAIL": "dana@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent-govops-test-home",
}


class GitRepo:
    """A real repository driven with the git CLI (tests may change its state freely)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str, check: bool = True) -> str:
        env = {**os.environ, **GIT_ENV}
        res = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True)
        if check and res.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {res.stderr}")
        return res.stdout.strip()

    def write(self, rel: str, text: str | bytes) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)
        return p

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def replace(self, rel: str, old: str, new: str, count: int = 1) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        self.write(rel, text.replace(old, new, count))

    def commit(self, msg: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", msg)
        return self.git("rev-parse", "HEAD")


def example_repo(path: Path, *, policies: bool = False) -> GitRepo:
    """A repository with the project's govops.yaml, specs and artifacts on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "govops.yaml", path / "govops.yaml")
    shutil.copytree(PROJECT / "specs", path / "specs")
    shutil.copytree(PROJECT / "artifacts", path / "artifacts")
    if policies and (PROJECT / "policies").is_dir():
        shutil.copytree(PROJECT / "policies", path / "policies")
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit("initial GitOps content")
    return repo


def minimal_spec(tenant: str, name: str, *, tier: str = "low", champion: str = "1.0.0",
                 versions: tuple[str, ...] = ("1.0.0",)) -> str:
    """A small valid spec whose artifacts are not pinned (no files needed)."""
    vs = "".join(
        f"    - id: {v}\n      artifact: {{uri: 's3://bucket/{tenant}/{name}/{v}/model.joblib'}}\n"
        f"      runtime: mlserver_sklearn.SKLearnModel\n"
        for v in versions
    )
    return (
        "apiVersion: govops/v1\nkind: Model\n"
        f"metadata:\n  name: {name}\n  tenant: {tenant}\n  owners: [kim.ds]\n"
        f"spec:\n  tier: {tier}\n  task: classification\n"
        "  interface:\n    inputs:\n      - {name: x, type: float}\n"
        "    outputs:\n      - {name: y, type: integer}\n"
        f"  versions:\n{vs}"
        f"  deployment:\n    champion: {champion}\n"
    )
