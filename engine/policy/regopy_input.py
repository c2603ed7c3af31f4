r"""Hand one input document to rego-cpp as a built value instead of text (the embedded backend's hot path).

Part of the policy stage, used inside the regopy workers. ``set_input_term`` makes
rego-cpp parse the input as a Rego term and then pays again when a query first walks
it: about 40% of an evaluation of ``data.govops.main``. Building the same document
through rego-cpp's input-stack C API (what ``regopy.Input`` does, with less Python
around each call) skips both. That API stores what it is handed *as it is*, so:

- every string and key is handed over in the canonical escaped form of
  ``engine.policy.exact.rego_string``, the form rego-cpp's own JSON reader keeps; a raw
  ``"``, ``\`` or control character would be written back unescaped and break (or forge)
  the output JSON, and a NUL would cut the C string;
- a float goes through C++ ``std::to_string`` (six decimals: 1e-07 becomes 0), so only
  floats that survive six decimals exactly are built; a document holding another is sent
  as text (``exact.rego_json``: the same canonical strings).

A string that is not valid Unicode is never handed over (``ValueError``; the backends
refuse such inputs before they get here). ``tests/policy/test_regopy_input.py`` and
``tests/policy/test_policy_handover.py`` hold both paths to identical values and decisions.
"""

from __future__ import annotations

import json
from typing import Any

from engine.policy.exact import rego_json, rego_string


class _Unbuildable(Exception):
    """The document holds a value the input-stack API would change; send it as text."""


def _exact_in_six_decimals(value: float) -> bool:
    return float(f"{value:.6f}") == value


def build_input(rego: Any, value: Any) -> int:
    """A rego-cpp input handle holding ``value`` (the caller frees it).

    Raises ``_Unbuildable`` for a float the API would round, ``ValueError`` for a string
    that is not valid Unicode.
    """
    put_str, put_int, put_float = rego.regoInputString, rego.regoInputInt, rego.regoInputFloat
    put_bool, put_null = rego.regoInputBoolean, rego.regoInputNull
    put_item, put_object, put_array = rego.regoInputObjectItem, rego.regoInputObject, rego.regoInputArray
    handle = rego.regoNewInput()

    def text(s: str) -> bytes:
        try:
            return rego_string(s)
        except UnicodeEncodeError:
            raise ValueError("the policy input holds a string that is not valid Unicode") from None

    def add(v: Any) -> None:
        t = type(v)
        if t is str:
            put_str(handle, text(v))
        elif t is dict:
            for k, x in v.items():
                put_str(handle, text(k))
                add(x)
                put_item(handle)
            put_object(handle, len(v))
        elif t is list:
            for x in v:
                add(x)
            put_array(handle, len(v))
        elif t is bool:
            put_bool(handle, v)
        elif t is int:
            put_int(handle, v)
        elif t is float:
            if not _exact_in_six_decimals(v):
                raise _Unbuildable
            put_float(handle, v)
        elif v is None:
            put_null(handle)
        else:  # pragma: no cover - json.loads makes nothing else
            raise _Unbuildable

    try:
        add(value)
    except BaseException:
        rego.regoFreeInput(handle)
        raise
    return int(handle)


def set_input(interp: Any, payload: str) -> bool:
    """Make ``payload`` (input JSON) the interpreter's input; True when it was built, False when sent as text."""
    from regopy import rego_shared as rs

    value = json.loads(payload)
    try:
        handle = build_input(rs.rego, value)
    except _Unbuildable:
        interp.set_input_term(rego_json(value))
        return False
    try:
        rs.rego_set_input(interp._impl, handle)  # raises RegoError with rego-cpp's message
    finally:
        rs.rego.regoFreeInput(handle)
    return True
