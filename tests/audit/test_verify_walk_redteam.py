"""Red-team findings against ``govops verify``'s history walk (2026-12-06), each held by a test.

1. ``specPaths: ["./specs"]`` matched none of the paths Git prints, so a spec commit with no
   rollout passed: odd spellings of a spec directory are refused (exit 2 naming govops.yaml).
2. A path that starts with 0x1e and a commit id posed as a commit of the walk (a rewritten
   history looked intact): a commit is now known by its place in the output, not its first byte.
3. ``log.showSignature=true`` in the caller's git config put "Good signature" lines in front of
   signed commits and dropped them from the walk: every parsed git runs with it off.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import git
import pytest

from engine.audit.trail import open_view
from engine.cli import main
from tests.audit.test_trail_tamper import build_trail
from tests.helpers.audit_helpers import walked_history

pytestmark = [pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes"),
              pytest.mark.slow]

SHOW_SIGNATURE = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "log.showSignature", "GIT_CONFIG_VALUE_0": "true"}


def verify(path: Path, *args: str) -> int:
    return main(["-C", str(path), "verify", *args])


@pytest.mark.parametrize("spelling", ["./specs", "specs/.", "./specs/", "specs//"])
def test_an_odd_spelling_of_the_spec_directory_is_refused_not_ignored(
        tmp_path: Path, spelling: str, capsys: pytest.CaptureFixture[str]) -> None:
    trail = build_trail(tmp_path)
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.0.0")
    trail.commit("direct push spec change", "2026-02-01T09:00:00+00:00")
    assert verify(trail.path) == 1  # the unrolled spec commit is found
    capsys.readouterr()
    cfg = (trail.path / "govops.yaml").read_text()
    cfg = re.sub(r"specPaths:.*\n", "", cfg)
    (trail.path / "govops.yaml").write_text(f'specPaths: ["{spelling}"]\n' + cfg)
    trail.commit(f"specPaths {spelling}", "2026-02-02T09:00:00+00:00")
    assert verify(trail.path) == 2
    err = capsys.readouterr().err
    assert "govops.yaml:1:" in err and f"spec path '{spelling}'" in err and "plain form" in err
    assert main(["-C", str(trail.path), "lint"]) == 2


def test_a_path_that_starts_like_a_commit_is_read_as_a_path(tmp_path: Path) -> None:
    """The govops root is a directory whose name is 0x1e, a commit id and another: every path starts so."""
    fake, fake_parent = "1" * 40, "2" * 40
    repo = tmp_path / "repo"
    root = repo / f"\x1e{fake} {fake_parent}"
    (root / "specs").mkdir(parents=True)
    (root / "govops.yaml").write_text("apiVersion: govops/v1\nkind: Governance\ntiers: {}\n")
    gitenv = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    for i in range(3):
        (root / "specs" / "a.yaml").write_text(f"n: {i}\n")
        (root / "specs" / "b.yaml").write_text(f"n: {i}\n")
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo), *gitenv, "commit", "-q", "-m", f"c{i}"], check=True)
    real = set(subprocess.run(["git", "-C", str(repo), "rev-list", "main"], capture_output=True, text=True,
                              check=True).stdout.split())
    view = open_view(git.Repo(repo), root, None, light=True)
    history = walked_history(view, str(repo / ".git"))
    assert history.reachable == real and fake not in history.reachable
    assert set(history.spec_commits) == real  # every commit changed a spec, and each is found as one


def test_show_signature_in_the_callers_git_config_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    trail = build_trail(tmp_path, declare=False)
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.0.0")
    trail.git("add", "-A")
    trail.git("-c", "commit.gpgsign=true", "commit", "-q", "-S", "-m", "signed unrolled spec change",
              date="2026-02-02T09:00:00+00:00")
    assert verify(trail.path, "--strict", "--format", "json") == 1
    plain = capsys.readouterr().out
    for key, value in SHOW_SIGNATURE.items():
        monkeypatch.setenv(key, value)
    assert verify(trail.path, "--strict", "--format", "json") == 1
    assert capsys.readouterr().out == plain


def test_an_unrelated_history_fast_forwarded_over_the_branch_is_found(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """4. An orphan line with other specs, merged with the old branch as its second parent, then fast-forwarded."""
    trail = build_trail(tmp_path)
    merge = trail.shas["merge"]
    assert verify(trail.path) == 0
    capsys.readouterr()
    trail.git("checkout", "-q", "--orphan", "evil")
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 9.9.9")
    trail.git("add", "-A")
    trail.commit("Initial GitOps content", "2026-01-01T09:00:00+00:00")
    trail.git("merge", "-q", "-s", "ours", "--allow-unrelated-histories", "main", "-m", "Merge branch 'main'",
              date="2026-02-01T09:00:00+00:00")
    trail.git("checkout", "-q", "main")
    trail.git("merge", "-q", "--ff-only", "evil")
    assert verify(trail.path) == 1
    out = capsys.readouterr().out
    assert f"rolled-out commit {merge[:12]}" in out and "only through a merge's second parent" in out


def test_a_tag_that_shadows_the_branch_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """6. git prefers refs/tags/main to refs/heads/main: ``--ref main`` would judge the tag's commit."""
    trail = build_trail(tmp_path)
    trail.git("tag", "main", trail.shas["initial"])
    assert verify(trail.path, "--ref", "main") == 2
    assert "ref 'main' is ambiguous: it names a tag and a branch; write refs/heads/main" in capsys.readouterr().err
    assert verify(trail.path, "--ref", "refs/heads/main") == 0
