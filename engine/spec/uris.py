"""Artifact and data URIs: which forms are allowed and where they point.

A spec may name a repository-relative path, ``file://`` (absolute), ``s3://`` or
``gs://`` (read through fsspec when installed). A relative path that escapes the
repository (any ``..`` segment, or a symlink out of it) is refused, so a spec can
never make the engine read files outside the GitOps repository.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from urllib.parse import urlparse

REMOTE_SCHEMES = ("s3", "gs")
SUPPORTED = "a repository-relative path, file:///absolute/path, s3://bucket/key or gs://bucket/key"


def uri_problem(uri: str, root: Path) -> str | None:
    """Why ``uri`` is not acceptable, or ``None`` if it is."""
    if "\x00" in uri or "\n" in uri:
        return "URI contains control characters"
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1 and uri[1:3] in (":\\", ":/"):
        return f"'{uri}' is a Windows path; use {SUPPORTED}"
    if scheme in REMOTE_SCHEMES:
        if not parsed.netloc or not parsed.path.strip("/"):
            return f"'{uri}' needs a bucket and a key"
        return None
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return f"'{uri}': file:// URIs take no host; write file:///absolute/path"
        if not parsed.path.startswith("/"):
            return f"'{uri}': file:// URIs must be absolute"
        return None
    if scheme:
        return f"unsupported URI scheme '{scheme}://' in '{uri}'; use {SUPPORTED}"
    if uri.startswith("/"):
        return f"'{uri}' is an absolute path; write file://{uri} to read outside the repository"
    if ".." in uri.replace("\\", "/").split("/"):
        # refused outright: the OS resolves `..` after following a symlink before it
        # (artifacts/lnk/../passwd), which no textual check of the path can foresee
        return f"'{uri}' has a '..' segment; name the file by its path inside the repository"
    if not _inside(uri, str(root)):
        return f"'{uri}' points outside the repository; artifacts and data must live in it or in object storage"
    return None


@functools.lru_cache(maxsize=8192)
def _realpath(path: str) -> str:
    return os.path.realpath(path)


def _inside(uri: str, root: str) -> bool:
    """True if ``root/uri`` stays inside ``root`` after ``..`` and symlinks are resolved.

    Directories are resolved once and cached, so checking thousands of specs that share
    artifact folders costs a few system calls, not a full ``realpath`` each.
    """
    real_root = _realpath(root)
    joined = os.path.normpath(os.path.join(real_root, uri))
    if not (joined == real_root or joined.startswith(real_root + os.sep)):
        return False
    real = os.path.join(_realpath(os.path.dirname(joined)), os.path.basename(joined))
    if os.path.islink(real):
        real = os.path.realpath(real)
    return real == real_root or real.startswith(real_root + os.sep)


def local_path(uri: str, root: Path) -> Path | None:
    """The local file a URI names, or ``None`` for object storage."""
    parsed = urlparse(uri)
    if parsed.scheme.lower() in REMOTE_SCHEMES:
        return None
    if parsed.scheme.lower() == "file":
        return Path(parsed.path)
    return root / uri


def local_file_problem(uri: str, root: Path, max_bytes: int, *, check_size: bool = True) -> str | None:
    """Why the local file ``uri`` names may not be read (a device, FIFO, socket; over the cap), or ``None``.

    For ``lint``: a file that is not there is left to the check that reads it (it may be
    produced later), object storage is not looked at, and nothing is opened.
    """
    from engine.spec.limits import file_problem

    path = local_path(uri, root)
    if path is None:
        return None
    problem = file_problem(path, max_bytes if check_size else 2**63)
    return f"'{uri}' cannot be read: {problem}" if problem else None


def locate_uri(spec_file: Path, root: Path, uri: str) -> str | None:
    """``file:line:col`` of the first ``uri: <uri>`` in a spec file, for messages (``None`` if not found)."""
    from engine.spec.loader import YamlError, load_yaml_file

    try:
        shown = spec_file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(spec_file)
    try:
        doc = load_yaml_file(spec_file, shown)
    except YamlError:
        return None
    stack: list[tuple[tuple[str | int, ...], object]] = [((), doc.data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            if value.get("uri") == uri:
                line, col = doc.position(path + ("uri",))
                return f"{shown}:{line}:{col}"
            stack.extend((path + (k,), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in reversed(list(enumerate(value))))
    return None
