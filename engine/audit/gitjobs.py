"""Git commands started now and collected later, and ``govops verify``'s history walk started first of all.

Audit stage (read side). ``verify``'s longest step is one ``git log`` over the whole
branch; everything else it does (parsing govops.yaml, reading and hashing the notes,
checking a signature) can run beside it on the second core. So the command starts the
walk (:func:`prestart`) before it imports the verifier, the spec loader and the rest:
only the standard library and ``engine.change.plumbing`` are imported here. Nothing
here writes to the repository.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.change.plumbing import GIT_PARSED_OUTPUT, git_env

DEFAULT_SPEC_DIRS = ("specs",)
"""The spec directories walked before govops.yaml is read (``specPaths``' default); others start a new walk."""


class Later:
    """A call started on a thread now and collected later: its git processes run beside the walks.

    Waiting for a child process releases the GIL, so the signature check, the anchors' walk
    and the tree lookups cost wall time only where they are longer than the history walks.
    An exception is raised where the result is collected, as if the call had been made there.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def target() -> None:
            try:
                self._value = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller of result()
                self._error = exc

        self._thread = threading.Thread(target=target, daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the call to end (its outcome stays for ``result``)."""
        self._thread.join()

    def result(self) -> Any:
        """The call's return value (or its exception, raised here)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class Jobs:
    """``git`` commands started at once and collected later: the history walks run side by side (two cores).

    Each command's output is drained by a thread as it comes: a pipe holds 64 KiB, and a
    walk of 10,000 commits prints a megabyte, so an undrained walk would stop after its first
    few hundred commits and wait for the reader instead of running beside the notes' reads.
    """

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.readers: dict[str, Later] = {}

    def start(self, name: str, *args: str) -> None:
        """Start ``git --literal-pathspecs ARGS`` (govops-built arguments only)."""
        cmd = ["git", f"--git-dir={self.git_dir}", "--literal-pathspecs", *GIT_PARSED_OUTPUT, *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=git_env())
        self.procs[name] = proc
        self.readers[name] = Later(proc.communicate)

    def out(self, name: str, *, check: bool = False) -> str:
        """The output of a started command ("" when it failed, e.g. no match; ``check``: its error, exit 2)."""
        proc = self.procs.pop(name)
        data, err = self.readers.pop(name).result()
        if proc.returncode != 0 and check:
            from engine.change.gitread import GitReadError

            raise GitReadError(f"git {name} walk failed: {err.decode('utf-8', 'replace').strip()}")
        return data.decode("utf-8", "replace") if proc.returncode == 0 else ""

    def close(self) -> None:
        """Stop what was not collected."""
        for name, proc in self.procs.items():
            if proc.returncode is None:
                proc.kill()
            self.readers.pop(name).join()  # the drain ends with the process
        self.procs.clear()


def start_walk(jobs: Jobs, sha: str, prefix: str, spec_dirs: list[str] | tuple[str, ...]) -> list[str]:
    """Start the one walk of the branch's history; the notes are read beside it (two cores).

    Started before govops.yaml is parsed, with the default spec directory, and started again
    when govops.yaml names others (the parse costs as much as a quarter of the walk).
    Returns the spec pathspecs walked.

    Every reachable commit with its parents (``--full-history --sparse``: none left out),
    and for each the spec and govops.yaml paths it changed against its first parent
    (``--diff-merges=first-parent``, ``--root``; ``--no-renames``: a spec moved out of the spec
    directories still counts as a spec change). Following first parents from the tip gives
    the first-parent line and, on it, what ``git log --first-parent -- <spec dirs>`` and
    ``-- govops.yaml`` would list: one walk instead of four. No commit message is printed,
    so no text in one can pose as a commit of the walk.
    """
    pathspecs = [prefix + d for d in spec_dirs]
    jobs.start("history", "log", "--full-history", "--sparse", "--diff-merges=first-parent", "--root", "--no-renames",
               "-z", "--name-only", "--format=%x00%x1e%H %P", sha, "--", *pathspecs, prefix + "govops.yaml")
    return pathspecs


class Started:
    """What :func:`prestart` found (the repository, the branch's commit) and the walk it started."""

    def __init__(self, root: Path, dirs: tuple[str, str, str], resolved: tuple[str, str], prefix: str,
                 jobs: Jobs, pathspecs: list[str]) -> None:
        self.root = root
        self.dirs = dirs
        """``(git dir, common dir, top level)``, as ``engine.audit.trail.open_git`` reads them."""
        self.resolved = resolved
        """``engine.audit.trail.main_ref``'s answer: ``(name, sha)``."""
        self.prefix = prefix
        self.jobs = jobs
        self.pathspecs = pathspecs


def prestart(root: Path, ref: str | None) -> Started | None:
    """Find the repository and the commit of ``ref`` (default ``main``) in one ``rev-parse``; start the walk.

    ``None`` for anything unusual (no ``main``, so ``HEAD`` is meant; a bare repository; a
    ref that does not resolve; no repository): ``verify`` then finds and words it itself.
    """
    root = Path(root).resolve()
    name = ref or "main"
    if not root.is_dir() or "\n" in name or "\0" in name:
        return None
    rev = f"{ref}^{{commit}}" if ref else "refs/heads/main^{commit}"
    res = subprocess.run(["git", *GIT_PARSED_OUTPUT, "rev-parse", "--path-format=absolute", "--absolute-git-dir",
                          "--git-common-dir", "--show-toplevel", "--verify", "--end-of-options", rev],
                         cwd=root, capture_output=True, env=git_env(), stdin=subprocess.DEVNULL)
    lines = res.stdout.decode("utf-8", "surrogateescape").splitlines()
    if res.returncode != 0 or len(lines) != 4 or b"is ambiguous" in res.stderr:
        return None  # the plain path words it (an ambiguous name is refused there)
    git_dir, common, top, sha = lines
    try:
        rel = root.relative_to(Path(top).resolve()).as_posix()
    except ValueError:
        return None
    prefix = "" if rel == "." else rel + "/"
    jobs = Jobs(git_dir)
    pathspecs = start_walk(jobs, sha, prefix, DEFAULT_SPEC_DIRS)
    return Started(root, (git_dir, str((root / common).resolve()), top), (name, sha), prefix, jobs, pathspecs)
