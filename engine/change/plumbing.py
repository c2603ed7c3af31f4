"""Git plumbing without GitPython: the safe environment, one ``git`` call, one ``cat-file --batch`` read.

Change stage, and the one place these live: ``engine.change.gitread`` (the plan, which
also uses GitPython) and the audit stage's light readers (``engine.audit.trail``, which
``verify`` runs on a path that must start fast) both call them. Only the standard library
is imported here, so importing this module costs nothing.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from engine.spec.errors import InputError

GIT_SAFE_ENV = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": os.devnull}
"""Git objects as stored, for every git govops runs: no ``refs/replace/*`` substitution (a pushed replace ref
would rewrite a rolled-out spec under its unchanged id) and no ``info/grafts`` (which rewrites parents)."""

GIT_ENV = {**GIT_SAFE_ENV, "LC_ALL": "C", "LANGUAGE": "C"}
"""What git runs with here: the safe environment, and messages in one language (they are parsed)."""

GIT_PARSED_OUTPUT = ("-c", "core.quotepath=off", "-c", "log.showSignature=false", "-c", "i18n.logOutputEncoding=UTF-8",
                     "-c", "core.warnAmbiguousRefs=true")
"""Settings for every git whose output govops parses, whatever the caller's git config says:
paths printed as they are, no signature report in front of a commit (``log.showSignature``
would put "Good signature ..." lines where a ``--format`` line is expected), messages in UTF-8
(not ``i18n.logOutputEncoding=UTF-16``), and a warning for a name that is both a tag and a
branch (``resolve`` refuses it; ``core.warnAmbiguousRefs=false`` would silence it)."""

REPOSITORY_LOCATORS = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_NAMESPACE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_PREFIX",
})
"""Variables that point git at another repository, object store or namespace (a hook sets
``GIT_DIR``), or inject config: dropped, so ``-C DIR`` always means that repository."""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without ``REPOSITORY_LOCATORS``, plus ``GIT_ENV`` (and ``extra``)."""
    env = {k: v for k, v in os.environ.items() if k not in REPOSITORY_LOCATORS and not k.startswith("GIT_CONFIG_KEY_")
           and not k.startswith("GIT_CONFIG_VALUE_")}
    return {**env, **GIT_ENV, **(extra or {})}


class GitReadError(InputError):
    """A ref, a history or a repository that cannot give a plan (exit 2)."""


def run_git(repo: Any, *args: str, stdin: bytes | None = None, check: bool = True) -> tuple[int, bytes, str]:
    """Run ``git --literal-pathspecs ARGS`` in ``repo`` (a GitPython ``Repo`` or anything with its two dirs).

    Bytes out (``-z`` output is not text); a failure is a ``GitReadError`` naming the
    sub-command unless ``check`` is false.
    """
    cwd = repo.working_tree_dir or repo.git_dir
    res = subprocess.run(["git", "--literal-pathspecs", *GIT_PARSED_OUTPUT, *args], cwd=cwd, input=stdin,
                         capture_output=True, env=git_env(),
                         stdin=None if stdin is not None else subprocess.DEVNULL)
    err = res.stderr.decode("utf-8", "replace")
    if check and res.returncode != 0:
        raise GitReadError(f"git {args[0]} failed: {err.strip() or f'exit {res.returncode}'}")
    return res.returncode, res.stdout, err


def commit_of(repo: Any, ref: str, role: str = "ref") -> str | None:
    """The full SHA of ``ref`` as a commit, None when it does not resolve; ``ref`` is never read as an option.

    A name that is both a tag and a branch (a pushed tag ``main``) is refused (``GitReadError``):
    git would take the tag, so a base branch, a rollout ref or ``verify --ref main`` would be
    whatever commit the tag's author chose (``core.warnAmbiguousRefs`` is forced on, see
    ``GIT_PARSED_OUTPUT``).
    """
    status, out, err = run_git(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if status != 0:
        return None
    if "is ambiguous" in err:
        what = "ref" if role == "ref" else f"{role} ref"
        raise GitReadError(f"{what} '{ref}' is ambiguous: it names a tag and a branch; "
                           f"write refs/heads/{ref} or refs/tags/{ref}")
    return out.decode().strip()


def out_lines(out: bytes) -> list[str]:
    """Git's output split on newlines only, bytes that are not UTF-8 kept (``surrogateescape``).

    ``str.splitlines`` also breaks at U+2028, U+2029, U+0085 and more, which a ref or a path
    may hold: a tag named ``x\u2028refs/notes/govops`` would add a row of its own choosing.
    """
    text = out.decode("utf-8", "surrogateescape")
    if not text:
        return []
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def cat_blobs(repo: Any, names: list[str]) -> dict[str, bytes | None]:
    """Read many objects with one ``git cat-file --batch`` process (``None`` when missing or ambiguous)."""
    unique = list(dict.fromkeys(n for n in names if n))
    if not unique:
        return {}
    for n in unique:
        if "\n" in n:
            raise GitReadError(f"cannot read {n!r}: a path with a newline")
    query = ("\n".join(unique) + "\n").encode("utf-8", "surrogateescape")  # (a name git gave as non-UTF-8 bytes)
    _, out, _ = run_git(repo, "cat-file", "--batch", stdin=query)
    result: dict[str, bytes | None] = {}
    pos = 0
    for name in unique:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode("utf-8", "replace")
        pos = nl + 1
        if header.endswith(" missing") or header.endswith(" ambiguous"):
            result[name] = None
            continue
        size = int(header.rsplit(" ", 1)[1])
        result[name] = out[pos : pos + size]
        pos += size + 1
    return result
