"""YAML loading that keeps positions: the first stage of the flow.

Every value read from a spec remembers the ``line:col`` it came from, so schema errors
and, later, policy violations are reported at ``file:line:col``. This module never
executes tags: it reads the *event stream* of libyaml's C parser (through PyYAML) and
builds plain values itself, resolving plain scalars by the YAML 1.2 core schema (``yes``
stays a string, ``010`` is 10). Where libyaml rejects valid YAML 1.2 (a plain URL in a
flow mapping), ruamel.yaml's pure-Python parser decides, and its error is the one
reported. Aliases and anchors are refused (an alias bomb never expands).

Bounds hold before the parser can do unbounded work: the file is read with a size cap
(and only if it is a regular file), and nesting depth is counted on the parser's own
events, as they arrive, so the build stops at the first collection deeper than the
limit. Nothing a text pre-scan could misjudge (comments, quotes, block scalars) decides
it, and the parsers' cost, which grows with nesting depth, stays bounded. The build is
iterative: no input can end in a ``RecursionError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.spec.errors import InputError
from engine.spec.limits import DEFAULT_MAX_SPEC_BYTES, DEFAULT_MAX_SPEC_DEPTH, LimitError, env_limit, read_capped

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
    return env_limit("MAX_SPEC_BYTES", DEFAULT_MAX_SPEC_BYTES), env_limit("MAX_SPEC_DEPTH", DEFAULT_MAX_SPEC_DEPTH)


def load_yaml_file(
    path: Path,
    display: str | None = None,
    *,
    max_bytes: int | None = None,
    what: str = "a spec",
    setting: str = "GOVOPS_MAX_SPEC_BYTES",
) -> YamlDocument:
    """Read and parse one YAML file, refusing directories, non-regular files, huge files and bad encodings.

    The read is capped (a symlink to ``/dev/zero`` or a FIFO committed as a spec never
    reaches ``read()``): ``max_bytes`` defaults to ``GOVOPS_MAX_SPEC_BYTES``.
    """
    shown = display or str(path)
    env_bytes, max_depth = limits_from_env()
    cap = env_bytes if max_bytes is None else max_bytes
    try:
        raw = read_capped(path, cap, shown, setting=setting)
    except LimitError as exc:
        if exc.size is not None:
            raise YamlError(
                f"file is {_human(exc.size)}; {what} may be at most {_human(cap)} (split it, or raise {setting})",
                file=shown,
                line=1,
                col=1,
            ) from None
        raise YamlError(exc.message.removeprefix(f"{shown}: "), file=shown, line=1, col=1) from None
    except FileNotFoundError:
        raise YamlError(f"{shown}: no such file", file=shown) from None
    except PermissionError:
        raise YamlError(f"{shown}: permission denied", file=shown) from None
    except IsADirectoryError:
        raise YamlError(f"{shown} is a directory; expected a YAML file", file=shown) from None
    except OSError as exc:
        raise YamlError(f"{shown}: cannot read it ({exc.strerror or exc})", file=shown) from None
    return parse_yaml(raw, shown, max_bytes=cap, max_depth=max_depth, what=what)


def parse_yaml(
    raw: bytes | str,
    file: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    what: str = "a spec",
) -> YamlDocument:
    """Parse YAML text into a ``YamlDocument`` (one document per file), size and depth bounded."""
    size = len(raw) if isinstance(raw, bytes) else _utf8_len(raw, max_bytes)
    if size > max_bytes:
        raise YamlError(
            f"file is {_human(size)}; {what} may be at most {_human(max_bytes)}",
            file=file,
            line=1,
            col=1,
        )
    text = _decode(raw, file) if isinstance(raw, bytes) else raw
    if text.startswith("\ufeff"):
        text = text[1:]
    builder = _build(text, file, max_depth)
    if not builder.documents:
        raise YamlError(
            "file is empty: a spec needs at least apiVersion, kind, metadata and spec",
            file=file,
            line=1,
            col=1,
        )
    return YamlDocument(file=file, data=builder.root, positions=builder.positions)


def _utf8_len(text: str, max_bytes: int) -> int:
    """Bytes of ``text`` in UTF-8, computed only when the character count alone cannot decide."""
    if len(text) > max_bytes or len(text) * 4 <= max_bytes:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


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


_RT: Any = None


def _ruamel() -> Any:
    """ruamel.yaml's round-trip parser, made on first use: only text libyaml refuses needs it (~11 ms to import)."""
    global _RT
    if _RT is None:
        from ruamel.yaml import YAML

        _RT = YAML(typ="rt")
    return _RT

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


def _build(text: str, file: str, max_depth: int) -> _Builder:
    """Values and positions from libyaml's events, else (libyaml refused the text) from ruamel's."""
    builder = _Builder(file, max_depth)
    try:
        builder.run(yaml.parse(text, Loader=_PlainLoader))
        return builder
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit (1000) is beyond ours
            mark = exc.problem_mark
            raise YamlError(
                f"nesting deeper than {max_depth} levels; specs are shallow documents",
                file=file,
                line=mark.line + 1 if mark else 1,
                col=mark.column + 1 if mark else 1,
            ) from None
    except yaml.YAMLError:
        pass  # libyaml rejects some valid YAML 1.2: the pure-Python parser decides.
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    builder = _Builder(file, max_depth)
    try:
        builder.run(_ruamel().parse(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(
            f"YAML syntax: {problem}",
            file=file,
            line=(mark.line + 1) if mark else 1,
            col=(mark.column + 1) if mark else 1,
        ) from None
    except YAMLError as exc:
        raise YamlError(f"YAML syntax: {exc}", file=file, line=1, col=1) from None
    return builder


_SCALAR, _SEQ, _MAP, _END, _ALIAS, _DOC, _OTHER = range(7)
_EVENT_KINDS = {
    "ScalarEvent": _SCALAR,
    "SequenceStartEvent": _SEQ,
    "MappingStartEvent": _MAP,
    "SequenceEndEvent": _END,
    "MappingEndEvent": _END,
    "AliasEvent": _ALIAS,
    "DocumentStartEvent": _DOC,
}
_KIND_BY_CLASS: dict[type, int] = {}


def _event_kind(event: Any) -> int:
    cls = type(event)
    kind = _KIND_BY_CLASS.get(cls)
    if kind is None:
        kind = _KIND_BY_CLASS[cls] = _EVENT_KINDS.get(cls.__name__, _OTHER)
    return kind


class _Frame:
    """An open collection while its events arrive: the container, its path, a mapping's pending key."""

    __slots__ = ("container", "first", "key", "path")

    def __init__(self, container: dict[str, Any] | list[Any], path: JsonPath) -> None:
        self.container = container
        self.path = path
        self.key: str | None = None
        self.first: dict[str, int] = {}


class _Builder:
    """Turns a parser's event stream (libyaml's or ruamel's) into plain values, recording positions.

    One pass, no recursion, no node graph: depth is checked on each collection's start
    event, so the parser is stopped as soon as it goes deeper than the limit. Aliases,
    tags other than the core ones, merge keys, non-scalar keys and duplicate keys are
    refused; a second document is refused.
    """

    def __init__(self, file: str, max_depth: int) -> None:
        self.file = file
        self.max_depth = max_depth
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.root: Any = None
        self.documents = 0
        self.stack: list[_Frame] = []

    def error(self, event: Any, message: str) -> YamlError:
        mark = event.start_mark
        return YamlError(message, file=self.file, line=mark.line + 1, col=mark.column + 1)

    def run(self, events: Any) -> None:
        for event in events:
            kind = _event_kind(event)
            if kind == _SCALAR:
                if self._is_key(event):
                    self._key(event)
                else:
                    self._place(event, self._scalar(event))
            elif kind == _SEQ or kind == _MAP:
                if self._is_key(event):
                    raise self.error(event, "mapping keys must be plain strings")
                self._check_tag(event, "seq" if kind == _SEQ else "map")
                container: dict[str, Any] | list[Any] = [] if kind == _SEQ else {}
                path = self._place(event, container)
                self.stack.append(_Frame(container, path))
            elif kind == _END:
                self.stack.pop()
            elif kind == _ALIAS:
                self._alias(event)
            elif kind == _DOC:
                self.documents += 1
                if self.documents > 1:
                    raise self.error(
                        event, "YAML syntax: more than one YAML document in the file; put one spec per file"
                    )

    def _is_key(self, event: Any) -> bool:
        if not self.stack:
            return False
        top = self.stack[-1]
        return isinstance(top.container, dict) and top.key is None

    def _key(self, event: Any) -> None:
        top = self.stack[-1]
        assert isinstance(top.container, dict)
        if str(event.tag) == _TAG + "merge" or (event.value == "<<" and not event.style):
            raise self.error(event, "merge keys (<<) are not allowed in specs: write the values out")
        key = str(event.value)
        mark = event.start_mark
        if key in top.first:
            raise self.error(
                event, f"duplicate key '{key}' (first defined on line {top.first[key]}); remove one of them"
            )
        top.first[key] = mark.line + 1
        self.positions[top.path + (key,)] = (mark.line + 1, mark.column + 1)
        top.key = key

    def _place(self, event: Any, value: Any) -> JsonPath:
        """Put ``value`` where the open collection expects it; returns its path (depth-checked)."""
        mark = event.start_mark
        if not self.stack:
            self.positions[()] = (mark.line + 1, mark.column + 1)
            self.root = value
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            path = top.path + (len(top.container),)
            self.positions[path] = (mark.line + 1, mark.column + 1)
            top.container.append(value)
        else:
            assert top.key is not None
            path = top.path + (top.key,)
            top.container[top.key] = value
            top.key = None
        if len(path) > self.max_depth:
            raise self.error(event, f"nesting deeper than {self.max_depth} levels; specs are shallow documents")
        return path

    def _alias(self, event: Any) -> None:
        # report at the key that holds the alias (or the list that does), where the reader looks
        mark = event.start_mark
        if self.stack:
            top = self.stack[-1]
            holder = top.path if isinstance(top.container, list) or top.key is None else top.path + (top.key,)
            line, col = self.positions.get(holder, (mark.line + 1, mark.column + 1))
        else:
            line, col = mark.line + 1, mark.column + 1
        raise YamlError(
            "YAML aliases (*name) are not allowed in specs: write the value out (aliases can expand without bound)",
            file=self.file,
            line=line,
            col=col,
        )

    def _check_tag(self, event: Any, kind: str) -> None:
        tag = event.tag
        if tag is not None and str(tag) not in (_TAG + kind, "!"):
            raise self.error(event, f"tag {tag} is not allowed in specs")

    def _scalar(self, event: Any) -> Any:
        tag, value = event.tag, event.value
        if tag is None:
            if event.style:  # plain style: '' (libyaml) or None (ruamel)
                return value
            try:
                return resolve_plain(value)
            except ValueError:  # a decimal integer longer than Python converts (4,300 digits): input, not a crash
                raise self.error(event, f"the number {_short(value)} has {len(value)} characters: "
                                 "too long for a number in a spec (quote it if it is text)") from None
        tag = str(tag)
        if tag in ("!", _TAG + "str"):
            return value
        try:
            if tag == _TAG + "null":
                return None
            if tag == _TAG + "bool":
                return value.lower() in ("true", "yes", "on")
            if tag == _TAG + "int":
                return _to_int(value)
            if tag == _TAG + "float":
                return _to_float(value)
        except ValueError:
            raise self.error(event, f"'{_short(value)}' is not a valid {tag.rsplit(':', 1)[-1]}") from None
        if tag == _TAG + "timestamp":
            return value
        raise self.error(event, f"tag {tag} is not allowed in specs (govops never executes YAML tags)")


def _short(value: str) -> str:
    """A scalar cut for a message (a 5,000-digit number is not repeated in full)."""
    return value if len(value) <= 40 else value[:20] + "…" + value[-8:]


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
