r"""Exact hand-over to the policy engines: one canonical form for every string, strict reading of every answer.

Part of the policy stage, shared by every backend. A PR controls many strings that reach
the policies (file names, author, labels, model ids, descriptions, owners, approver names,
waiver reasons), so the hand-over must carry each one exactly, and the answer must be read
so that no string inside it can change its structure.

rego-cpp 1.5.2 keeps a JSON string as the *escaped text* it was given (``a"b`` is held as
the four bytes ``a\"b``, and ``count`` says 4) and writes it back verbatim: its own JSON reader
(``set_input_term``, ``add_data_json``) and the Rego parser (``"a\"b"`` in a policy) both
keep that form, so equality, ``in``, object look-ups and messages work as long as every
string arrives in the same form. Its input-stack C API (``regoInputString``) stores the
bytes it is handed just as they are: a raw ``"`` then ends the string in the output JSON,
which is how a file named ``z"}],"deny":[],...`` forged an empty ``deny``. So govops hands
rego-cpp every string, on every path, as ``rego_string`` renders it: JSON's escapes for
``"``, ``\`` and control characters (NUL included, as ``\u0000``), everything else as UTF-8
(what Python's ``json`` writes with ``ensure_ascii=False``, which is also how rego-cpp
orders and counts non-ASCII text the way OPA does). The OPA server receives standard JSON,
which it decodes exactly.

A string that is not valid Unicode (a lone surrogate: Python decodes a file name that is
not UTF-8 that way) has no exact form for OPA, which would read it as U+FFFD; it is refused
with a clear error on every backend (``inexact_string``), so both engines decide the same
or neither does.

Engine answers are parsed with ``loads_strict``: duplicate keys, NaN and infinities,
lone surrogates and trailing text are errors (the caller fails closed), never "the last key
wins". This module never evaluates a policy and never decides anything.
"""

from __future__ import annotations

import json
import math
import re
from json.encoder import encode_basestring
from typing import Any

from engine.spec.errors import MalformedOutput

HANDOVER_REVISION = "exact-strings-1"
"""Changes whenever the hand-over changes what an engine sees; part of every decision-cache key, so a
decision reached by an older hand-over (one a forged string could fool) is never reused."""


def rego_string(s: str) -> bytes:
    """The canonical form in which rego-cpp holds ``s``: JSON-escaped, without quotes, as UTF-8 bytes.

    Raises ``UnicodeEncodeError`` for a string with a lone surrogate (callers refuse
    those first with ``inexact_string``).
    """
    return str(encode_basestring(s))[1:-1].encode()


def rego_json(value: Any) -> str:
    """JSON text of ``value`` with every string in the canonical form (input terms and data documents).

    rego-cpp's data parser rejects an exponent without a fraction (``1e-06``, which
    Python's ``json`` writes for 0.000001) with "Invalid base document", although input
    terms accept it; every float is written with a fraction digit (``1.0e-06``), the same
    value. NaN and infinities are refused.
    """
    if isinstance(value, str):
        return str(encode_basestring(value))
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode_basestring(str(k))}:{rego_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(rego_json(v) for v in value) + "]"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written as JSON")
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    return json.dumps(value)


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _valid_unicode(s: str) -> bool:
    if s.isascii():
        return True
    try:
        s.encode()
    except UnicodeEncodeError:
        return False
    return True


def _bad_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return None if _valid_unicode(value) else path or "(the document)"
    if isinstance(value, dict):
        for k, v in value.items():
            if not _valid_unicode(k):
                return f"{path}.{k.encode('utf-8', 'backslashreplace').decode()} (a key)"
            found = _bad_path(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _bad_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


def inexact_string(text: str) -> str | None:
    """Where the JSON document ``text`` holds a string that is not valid Unicode, or None.

    Cheap on the usual input: only a document with an escaped surrogate or a character
    that is not UTF-8 is decoded and walked. The answer is a path such as
    ``context.changed_files[3]``.
    """
    if not _ESCAPED_SURROGATE.search(text) and _valid_unicode(text):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None  # not ours to judge here: the engine refuses it
    found = _bad_path(doc, "")
    return found.lstrip(".") if found else None


# a JSON number with a fraction or an exponent (integers reach rego-cpp exactly up to 64 bits)
_FLOAT_TOKEN = re.compile(r"\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+")
MAX_FLOAT_DIGITS = 16
"""rego-cpp keeps 16 significant digits of a JSON number (OPA and Python keep 17)."""


def _significant_digits(token: str) -> int:
    """Significant digits of a number as JSON (and ``repr``) writes it: ``0.30000000000000004`` -> 17."""
    mantissa = token.lstrip("-").split("e")[0].split("E")[0]
    return len(mantissa.replace(".", "").strip("0"))


def _long_float(value: Any, path: str) -> tuple[str, float] | None:
    if isinstance(value, float):
        return (path or "(the document)", value) if _significant_digits(repr(value)) > MAX_FLOAT_DIGITS else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _long_float(v, f"{path}[{k}]" if isinstance(k, int) else f"{path}.{k}")
        if found:
            return found
    return None


def inexact_number(text: str) -> tuple[str, float] | None:
    """Where the JSON document ``text`` holds a float with more significant digits than rego-cpp keeps.

    Such a number (``0.30000000000000004``) reaches the embedded engine rounded, so it
    could decide differently from OPA; it is refused rather than rounded. Cheap on the
    usual input: only a document with a long decimal token is parsed and walked.
    """
    if not any(_significant_digits(m.group()) > MAX_FLOAT_DIGITS for m in _FLOAT_TOKEN.finditer(text)):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    found = _long_float(doc, "")
    return (found[0].lstrip("."), found[1]) if found else None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise MalformedOutput(f"duplicate key {key!r} in one object")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise MalformedOutput(f"{name} is not a JSON value")


def loads_strict(text: str | bytes) -> Any:
    """Parse an engine's JSON answer; ``MalformedOutput`` for anything that is not exactly one clean document.

    Duplicate keys (the sign of a string that broke out of its quotes), NaN and
    infinities, trailing text and strings that are not valid Unicode are refused.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedOutput(f"not UTF-8 ({exc})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except MalformedOutput:
        raise
    except ValueError as exc:
        raise MalformedOutput(f"not valid JSON ({exc})") from None
    if _ESCAPED_SURROGATE.search(text) or not _valid_unicode(text):
        found = _bad_path(doc, "")
        if found:
            raise MalformedOutput(f"a string that is not valid Unicode at {found.lstrip('.') or 'the top'}")
    return doc
