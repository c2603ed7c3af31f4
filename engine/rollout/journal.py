"""The rollout lock and write-ahead journal of the local target.

Merge stage. The lock (``fcntl.flock`` on ``rollout.lock``, holder pid written inside)
keeps two rollouts from running at once. The journal is written *before* any change
and says what the rollout staged and what it will retire, so a rollout killed half-way
is undone (before its commit point) or completed (after it) by the next run. Nothing
here talks to MLServer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.mlserver.local_serving import read_json, write_json
from engine.spec.errors import GovopsError

PHASE_STAGING = "staging"
PHASE_COMMITTED = "committed"


class RolloutBusy(GovopsError):
    """Another rollout holds the lock (exit 1: nothing was changed)."""

    exit_code = 1


@contextlib.contextmanager
def rollout_lock(path: Path) -> Iterator[None]:
    """Hold the rollout lock for the duration of the block; refuse at once if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise RolloutBusy(
                f"another rollout is running (holder pid {holder.split()[0]}); lock file {path}. "
                "Wait for it to finish; the lock is released when its process ends"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def write_journal(path: Path, journal: dict[str, Any]) -> None:
    """Write (or advance) the journal atomically."""
    write_json(path, journal)


def read_journal(path: Path) -> dict[str, Any] | None:
    """The journal of an unfinished rollout, if one is left."""
    data = read_json(path)
    return data if isinstance(data, dict) else None


def clear_journal(path: Path) -> None:
    """Remove the journal: the rollout (or its recovery) is finished."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
