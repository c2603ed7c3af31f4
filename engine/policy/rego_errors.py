"""Turning rego-cpp's error trees into messages with the Rego file:line:col.

rego-cpp reports errors as s-expressions with length-prefixed strings, e.g.
``(error 8:bad.rego|44|2 (errormsg 24:Invalid boolean operator) …)``: the module name,
a byte offset and a length. This module maps the offset back to line and column of
the module source; it never evaluates anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD = re.compile(r"\((error|errormsg) (\d+):")


@dataclass(frozen=True)
class RegoProblem:
    """One error: message, and the module/offset it points at when known."""

    message: str
    module: str | None = None
    offset: int | None = None


def _prefixed(text: str, start: int, length: int) -> str:
    return text[start : start + length]


def parse_errors(text: str) -> list[RegoProblem]:
    """Every ``(error …)`` in a rego-cpp error string, with its message and source offset."""
    problems: list[RegoProblem] = []
    module: str | None = None
    offset: int | None = None
    pos = 0
    while True:
        m = _HEAD.search(text, pos)
        if m is None:
            break
        kind, length = m.group(1), int(m.group(2))
        value = _prefixed(text, m.end(), length)
        pos = m.end() + length
        if kind == "error":
            module, offset = value, None
            tail = re.match(r"\|(\d+)\|(\d+)", text[pos:])
            if tail:
                offset = int(tail.group(1))
        else:
            problems.append(RegoProblem(value, module, offset))
            module, offset = None, None
    if not problems:
        loose = re.findall(r"\(errormsg ([^)]*)\)", text)
        problems = [RegoProblem(m) for m in loose] or [RegoProblem(text.strip() or "unknown rego error")]
    return problems


def line_col(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset into ``source``."""
    raw = source.encode("utf-8")[:offset]
    line = raw.count(b"\n") + 1
    col = len(raw) - (raw.rfind(b"\n") + 1) + 1
    return line, col
