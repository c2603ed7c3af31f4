"""``govops verify`` reads the spec trees from its history walk and starts the walk before parsing argv.

Each test holds a fast path of ``verify`` (issue #17, speed) to the plain answer, on real Git.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from engine.audit import gitjobs
from engine.audit.trail import GitDir, open_view
from engine.audit.verify import _object_ids, _spec_trees
from tests.helpers.audit_helpers import walked_history

_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=_ENV, capture_output=True, check=True, text=True).stdout


def _odd_history(repo: Path) -> Path:
    """A govops root in ``sub/`` with two spec directories; a merge, a deleted spec dir, a file there, and back."""
    root = repo / "sub"
    (root / "specs").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (root / "govops.yaml").write_text('apiVersion: govops/v1\nkind: Governance\ntiers: {}\n'
                                      'specPaths: ["specs", "more/specs"]\n')
    (root / "specs" / "a.yaml").write_text("a: 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "c1")
    _git(repo, "checkout", "-q", "-b", "side")
    (root / "more" / "specs").mkdir(parents=True)
    (root / "more" / "specs" / "b.yaml").write_text("b: 1\n")
    (root / "specs" / "x.yaml").write_text("x: 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "s1")
    (root / "specs" / "a.yaml").write_text("a: 2\n")
    _git(repo, "commit", "-q", "-am", "s2")
    _git(repo, "checkout", "-q", "main")
    (root / "other.txt").write_text("o\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "c2")
    _git(repo, "merge", "-q", "--no-ff", "side", "-m", "merge side")
    _git(repo, "rm", "-rq", "sub/specs")
    _git(repo, "commit", "-q", "-m", "rm specs")
    (root / "specs").write_text("a file\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "specs is a file")
    _git(repo, "rm", "-q", "sub/specs")
    (root / "specs").mkdir()
    (root / "specs" / "q.yaml").write_text("q: 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "specs is a directory again")
    (root / "more" / "specs" / "e.yaml").write_text("e: 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "more")
    return root


def test_the_walk_gives_the_spec_trees_git_gives(tmp_path: Path) -> None:
    """Every commit × spec directory (and a path the walk does not cover): the same id, or absence, as cat-file."""
    repo = tmp_path / "repo"
    root = _odd_history(repo)
    view = open_view(GitDir(str(repo / ".git"), str(repo / ".git"), str(repo)), root, None, light=True)
    assert view.spec_pathspecs() == ["sub/specs", "sub/more/specs"]
    history = walked_history(view, str(repo / ".git"))
    names = [f"{commit}:{path}" for commit in history.reachable for path in (*view.spec_pathspecs(), "sub")]
    assert _spec_trees(view, history, names) == {name: _object_ids(view, [name]).get(name) for name in names}


def test_an_early_walk_is_taken_only_for_its_root_and_ref(tmp_path: Path) -> None:
    """``engine.cli`` starts the walk before parsing; ``prestart`` takes it for the same root and ref, else stops it."""
    repo = tmp_path / "repo"
    _odd_history(repo)
    gitjobs.start_early(repo, None)
    [early] = gitjobs._EARLY.values()
    assert gitjobs.prestart(repo, None) is early and not gitjobs._EARLY
    early.jobs.close()
    gitjobs.start_early(repo, None)
    [other] = gitjobs._EARLY.values()
    taken = gitjobs.prestart(repo, "side")
    assert taken is not None and taken is not other and taken.resolved[0] == "side" and not gitjobs._EARLY
    assert other.jobs.procs == {}  # the walk nobody took was stopped
    taken.jobs.close()
