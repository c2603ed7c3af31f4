"""YAML loading that keeps positions: the first stage of the flow.

Every value read from a spec remembers the ``line:col`` it came from, so schema errors
and, later, policy violations are reported at ``file:line:col``. This module never
executes tags: it composes the node graph with ruamel.yaml's YAML 1.2 resolver (the
C parser from ruamel.yaml.clib when present, the pure-Python round-trip parser as the
fallback) and builds plain JSON-like values itself. Aliases and anchors are refused
(an alias bomb never expands), and size and nesting are bounded *before* parsing,
since ruamel's parser slows down quadratically with nesting depth.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import InputError

JsonPath = tuple[str | int, ...]

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"


class YamlError(InputError):
    """A YAML file that cannot become a spec: syntax, encoding, size, aliases, tags."""


@dataclass
class YamlDocument:
    """A parsed YAML file: plain data plus the position of every key and list item."""

    file: str
    data: Any
    positions: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """``(line, col)`` of ``path``, or of its nearest ancestor that has one (1-based)."""
        p = tuple(path)
        while p:
            pos = self.positions.get(p)
            if pos is not None:
                return pos
            p = p[:-1]
        return self.positions.get((), (1, 1))


def format_path(path: Sequence[str | int]) -> str:
    """``spec.versions[0].artifact`` form of a path, as messages and policies show it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def limits_from_env() -> tuple[int, int]:
    """The size and depth bounds, overridable by ``GOVOPS_MAX_SPEC_BYTES``/``GOVOPS_MAX_SPEC_DEPTH``."""
    try:
        max_bytes = int(os.environ.get("GOVOPS_MAX_SPEC_BYTES", DEFAULT_MAX_BYTES))
        max_depth = int(os.environ.get("GOVOPS_MAX_SPEC_DEPTH", DEFAULT_MAX_DEPTH))
    except ValueError as exc:
        raise InputError(f"GOVOPS_MAX_SPEC_BYTES/GOVOPS_MAX_SPEC_DEPTH must be integers ({exc})") from None
    return max_bytes, max_depth


def load_yaml_file(path: Path, display: str | None = None) -> YamlDocument:
    """Read and parse one YAML file, refusing directories, huge files and bad encodings."""
    shown = display or str(path)
    if path.is_dir():
        raise YamlError(f"{shown} is a directory; expected a YAML file", file=shown)
    max_bytes, max_depth = limits_from_env()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise YamlError(
                f"file is {_human(size)}; a spec may be at most {_human(max_bytes)} "
                "(split it, or raise GOVOPS_MAX_SPEC_BYTES)",
                file=shown,
                line=1,
                col=1,
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise YamlError(f"{shown}: no such file", file=shown) from None
    except PermissionError:
        raise YamlError(f"{shown}: permission denied", file=shown) from None
    except IsADirectoryError:
        raise YamlError(f"{shown} is a directory; expected a YAML file", file=shown) from None
    return parse_yaml(raw, shown, max_bytes=max_bytes, max_depth=max_depth)


def parse_yaml(
    raw: bytes | str,
    file: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> YamlDocument:
    """Parse YAML text into a ``YamlDocument`` (one document per file)."""
    if isinstance(raw, bytes):
        if len(raw) > max_bytes:
            raise YamlError(
                f"file is {_human(len(raw))}; a spec may be at most {_human(max_bytes)}",
                file=file,
                line=1,
                col=1,
            )
        text = _decode(raw, file)
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    _check_flow_depth(text, file, max_depth)
    node = _compose(text, file)
    if node is None:
        raise YamlError(
            "file is empty: a spec needs at least apiVersion, kind, metadata and spec",
            file=file,
            line=1,
            col=1,
        )
    builder = _Builder(file, max_depth)
    data = builder.build(node, ())
    return YamlDocument(file=file, data=data, positions=builder.positions)


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} bytes"


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlError(
            f"file is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            file=file,
            line=line,
            col=col,
        ) from None


def _check_flow_depth(text: str, file: str, max_depth: int) -> None:
    """Refuse deeply nested flow collections before the parser sees them (it is quadratic)."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    line, col = 1, 0
    quote: str | None = None
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            quote = None if quote == "'" or quote == '"' else quote
            continue
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise YamlError(
                    f"nesting deeper than {max_depth} levels; specs are shallow documents",
                    file=file,
                    line=line,
                    col=col,
                )
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "#" and depth == 0:
            quote = "\n"  # rest of the line is a comment


_SAFE = YAML(typ="safe")
_RT = YAML(typ="rt")


def _compose(text: str, file: str) -> Node | None:
    try:
        return _SAFE.compose(text)  # type: ignore[no-any-return]
    except YAMLError:
        pass  # libyaml rejects some valid YAML 1.2: the pure-Python parser decides.
    try:
        return _RT.compose(text)  # type: ignore[no-any-return]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "expected a single document" in str(exc):
            problem = "more than one YAML document in the file; put one spec per file"
        raise YamlError(
            f"YAML syntax: {problem}",
            file=file,
            line=(mark.line + 1) if mark else 1,
            col=(mark.column + 1) if mark else 1,
        ) from None
    except YAMLError as exc:
        raise YamlError(f"YAML syntax: {exc}", file=file, line=1, col=1) from None
    except RecursionError:
        raise YamlError("nesting too deep", file=file, line=1, col=1) from None


class _Builder:
    """Turns composed nodes into plain values, recording positions and refusing aliases."""

    def __init__(self, file: str, max_depth: int) -> None:
        self.file = file
        self.max_depth = max_depth
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.seen: set[int] = set()

    def error(self, node: Node, message: str) -> YamlError:
        return YamlError(message, file=self.file, line=node.start_mark.line + 1, col=node.start_mark.column + 1)

    def build(self, node: Node, path: JsonPath) -> Any:
        if len(path) > self.max_depth:
            raise self.error(node, f"nesting deeper than {self.max_depth} levels")
        if id(node) in self.seen:
            raise self.error(
                node,
                "YAML aliases (*name) are not allowed in specs: write the value out "
                "(aliases can expand without bound)",
            )
        self.seen.add(id(node))
        if not path:
            self.positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            if node.tag not in (_TAG + "seq", "!"):
                raise self.error(node, f"tag {node.tag} is not allowed in specs")
            out: list[Any] = []
            for i, item in enumerate(node.value):
                self.positions[path + (i,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out.append(self.build(item, path + (i,)))
            return out
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        raise self.error(node, "unsupported YAML node")

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        if node.tag not in (_TAG + "map", "!"):
            raise self.error(node, f"tag {node.tag} is not allowed in specs")
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, "mapping keys must be plain strings")
            if key_node.tag == _TAG + "merge":
                raise self.error(key_node, "merge keys (<<) are not allowed in specs: write the values out")
            key = str(key_node.value)
            if key in out:
                raise self.error(
                    key_node,
                    f"duplicate key '{key}' (first defined on line {first[key]}); remove one of them",
                )
            first[key] = key_node.start_mark.line + 1
            self.positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        return out

    def _scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag in ("!", None) or tag == _TAG + "str":
            return value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return value.lower() in ("true", "yes", "on")
        if tag == _TAG + "int":
            return _to_int(value)
        if tag == _TAG + "float":
            return _to_float(value)
        if tag == _TAG + "timestamp":
            return value
        raise self.error(node, f"tag {tag} is not allowed in specs (govops never executes YAML tags)")


def _to_int(text: str) -> int:
    t = text.replace("_", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if t.lower().startswith(prefix):
            return sign * int(t[2:], base)
    return sign * int(t)


def _to_float(text: str) -> float:
    t = text.replace("_", "").lower()
    if t in (".inf", "+.inf"):
        return math.inf
    if t == "-.inf":
        return -math.inf
    if t == ".nan":
        return math.nan
    return float(t)
