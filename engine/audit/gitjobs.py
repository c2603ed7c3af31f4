"""Git commands started now and collected later, and ``govops verify``'s history walk started first of all.

Audit stage (read side). ``verify``'s longest step is one ``git log`` over the whole
branch; everything else it does (parsing govops.yaml, reading and hashing the notes,
checking a signature) can run beside it on the second core. So the command starts the
walk (:func:`prestart`, from ``engine.cli`` before the command line is parsed:
:func:`start_early`) before it imports the verifier, the spec loader and the rest, and
the notes' read right after it: only the standard library and ``engine.change.plumbing``
are imported at the top here. Nothing here writes to the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.change.plumbing import GIT_PARSED_OUTPUT, git_env, out_lines, run_git

DEFAULT_SPEC_DIRS = ("specs",)
"""The spec directories walked before govops.yaml is read (``specPaths``' default); others start a new walk."""

SWITCH_INTERVAL = 0.0005
"""The GIL's switch interval while :class:`Jobs` run (Python's default: 5 ms).

The threads beside the walks (the notes' read, the signature and anchor checks) each go
back and forth between git and a few lines of Python; while the main thread parses, each
return to Python waited up to the default interval, so a check started on a thread reached
its git 10-25 ms late. A thread that does not ask for the GIL costs nothing at this setting.
"""


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


def _spool() -> int | None:
    """An unnamed, owner-only file in ``$TMPDIR`` or /tmp (``O_TMPFILE``), or ``None`` where there is none."""
    flag = getattr(os, "O_TMPFILE", 0)
    for base in (os.environ.get("TMPDIR"), "/tmp") if flag else ():
        if base and os.path.isdir(base):
            try:
                return os.open(base, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
            except OSError:
                continue
    return None


def _read_spool(fd: int) -> bytes:
    """Everything written to a spool file (which is closed)."""
    with open(fd, "rb", closefd=True) as fh:
        fh.seek(0)
        return fh.read()


class Jobs:
    """``git`` commands started at once and collected later: the history walks run side by side (two cores).

    Each command writes to an unnamed file (:func:`_spool`), read once when it has ended: a
    walk of 10,000 commits prints a megabyte, and a pipe holds 64 KiB, so git would otherwise
    wait, every 64 KiB, for a Python thread to drain the pipe; and a thread gets the GIL only
    every few milliseconds while the main thread parses (``sys.getswitchinterval``), so the walk
    would run at the reader's pace instead of beside it. Where there is no such file, the
    output is drained from a pipe by a thread as it comes.
    """

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.readers: dict[str, Later] = {}
        self.spools: dict[str, tuple[int, int]] = {}
        self.walked: tuple[str, ...] = ()
        """The spec pathspecs of the history walk started last (``start_walk``)."""
        self.switch: float | None = sys.getswitchinterval()
        """The switch interval :meth:`close` puts back (``SWITCH_INTERVAL`` holds until then)."""
        sys.setswitchinterval(min(self.switch, SWITCH_INTERVAL))

    def start(self, name: str, *args: str) -> None:
        """Start ``git --literal-pathspecs ARGS`` (govops-built arguments only)."""
        cmd = ["git", f"--git-dir={self.git_dir}", "--literal-pathspecs", *GIT_PARSED_OUTPUT, *args]
        out, err = _spool(), _spool()
        if out is not None and err is not None:
            try:
                self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                                    env=git_env())
            except BaseException:
                os.close(out)
                os.close(err)
                raise
            self.spools[name] = (out, err)
            return
        for fd in (out, err):
            if fd is not None:
                os.close(fd)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=git_env())
        self.procs[name] = proc
        self.readers[name] = Later(proc.communicate)

    def _collect(self, name: str) -> tuple[bytes, bytes]:
        """Standard output and error of ``name`` once it has ended (its spool files closed)."""
        if name in self.spools:
            out, err = self.spools.pop(name)
            try:
                self.procs[name].wait()
            finally:
                data, text = _read_spool(out), _read_spool(err)
            return data, text
        data, text = self.readers.pop(name).result()
        return data, text

    def out(self, name: str, *, check: bool = False) -> str:
        """The output of a started command ("" when it failed, e.g. no match; ``check``: its error, exit 2)."""
        data, err = self._collect(name)
        proc = self.procs.pop(name)
        if proc.returncode != 0 and check:
            from engine.change.gitread import GitReadError

            raise GitReadError(f"git {name} walk failed: {err.decode('utf-8', 'replace').strip()}")
        return data.decode("utf-8", "replace") if proc.returncode == 0 else ""

    def close(self) -> None:
        """Stop what was not collected."""
        for name, proc in self.procs.items():
            if proc.returncode is None:
                proc.kill()
            if name in self.spools:
                proc.wait()
                for fd in self.spools.pop(name):
                    os.close(fd)
            elif name in self.readers:
                self.readers.pop(name).join()  # the drain ends with the process
        self.procs.clear()
        if self.switch is not None:
            sys.setswitchinterval(self.switch)
            self.switch = None


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

    The changes are printed ``--raw`` with their trees (``-t``, full ids): each spec
    directory's new tree id where it changed, so the tree a rollout record names is found by
    following first parents back to the last change of that directory, with no lookup per
    record (``engine.audit.verify._spec_trees``). ``jobs.walked`` keeps the pathspecs walked.
    """
    pathspecs = [prefix + d for d in spec_dirs]
    jobs.start("history", "log", "--full-history", "--sparse", "--diff-merges=first-parent", "--root", "--no-renames",
               "-z", "--raw", "-t", "--no-abbrev", "--format=%x00%x1e%H %P", sha, "--", *pathspecs,
               prefix + "govops.yaml")
    jobs.walked = tuple(pathspecs)
    return pathspecs


def read_notes(repo: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """``refs`` (:func:`notes_refs`) and each notes ref's ``engine.audit.chain.RefState``, read on a thread.

    ``repo``: a GitPython ``Repo`` or ``engine.audit.trail.GitDir``, or ``(git dir, common dir,
    top level)`` for one (:func:`prestart`, before ``engine.audit.trail`` is imported: the thread
    imports the ledger reader while the main thread imports the verifier).
    """
    if isinstance(repo, tuple):
        from engine.audit.trail import GitDir

        repo = GitDir(*repo)
    from engine.audit.chain import read_ref
    from engine.audit.ledger import EVIDENCE_REF, NOTES_REF

    refs = notes_refs(repo)
    return refs, {name: read_ref(repo, name, tips=refs) for name in (NOTES_REF, EVIDENCE_REF)}


def notes_refs(repo: Any) -> dict[str, str]:
    """``refname -> object`` of the notes refs, their anchor tags and ``refs/replace/*`` (one ``for-each-ref``)."""
    from engine.audit.chain import ANCHOR_PREFIX
    from engine.audit.ledger import FULL_EVIDENCE_REF, FULL_NOTES_REF

    status, out, _ = run_git(repo, "for-each-ref", "--format=%(refname)%00%(objectname)", FULL_NOTES_REF,
                             FULL_EVIDENCE_REF, ANCHOR_PREFIX, "refs/replace/", check=False)
    rows = (row.partition("\0") for row in out_lines(out)) if status == 0 else iter(())
    return {name: sha for name, _, sha in rows if name}


class Started:
    """What :func:`prestart` found (the repository, the branch's commit), the walk and the notes' read it started."""

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
        self.notes = Later(read_notes, dirs)
        """:func:`read_notes`, under way (``engine.audit.verify`` collects it)."""


_EARLY: dict[tuple[Path, str | None], Started] = {}
"""What :func:`start_early` started, by ``(root, ref)``, until :func:`prestart` takes it."""


def start_early(root: Path, ref: str | None) -> None:
    """:func:`prestart` now, before the command line is parsed (``engine.cli``); the next ``prestart`` takes it.

    Building the parser and importing the command cost as much as a tenth of the walk.
    A ``prestart`` of another root or ref stops this walk and starts its own.
    """
    started = prestart(root, ref)
    if started is not None:
        _EARLY[(started.root, ref)] = started


def prestart(root: Path, ref: str | None) -> Started | None:
    """Find the repository and the commit of ``ref`` (default ``main``) in one ``rev-parse``; start the walk.

    The notes are read from then on, on a thread (:func:`read_notes`), while the verifier is imported.

    ``None`` for anything unusual (no ``main``, so ``HEAD`` is meant; a bare repository; a
    ref that does not resolve; no repository): ``verify`` then finds and words it itself.
    """
    root = Path(root).resolve()
    early = _EARLY.pop((root, ref), None)
    for other in _EARLY.values():  # started for another root or ref: not this run's
        other.jobs.close()
    _EARLY.clear()
    if early is not None:
        return early
    name = ref or "main"
    if not root.is_dir() or "\n" in name or "\0" in name:
        return None
    rev = f"{ref}^{{commit}}" if ref else "refs/heads/main^{commit}"
    res = subprocess.run(["git", *GIT_PARSED_OUTPUT, "rev-parse", "--path-format=absolute", "--absolute-git-dir",
                          "--git-common-dir", "--show-toplevel", "--verify", "--end-of-options", rev],
                         cwd=root, capture_output=True, env=git_env(), stdin=subprocess.DEVNULL)
    lines = out_lines(res.stdout)
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
    # the notes' reader is imported here, while git walks: its thread then starts git at once instead of
    # importing it in turn with the verifier (two threads importing share one core: the GIL)
    import engine.audit.chain  # noqa: F401

    return Started(root, (git_dir, str((root / common).resolve()), top), (name, sha), prefix, jobs, pathspecs)
