"""YAML loading that keeps positions: the first stage of the flow.

Every value read from a spec remembers the ``line:col`` it came from, so schema errors
and, later, policy violations are reported at ``file:line:col``. This module never
executes tags: it composes the node graph with libyaml's C parser (through PyYAML,
with every implicit resolver switched off) and resolves plain scalars itself by the
YAML 1.2 core schema (``yes`` stays a string, ``010`` is 10). Where libyaml rejects
valid YAML 1.2 (a plain URL in a flow mapping), ruamel.yaml's round-trip parser
decides, and its error is the one reported. Aliases and anchors are refused
(an alias bomb never expands), and size and nesting are bounded *before* parsing,
since YAML parsers slow down quadratically with nesting depth.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

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
    source: bytes | None = None

    def compact(self, source: bytes) -> YamlDocument:
        """A light copy to send between processes: the source bytes instead of data and positions.

        Positions are rebuilt from the source the first time one is asked for, which for a
        valid spec is usually never; this is most of the cost of loading thousands of specs
        in worker processes.
        """
        return YamlDocument(self.file, None, {}, source)

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """``(line, col)`` of ``path``, or of its nearest ancestor that has one (1-based)."""
        if not self.positions and self.source is not None:
            self.positions = parse_yaml(self.source, self.file).positions
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
    node, resolve = _compose(text, file)
    if node is None:
        raise YamlError(
            "file is empty: a spec needs at least apiVersion, kind, metadata and spec",
            file=file,
            line=1,
            col=1,
        )
    builder = _Builder(file, max_depth, resolve)
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
            f"file is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8",
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


class _PlainLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's C parser with *no* implicit resolvers: govops resolves plain scalars itself (YAML 1.2)."""

    yaml_implicit_resolvers: dict[str, Any] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """Every untagged node gets its kind's default tag (no resolver table to walk)."""
        return _DEFAULT_TAGS[kind]

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers: nothing to track (called for every node)."""

    def ascend_resolver(self) -> None:
        """No path resolvers: nothing to track (called for every node)."""


_DEFAULT_TAGS = {
    yaml.ScalarNode: _TAG + "str",
    yaml.SequenceNode: _TAG + "seq",
    yaml.MappingNode: _TAG + "map",
}


_RT = YAML(typ="rt")

# YAML 1.2 core schema, for plain (unquoted) scalars
_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_MAYBE_TYPED = frozenset("0123456789-+.~nNtTfF")


def resolve_plain(value: str) -> Any:
    """The YAML 1.2 core-schema value of a plain scalar (``yes`` stays a string, ``010`` is 10)."""
    if not value:
        return None
    if value[0] not in _MAYBE_TYPED:
        return value
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.fullmatch(value):
        return _to_int(value)
    if _FLOAT.fullmatch(value):
        return _to_float(value)
    return value


def _compose(text: str, file: str) -> tuple[Any, bool]:
    """The node graph, and whether plain scalars still need resolving (libyaml path)."""
    try:
        return yaml.compose(text, Loader=_PlainLoader), True
    except yaml.YAMLError:
        pass  # libyaml rejects some valid YAML 1.2: the pure-Python parser decides.
    except RecursionError:
        raise YamlError("nesting too deep", file=file, line=1, col=1) from None
    try:
        return _RT.compose(text), False
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
    """Turns composed nodes (libyaml's or ruamel's) into plain values, recording positions.

    Aliases are refused (a node met twice is an alias), tags other than the core ones
    are refused, duplicate keys are refused.
    """

    def __init__(self, file: str, max_depth: int, resolve: bool) -> None:
        self.file = file
        self.max_depth = max_depth
        self.resolve = resolve
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.seen: set[int] = set()

    def error(self, node: Any, message: str) -> YamlError:
        return YamlError(message, file=self.file, line=node.start_mark.line + 1, col=node.start_mark.column + 1)

    def build(self, node: Any, path: JsonPath) -> Any:
        if len(path) > self.max_depth:
            raise self.error(node, f"nesting deeper than {self.max_depth} levels")
        if id(node) in self.seen:
            # the node's own mark is the anchor's; the alias sits under the key that holds it
            holder = path[:-1] if path and isinstance(path[-1], int) else path
            line, col = self.positions.get(holder, (node.start_mark.line + 1, node.start_mark.column + 1))
            raise YamlError(
                "YAML aliases (*name) are not allowed in specs: write the value out (aliases can expand without bound)",
                file=self.file,
                line=line,
                col=col,
            )
        self.seen.add(id(node))
        if not path:
            self.positions[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        kind = node.id
        if kind == "mapping":
            return self._mapping(node, path)
        if kind == "sequence":
            if str(node.tag) not in (_TAG + "seq", "!"):
                raise self.error(node, f"tag {node.tag} is not allowed in specs")
            out: list[Any] = []
            for i, item in enumerate(node.value):
                self.positions[path + (i,)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out.append(self.build(item, path + (i,)))
            return out
        if kind == "scalar":
            return self._scalar(node)
        raise self.error(node, "unsupported YAML node")

    def _mapping(self, node: Any, path: JsonPath) -> dict[str, Any]:
        if str(node.tag) not in (_TAG + "map", "!"):
            raise self.error(node, f"tag {node.tag} is not allowed in specs")
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                raise self.error(key_node, "mapping keys must be plain strings")
            if str(key_node.tag) == _TAG + "merge" or (key_node.value == "<<" and not key_node.style):
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

    def _scalar(self, node: Any) -> Any:
        tag, value = str(node.tag), node.value
        if self.resolve and tag == _TAG + "str":
            return value if node.style else resolve_plain(value)  # plain style: None or ""
        if tag in ("!", "None") or tag == _TAG + "str":
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
