"""A ref that does not resolve is named once, with its role, and never read as an option."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.change.gitread import GitReadError, resolve_commit


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=a", "-c", "user.email=a@example.com",
                    "commit", "-q", "--allow-empty", "-m", "root"], check=True)
    return tmp_path


@pytest.mark.parametrize(("role", "expected"), [
    ("ref", "ref 'nosuch' does not exist in this repository (not a branch, tag or commit)"),
    ("base", "base ref 'nosuch' does not exist in this repository (not a branch, tag or commit)"),
])
def test_a_missing_ref_is_named_once_with_its_role(repo: Path, role: str, expected: str) -> None:
    with pytest.raises(GitReadError) as err:
        import git

        resolve_commit(git.Repo(repo), "nosuch", role)
    assert str(err.value) == expected


def test_verify_of_a_missing_ref_says_so_plainly(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    assert main(["-C", str(repo), "verify", "--ref", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "error: ref 'nosuch' does not exist" in err and "ref ref" not in err


def test_a_base_that_names_a_tag_and_a_branch_is_refused(repo: Path) -> None:
    """A pushed tag ``main`` would otherwise pick the base whose rules judge the change."""
    import git

    subprocess.run(["git", "-C", str(repo), "branch", "-M", "main"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=a", "-c", "user.email=a@example.com",
                    "commit", "-q", "--allow-empty", "-m", "second"], check=True)
    subprocess.run(["git", "-C", str(repo), "tag", "main", "HEAD~1"], check=True)
    with pytest.raises(GitReadError) as err:
        resolve_commit(git.Repo(repo), "main", "base")
    assert str(err.value) == ("base ref 'main' is ambiguous: it names a tag and a branch; "
                              "write refs/heads/main or refs/tags/main")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert resolve_commit(git.Repo(repo), "refs/heads/main", "base") == head
