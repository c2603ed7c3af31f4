"""Property-based hand-over: any value a spec can express reaches regopy unchanged (issue #22, item 3).

Spec text, file names, labels and authors are attacker-controlled, so the input space is the
attack surface. Hypothesis draws JSON documents (valid Unicode strings of any code point,
64-bit integers, finite floats, nesting of lists and objects) and checks that:

* the built path (``set_input``, rego-cpp's input-stack API) hands the policy exactly the
  value the JSON holds, and decides exactly as the text path (``set_input_term`` of
  ``rego_json``), whichever of the two ``set_input`` picks;
* strings in the places a pull request controls come back exactly through the real
  ``RegopyBackend`` worker pool, and a policy comparing them decides as Python does.

Examples are bounded (``max_examples``) and the seed is fixed (``derandomize``), so the
run is reproducible and stays within the suite's budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regopy import Interpreter
from regopy import rego_shared as rs

from engine.policy.exact import rego_json
from engine.policy.library import PolicyLibrary
from engine.policy.regopy_backend import RegopyBackend
from engine.policy.regopy_input import set_input

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget

BOUNDED = settings(max_examples=120, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# any Unicode scalar value (no lone surrogates: they are not text, and are refused before any engine)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
ANY_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
# rego-cpp keeps 16 significant digits of a JSON number (see the xfail below): values are compared
# exactly for floats that need no more, and the built and text paths are compared for every float
FLOAT16 = ANY_FLOAT.map(lambda x: float(f"{x:.16g}")).filter(math.isfinite)
INTS = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _docs(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | INTS | floats | TEXT
    return st.recursive(scalars, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(TEXT, kids, max_size=5),
                        max_leaves=25)


DOCS = _docs(FLOAT16)
RAW_DOCS = _docs(ANY_FLOAT)

ECHO = "package t\nimport rego.v1\nv := input\n"
# a decision over the input: which top-level keys hold the same value as key "probe"
DECIDE = """package d
import rego.v1
deny contains k if {
	some k, x in input.doc
	x == input.probe
}
kinds contains [k, type_name(x)] if some k, x in input.doc
"""


def _query(interp: Any, bundle: Any, entrypoint: str) -> Any:
    out = rs.rego_bundle_query_entrypoint(interp._impl, bundle._impl, entrypoint)
    try:
        assert rs.rego_output_ok(out), rs.rego_output_string(out)
        return json.loads(rs.rego_output_string(out))["expressions"][0]
    finally:
        rs.rego_free_output(out)


@pytest.fixture(scope="module")
def engines() -> dict[str, tuple[Any, Any]]:
    out = {}
    for name, source, entry in (("echo", ECHO, "t/v"), ("decide", DECIDE, "d")):
        interp = Interpreter()
        interp.strict_built_in_errors = True
        interp.add_module(f"{name}.rego", source)
        bundle = interp.build(None, [entry])
        assert bundle.ok()
        out[name] = (interp, bundle)
    return out


def _same_number_or_value(a: Any, b: Any) -> bool:
    """Equal as JSON values (1 == 1.0 is a JSON number either way; bools are not numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_number_or_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_number_or_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@BOUNDED
@given(doc=DOCS)
def test_any_document_reaches_the_policy_unchanged_and_as_the_text_path(engines: dict, doc: Any) -> None:
    interp, bundle = engines["echo"]
    payload = json.dumps({"doc": doc})
    interp.set_input_term(rego_json(json.loads(payload)))
    as_text = _query(interp, bundle, "t/v")
    set_input(interp, payload)
    as_built = _query(interp, bundle, "t/v")
    assert as_built == as_text
    assert _same_number_or_value(as_built, {"doc": doc})


@BOUNDED
@given(doc=RAW_DOCS)
def test_any_float_decides_the_same_built_or_as_text(engines: dict, doc: Any) -> None:
    interp, bundle = engines["echo"]
    payload = json.dumps({"doc": doc})
    interp.set_input_term(rego_json(json.loads(payload)))
    as_text = _query(interp, bundle, "t/v")
    set_input(interp, payload)
    assert _query(interp, bundle, "t/v") == as_text


@pytest.mark.xfail(strict=True, reason="rego-cpp rounds a JSON number to 16 significant digits on both paths: "
                   "0.30000000000000004 arrives as 0.3 (OPA and Python keep it); govops refuses such numbers "
                   "before any engine sees them (tests/policy/test_policy_handover.py)")
def test_a_seventeen_digit_float_reaches_the_policy_unchanged(engines: dict) -> None:
    interp, bundle = engines["echo"]
    set_input(interp, json.dumps({"doc": 0.1 + 0.2}))
    assert _query(interp, bundle, "t/v") == {"doc": 0.30000000000000004}


@BOUNDED
@given(doc=st.dictionaries(TEXT, DOCS, min_size=1, max_size=6), pick=st.integers(min_value=0))
def test_a_decision_over_any_document_is_the_same_built_or_as_text(engines: dict, doc: dict, pick: int) -> None:
    interp, bundle = engines["decide"]
    keys = list(doc)
    probe = doc[keys[pick % len(keys)]]
    payload = json.dumps({"doc": doc, "probe": probe})
    interp.set_input_term(rego_json(json.loads(payload)))
    as_text = _query(interp, bundle, "d")
    set_input(interp, payload)
    as_built = _query(interp, bundle, "d")
    assert as_built == as_text
    # and the decision is the one Python makes: every key whose value equals the probe
    assert sorted(as_built["deny"]) == sorted(k for k, v in doc.items() if _same_number_or_value(v, probe))


PR_ECHO = r"""package govops
import rego.v1
main := {"deny": deny, "warn": []}
deny contains {"rule": "AUTHOR", "message": input.context.author, "path": ""}
deny contains {"rule": "FILE", "message": f, "path": "", "file": f} if some f in input.context.changed_files
deny contains {"rule": "LABEL", "message": k, "path": ""} if some k, _ in input.context.labels
deny contains {"rule": "SAME", "message": "", "path": ""} if input.context.author == input.context.changed_files[0]
"""


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegopyBackend]:
    b = RegopyBackend(timeout_s=60, jobs=1)
    b.load(PolicyLibrary(tmp_path_factory.mktemp("pr-echo"), "policies", {"echo.rego": PR_ECHO}), None)
    try:
        yield b
    finally:
        b.close()


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(author=TEXT, files=st.lists(TEXT, min_size=1, max_size=4), labels=st.lists(TEXT, max_size=4),
       ratio=st.none() | st.floats(allow_nan=False, allow_infinity=False))
def test_pr_strings_come_back_exactly_through_the_backend(backend: RegopyBackend, author: str, files: list[str],
                                                          labels: list[str], ratio: float | None) -> None:
    doc: dict[str, Any] = {"context": {"author": author, "changed_files": files, "labels": dict.fromkeys(labels, True)}}
    if ratio is not None:
        doc["ratio"] = ratio  # any float: some documents go as built values, some as text
    (decision,) = backend.evaluate_many([("m", json.dumps(doc))])
    got: dict[str, set[str]] = {}
    for item in decision["deny"]:
        got.setdefault(item["rule"], set()).add(item["message"])
        if item["rule"] == "FILE":
            assert item["file"] == item["message"]
    expected = {"AUTHOR": {author}, "FILE": set(files)}
    if labels:
        expected["LABEL"] = set(labels)
    if author == files[0]:
        expected["SAME"] = {""}
    assert got == expected
    assert decision["warn"] == []
