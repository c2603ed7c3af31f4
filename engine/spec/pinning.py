"""Re-pin the sha256 digests a spec declares, changing nothing else in the file.

Spec stage, used by ``govops pin`` (and the digests ``govops new`` writes). Every mapping
in a spec that has both ``uri`` and ``sha256`` (a version's artifact, its training data, the
validation data) is a pin: the file the URI names is hashed and, when the digest differs,
the new one replaces the old.

The file is read twice: first with the spec loader (size and depth caps, no aliases, no
tags: a spec is untrusted input), then with ruamel's round-trip loader, which knows where
each value starts. The edit is made in the text at that position and touches only the
digest's characters, so comments, key order, flow or block style, quoting and blank lines
all stay exactly as they were (a ruamel dump would re-indent and re-wrap).

A pin whose file is missing or unreadable is an ``InputError`` at the ``file:line:col`` of
its ``uri`` (exit 2) and nothing in that spec is written; object storage (``s3://``,
``gs://``) is not fetched and is reported as skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.spec.errors import InputError
from engine.spec.uris import local_path, uri_problem

_SCALAR = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*'|[^\s,}\]#]+")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks (artifacts can be large)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Site:
    """One pin in a spec: the URI (and where it is) and the digest's value position (0-based)."""

    uri: str
    uri_line: int
    uri_col: int
    sha_line: int
    sha_col: int
    digest: str


@dataclass(frozen=True)
class Repin:
    """A digest that changed: where (1-based, the digest's value), for which URI, old and new."""

    file: str
    line: int
    col: int
    uri: str
    old: str
    new: str

    def render(self) -> str:
        """The line ``govops pin`` prints for it."""
        return f"{self.file}:{self.line}:{self.col}: re-pinned {self.uri}: {self.old[:12] or '-'} -> {self.new[:12]}"


@dataclass
class PinOutcome:
    """What pinning one spec did."""

    file: str
    repinned: list[Repin] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    text: str = ""


def sites(text: str) -> list[Site]:
    """Every ``{uri, sha256}`` mapping in a spec's text, in document order (ruamel round-trip positions)."""
    from ruamel.yaml import YAML

    doc = YAML(typ="rt").load(text)
    return list(_walk(doc))


def _walk(node: Any) -> Iterator[Site]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        uri, digest = node.get("uri"), node.get("sha256")
        if isinstance(uri, str) and "sha256" in node and not isinstance(digest, CommentedMap | CommentedSeq):
            uri_line, uri_col = node.lc.key("uri")
            if digest is None:  # `sha256:` with no value: ruamel has no value position; the digest goes after the key
                key_line, key_col = node.lc.key("sha256")
                sha_line, sha_col = key_line, key_col + len("sha256:")
            else:
                sha_line, sha_col = node.lc.value("sha256")
            # an all-digit digest reads as a number: compared as text, so it is re-pinned as a string
            yield Site(uri, uri_line, uri_col, sha_line, sha_col, digest if isinstance(digest, str) else "")
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, CommentedSeq):
        for item in node:
            yield from _walk(item)


def pin_text(text: str, root: Path, shown: str) -> PinOutcome:
    """``text`` with every local pin set to its file's digest (nothing else changed), and what changed."""
    out = PinOutcome(shown)
    lines = text.splitlines(keepends=True)
    edits: list[tuple[Site, str]] = []
    for site in sites(text):
        problem = uri_problem(site.uri, root)
        if problem:
            raise _at_uri(site, shown, problem)
        path = local_path(site.uri, root)
        if path is None:
            out.skipped.append(site.uri)
            continue
        if not path.is_file():
            why = "is not a regular file" if path.exists() else "does not exist"
            raise _at_uri(site, shown, f"cannot pin {site.uri}: {path} {why}")
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise _at_uri(site, shown, f"cannot pin {site.uri}: {exc.strerror or exc}") from None
        if digest == site.digest:
            out.unchanged += 1
            continue
        edits.append((site, digest))
        out.repinned.append(Repin(shown, site.sha_line + 1, site.sha_col + 1, site.uri, site.digest, digest))
    for site, digest in sorted(edits, key=lambda e: (e[0].sha_line, e[0].sha_col), reverse=True):
        lines[site.sha_line] = _replace_scalar(lines[site.sha_line], site.sha_col, digest, shown, site.sha_line + 1)
    out.text = "".join(lines)
    return out


def _at_uri(site: Site, shown: str, message: str) -> InputError:
    """An input error at the ``uri`` of a pin (1-based ``file:line:col``)."""
    return InputError(message, file=shown, line=site.uri_line + 1, col=site.uri_col + 1)


def _replace_scalar(line: str, col: int, value: str, shown: str, line_no: int) -> str:
    """``line`` with the scalar starting at ``col`` replaced by ``value`` (a digest needs no quotes)."""
    if line[col - len("sha256:"):col] == "sha256:":  # no value yet: insert one
        return line[:col] + " " + value + line[col:]
    match = _SCALAR.match(line, col)
    if match is None:
        raise InputError("cannot find the digest's text to replace", file=shown, line=line_no, col=col + 1)
    return line[: match.start()] + value + line[match.end():]


def pin_file(path: Path, root: Path, shown: str, *, write: bool = True) -> PinOutcome:
    """Re-pin the spec at ``path`` (validated by the spec loader first); writes it only if a digest changed."""
    from engine.spec.loader import load_yaml_file

    if path.is_symlink():  # a committed symlink would make pin rewrite the file it points at, wherever it is
        raise InputError(f"{shown} is a symbolic link; pin edits only spec files inside the repository", file=shown)
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if not real.startswith(real_root + os.sep):  # a linked directory on the way out of the repository
        raise InputError(f"{shown} is outside the repository ({real}); pin edits only spec files inside it", file=shown)
    load_yaml_file(path, shown)  # caps, no aliases, no tags: refused here before ruamel's round-trip loader
    text = path.read_bytes().decode("utf-8")  # bytes, so CRLF line ends survive
    outcome = pin_text(text, root, shown)
    if write and outcome.repinned:
        path.write_bytes(outcome.text.encode("utf-8"))
    return outcome
