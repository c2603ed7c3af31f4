"""The fast paths of ``govops verify`` (issue #17's benchmark) check exactly what the plain path checks.

``govops verify`` starts its history walk before importing the verifier
(``engine.audit.gitjobs.prestart``), drains the walk's output on a thread, reads the notes
beside the parse of govops.yaml and looks up a commit's subject only when a problem names
it. Each test here holds one of those to the plain path's answer, on real Git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.audit.gitjobs import Jobs, prestart, start_walk
from engine.audit.trail import GitDir, open_view
from engine.audit.verify import _history, verify

_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=repo, env=_ENV, input=stdin, capture_output=True, check=True)
    return res.stdout.decode().strip()


def _imported(repo: Path, commits: int, names: dict[int, list[str]] | None = None, branch: str = "main") -> None:
    """``commits`` commits on ``branch`` (``git fast-import``); commit ``i`` adds the files ``names[i]`` when given."""
    stream = []
    for i in range(commits):
        paths = (names or {}).get(i, [f"specs/s{i % 3}.yaml"])
        body = f"n: {i}\n".encode()
        msg = f"change {i}".encode()
        stream.append(b"commit refs/heads/%s\nmark :%d\ncommitter t <t@example.com> %d +0000\ndata %d\n%s\n"
                      % (branch.encode(), i + 1, 1_700_000_000 + i, len(msg), msg))
        if i:
            stream.append(b"from :%d\n" % i)
        stream.extend(b"M 100644 inline " + path.encode() + b"\ndata %d\n" % len(body) + body for path in paths)
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", branch)
    _git(repo, "fast-import", "--quiet", stdin=b"".join(stream))


def test_a_walk_longer_than_a_pipe_runs_without_a_reader(tmp_path: Path) -> None:
    """The walk's output (here ~250 KiB, over a pipe's 64 KiB) is drained as it comes, so git finishes alone."""
    repo = tmp_path / "repo"
    _imported(repo, 3000)
    jobs = Jobs(str(repo / ".git"))
    try:
        start_walk(jobs, _git(repo, "rev-parse", "main"), "", ["specs"])
        assert jobs.procs["history"].wait(timeout=120) == 0  # an undrained pipe would block git here
        assert jobs.out("history").count("\x1e") == 3000
    finally:
        jobs.close()


def test_a_path_cannot_pose_as_a_commit(tmp_path: Path) -> None:
    """A spec file whose name holds the walk's record separator and a commit id adds no commit to the history."""
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    _imported(outside, 1, names={0: ["specs/elsewhere.yaml"]})
    fake = _git(outside, "rev-parse", "main")
    _imported(repo, 4, names={2: [f"specs/x\x1e{fake}", "specs/y.yaml", "specs/z.yaml"]})
    repo_git = _git(repo, "rev-parse", "main")
    view = open_view(GitDir(str(repo / ".git"), str(repo / ".git"), str(repo)), repo, None, light=True)
    jobs = Jobs(str(repo / ".git"))
    try:
        start_walk(jobs, repo_git, "", ["specs"])
        history = _history(view, jobs)
    finally:
        jobs.close()
    assert fake not in history.reachable and len(history.reachable) == 4
    assert len(history.spec_commits) == 4 and history.first_parent[0] == repo_git


def test_prestart_declines_what_verify_words_itself(tmp_path: Path) -> None:
    """No repository, no ``main`` (``HEAD`` is meant), an unknown ref: verify finds and words these on its own."""
    assert prestart(tmp_path, None) is None
    repo = tmp_path / "repo"
    _imported(repo, 2, branch="trunk")
    assert prestart(repo, None) is None
    assert prestart(repo, "no-such-ref") is None
    started = prestart(repo, "trunk")
    assert started is not None and started.resolved[0] == "trunk"
    started.jobs.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes")
def test_the_prestarted_walk_gives_the_plain_report(tmp_path: Path) -> None:
    """Intact and tampered (a removed note), with and without the early walk: the same report, word for word."""
    from tests.audit.test_trail_tamper import build_trail

    trail = build_trail(tmp_path)
    for ref in (None, "HEAD"):
        assert verify(trail.path, ref=ref).to_data() == verify(trail.path, ref=ref,
                                                               started=prestart(trail.path, ref)).to_data()
    merge = trail.shas["merge"]
    trail.git("notes", "--ref", "govops", "remove", merge)
    plain = verify(trail.path).to_data()
    assert plain == verify(trail.path, started=prestart(trail.path, None)).to_data()
    [missing] = [p for p in plain["problems"] if p["check"] == "missing-record"]
    subject = trail.git("log", "-1", "--format=%s", merge)
    assert missing["commit"] == merge and f"({subject}) changed specs" in missing["message"]
