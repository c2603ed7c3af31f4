"""Files only the user running govops may read: state that can hold tokens, keys or delivery records.

Shared by every stage that writes state under ``.govops/`` (monitoring state, the alert
outbox and delivery log, the gateway's state and overrides). Files are created 0600
through ``os.open`` (never created with the umask's mode and chmod-ed afterwards, which
leaves a window), and a file or folder an older version created with a wider mode is
narrowed when govops next writes it. This module never reads a file's content and never
follows a path given by a spec.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make ``path`` itself 0700; parents keep their mode."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _narrow(path, DIR_MODE)
    return path


def _narrow(path: Path | int, mode: int) -> None:
    """Set ``mode`` when the current one differs (an fd or a path); a file owned by someone else is left alone."""
    with contextlib.suppress(PermissionError):
        st = os.fstat(path) if isinstance(path, int) else os.stat(path)
        if st.st_mode & 0o777 != mode:
            if isinstance(path, int):
                os.fchmod(path, mode)
            else:
                os.chmod(path, mode)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically (a 0600 temp file, then rename) over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        _narrow(fd, FILE_MODE)  # a stale temp file from a crash may exist with another mode
        with os.fdopen(fd, "w") as fh:
            fd = -1
            fh.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)


def append_private(path: Path, text: str) -> None:
    """Append ``text`` to ``path``, creating it 0600 (and narrowing an existing file's mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        _narrow(fd, FILE_MODE)
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def open_private(path: Path) -> int:
    """An fd open for writing on ``path`` (created 0600, an existing file narrowed, never truncated)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    _narrow(fd, FILE_MODE)
    return fd


def shared_mode(path: Path) -> str | None:
    """A warning when ``path`` (a secrets file the user wrote) is readable or writable by others, else ``None``."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if mode & 0o077 == 0:
        return None
    return (f"warning: {path} holds secrets but other users may read it (mode {mode:04o}); "
            f"run: chmod 600 {path}")
