"""Where govops keeps state, and the rule that none of it comes from the tree under review.

A leaf every stage may use (it imports only settings and diagnostics). Caches (policy
decisions, compiled bundles, sorted drift columns, reference profiles) live under the
cache directory of ``engine.spec.settings.cache_root`` (``GOVOPS_CACHE_DIR``; by default
``$RUNNER_TEMP/govops-cache`` in GitHub Actions, else ``$XDG_CACHE_HOME/govops``), each
entry keyed by the digests of everything it depends on, so an entry from another
repository, branch or engine is never mistaken for a fresh one.

The repository's ``.govops/`` directory holds only a deployment host's runtime state
(serving directory, gateway.json, monitoring state, prediction logs); it is ignored by
Git, and a tracked or changed file under it is refused (``tracked_state`` for ``lint``,
``changed_state`` for a change check): whatever a pull request commits there would be
read as state by the next checkout. This module never writes anything but the cache
directory itself, and never passes a user-supplied string to git where it could be an option.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import ConfigError

if TYPE_CHECKING:
    from engine.spec.settings import Settings

STATE_DIR = ".govops"
RULE = "state/committed"
FIX = (
    "nothing under .govops/ is read from a repository (caches live in GOVOPS_CACHE_DIR, outside the checkout); "
    "remove it with `git rm -r --cached .govops` and add `.govops/` to .gitignore"
)
MAX_REPORTED = 20


def cache_dir(kind: str, settings: Settings | None = None, *, root: Path | None = None) -> Path:
    """``<cache root>/<kind>`` (created 0700), refusing a cache root inside the checkout ``root``.

    Raises ``ConfigError`` (exit 2) when ``GOVOPS_CACHE_DIR`` points into the repository, where a
    pull request could commit entries, or when the directory belongs to another user.
    """
    from engine.spec.settings import cache_root  # the settings class is heavy: only when asked for

    return cache_dir_at(cache_root(settings), kind, root=root)


def cache_dir_at(base: Path, kind: str, *, root: Path | None = None) -> Path:
    """``cache_dir`` for an already resolved cache root ``base`` (the warm paths resolve it without settings)."""
    if root is not None:
        inside = Path(root).resolve()
        if base.resolve() == inside or inside in base.resolve().parents:
            raise ConfigError(
                f"GOVOPS_CACHE_DIR={base} is inside the repository {inside}: a pull request could commit cache "
                "entries there; choose a directory outside the checkout (default: $XDG_CACHE_HOME/govops)"
            )
    path = base / kind
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = base.stat()
    except OSError:
        return path  # unwritable: every cache is best effort and simply misses
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ConfigError(f"cache directory {base} belongs to another user (uid {st.st_uid}); set GOVOPS_CACHE_DIR")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"cache directory {base} is writable by others; chmod 700 it or set GOVOPS_CACHE_DIR")
    return path


def tracked_state(root: Path) -> list[Diagnostic]:
    """One error per file under ``root/.govops`` that Git tracks (``git ls-files``); none outside Git."""
    out = _git(root, "ls-files", "-z", "--", STATE_DIR)
    return _report(out or [], "is committed to the repository")


def changed_state(root: Path, base: str, head: str | None) -> list[Diagnostic]:
    """One error per file under ``root/.govops`` that the change ``base..head`` adds or modifies.

    ``base`` and ``head`` are commit ids the caller resolved (``head`` None: the work tree and
    index). Deleting such a file is the fix, so deletions are not reported.
    """
    args = ["diff", "--name-only", "-z", "--no-renames", "--diff-filter=d", "--relative", "--no-ext-diff", base]
    if head is not None:
        args.append(head)
    out = _git(root, *args, "--", STATE_DIR)
    if out is None:  # the caller resolved both commits, so this is unexpected: fail closed
        return [Diagnostic(STATE_DIR, 1, 1, RULE, f"could not list the change's files under {STATE_DIR}/ (git failed)")]
    return _report(out, "is added or changed by this change")


def _git(root: Path, *args: str) -> list[str] | None:
    """Paths git prints for ``args`` (NUL-separated, relative to ``root``); None when git fails (not a repository)."""
    try:
        res = subprocess.run(
            ["git", "--literal-pathspecs", "-c", "core.quotepath=off", "-c", "core.useReplaceRefs=false", *args],
            cwd=root, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    return sorted(os.fsdecode(p) for p in res.stdout.split(b"\0") if p)


def _report(paths: list[str], what: str) -> list[Diagnostic]:
    diags = [Diagnostic(p, 1, 1, RULE, f"{p} {what}: {FIX}") for p in paths[:MAX_REPORTED]]
    if len(paths) > MAX_REPORTED:
        more = len(paths) - MAX_REPORTED
        diags.append(Diagnostic(STATE_DIR, 1, 1, RULE, f"and {more} more file(s) under {STATE_DIR}/: {FIX}"))
    return diags
