"""Built inputs (rego-cpp's input-stack API) decide exactly as inputs sent as text.

The embedded backend builds each input value instead of sending JSON text, which skips
rego-cpp's term parser. The API rounds floats to six decimals, so such documents still go
as text; it stores strings as it is handed them, so every string goes in the escaped form
rego-cpp's own JSON reader keeps (``engine.policy.exact``): quotes, backslashes, control
characters and NUL are built too. Every conformance case is evaluated both ways through
real regopy; ``tests/policy/test_policy_handover.py`` covers the strings a PR controls end to end.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from regopy import Interpreter
from regopy import rego_shared as rs

from engine.policy.library import load_library
from engine.policy.regopy_input import set_input
from tests.conftest import PROJECT
from tests.policy.test_policy_conformance import cases  # noqa: F401 - `cases` is a shared fixture


def _query(interp: Any, bundle: Any, entrypoint: str) -> Any:
    out = rs.rego_bundle_query_entrypoint(interp._impl, bundle._impl, entrypoint)
    try:
        assert rs.rego_output_ok(out)
        return json.loads(rs.rego_output_string(out))["expressions"][0]
    finally:
        rs.rego_free_output(out)


@pytest.mark.slow
def test_every_conformance_case_decides_the_same_built_or_as_text(cases: list) -> None:  # noqa: F811
    interp = Interpreter()
    interp.strict_built_in_errors = True
    for name, source in sorted(load_library(PROJECT).modules.items()):
        interp.add_module(name, source)
    bundle = interp.build(None, ["govops/main"])
    assert bundle.ok()
    built = 0
    for name, text, expected in cases:
        interp.set_input_term(text)
        as_text = _query(interp, bundle, "govops/main")
        built += set_input(interp, text)
        as_built = _query(interp, bundle, "govops/main")
        assert as_built == as_text, name
        assert {d["rule"] for d in as_built["deny"]} == expected, name
    assert built == len(cases)  # the example specs hold nothing the API would change


@pytest.fixture
def echo() -> tuple[Any, Any]:
    interp = Interpreter()
    interp.add_module("t.rego", "package t\nimport rego.v1\nv := input\n")
    bundle = interp.build(None, ["t/v"])
    assert bundle.ok()
    return interp, bundle


@pytest.mark.parametrize(
    ("value", "built"),
    [
        ({"a": 0.05, "b": 1798070400000000000, "c": -3, "d": [True, False, None], "e": "ünï", "f": {}}, True),
        ({"x": 123456789.125, "y": 2.5e-05, "z": 1e20, "big": 2**63 - 1}, True),
        ({"tiny": 1e-07}, False),
        ({"digits": 0.1234567}, False),
        ({"nul": "a\u0000b"}, True),
        ({"deep": [{"k": [0.5, {"nul\u0000key": 1}]}]}, True),
        ({'z"}],"deny":[],"x":[{"m":"': 'z"}],"deny":[],"x":[{"m":"', "q": ['a"b', "a\\b"]}, True),
        ({"ctl": "".join(map(chr, range(32))) + "\x7f", "bmp+": "\U0001f600\u2028", "esc": "\\u0041"}, True),
        ({"text-path": 'a"b\\c\u0000\U0001f600', "tiny": 1e-07}, False),
    ],
    ids=["plain", "exact-floats", "below-six-decimals", "seven-decimals", "nul-string", "nul-key",
         "quotes-and-backslashes", "controls-and-non-bmp", "strings-on-the-text-path"],
)
def test_values_reach_the_policy_unchanged(echo: tuple[Any, Any], value: dict[str, Any], built: bool) -> None:
    interp, bundle = echo
    text = json.dumps(value)
    assert set_input(interp, text) is built
    assert _query(interp, bundle, "t/v") == value
