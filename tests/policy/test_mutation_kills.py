"""Tests that kill mutants of the policy hand-over, answer parsing and base-branch selection (issue 22).

Each asserts the exact text an engine is handed or the exact refusal of a malformed answer.
"""

from __future__ import annotations

import pytest

from engine.policy.exact import loads_strict, rego_json, rego_string
from engine.spec.errors import MalformedOutput


def test_rego_string_is_the_json_escape_without_quotes() -> None:
    assert rego_string('a"b\\c\n\x00é') == 'a\\"b\\\\c\\n\\u0000é'.encode()


def test_rego_json_writes_floats_with_a_fraction_digit() -> None:
    assert rego_json({"a": [1e-06, 1.5, 2, "x", True, None]}) == '{"a":[1.0e-06,1.5,2,"x",true,null]}'
    with pytest.raises(ValueError):
        rego_json(float("nan"))


def test_loads_strict_refuses_duplicate_keys() -> None:
    with pytest.raises(MalformedOutput, match="duplicate key 'a' in one object"):
        loads_strict('{"a": 1, "a": 2}')


# --- exact.py: where a document is inexact --------------------------------------------------------

from engine.policy.exact import (  # noqa: E402 - grouped by the module they defend
    MAX_FLOAT_DIGITS,
    inexact_number,
    inexact_string,
)


def test_loads_strict_accepts_one_clean_document_from_text_or_bytes() -> None:
    assert loads_strict('{"a": [1, 2.5, "é", null]}') == {"a": [1, 2.5, "é", None]}
    assert loads_strict(b'{"a": "\\u00e9"}') == {"a": "é"}
    assert loads_strict('{"a": {"b": 1}, "b": {"b": 2}}') == {"a": {"b": 1}, "b": {"b": 2}}  # per object


@pytest.mark.parametrize(("text", "message"), [
    ("NaN", "not valid JSON"),  # never reaches a value
    ('{"a": NaN}', "NaN is not a JSON value"),
    ('{"a": Infinity}', "Infinity is not a JSON value"),
    ('{"a": -Infinity}', "-Infinity is not a JSON value"),
    ('{"a": 1} x', "not valid JSON (Extra data"),
    ('{"a": "\\ud800"}', "a string that is not valid Unicode at a"),
    ('["ok", {"k": ["\\udc00"]}]', "a string that is not valid Unicode at [1].k[0]"),
    ('"\\uD800"', "a string that is not valid Unicode at (the document)"),
    ('{"": "\\uD800"}', "a string that is not valid Unicode at the top"),  # the path "." of the empty key
    (b'{"a": "\xff"}', "not UTF-8 ("),
])
def test_loads_strict_refusals_say_why(text: str | bytes, message: str) -> None:
    with pytest.raises(MalformedOutput) as caught:
        loads_strict(text)
    if message == "not valid JSON":
        assert str(caught.value).startswith("not valid JSON") or "NaN is not a JSON value" in str(caught.value)
    else:
        assert message in str(caught.value)


def test_inexact_string_names_the_path_of_a_lone_surrogate() -> None:
    assert inexact_string('{"a": ["x", "é"]}') is None
    assert inexact_string('{"a": ["x", "\\ud800"]}') == "a[1]"
    assert inexact_string('{"ctx": {"files": ["ok", "\\uDFFF"]}}') == "ctx.files[1]"
    assert inexact_string('{"\\ud800": 1}') == "\\ud800 (a key)"
    assert inexact_string('"\\ud800"') == "(the document)"
    assert inexact_string('{"a": "\\ud800') is None  # not JSON: the engine refuses it
    assert inexact_string('{"a": "\\u00e9", "b": 1}') is None  # an escaped character that is no surrogate
    assert inexact_string('{"a": "\\ud83d\\ude00"}') is None  # a surrogate pair is one valid character
    assert inexact_string("{\"a\": \"\ud800\"}") == "a"  # a raw lone surrogate in the text itself


def test_inexact_number_names_the_path_of_a_long_float() -> None:
    assert MAX_FLOAT_DIGITS == 16
    assert inexact_number('{"a": 0.1, "b": [1, 2.5e-3]}') is None
    assert inexact_number('{"a": {"b": [1, 0.30000000000000004]}}') == ("a.b[1]", 0.30000000000000004)
    assert inexact_number("0.30000000000000004") == ("(the document)", 0.30000000000000004)
    assert inexact_number('{"a": 1234567890123456.5}') == ("a", 1234567890123456.5)  # 17 digits
    assert inexact_number('{"a": 123456789012345.6}') is None  # 16 digits: kept exactly
    assert inexact_number('{"a": "0.30000000000000004"}') is None  # a string, not a number
    assert inexact_number('{"a": 1.2345678901234567e-05}') == ("a", 1.2345678901234567e-05)
    assert inexact_number('{"a": 0.30000000000000004') is None  # not JSON


def test_rego_json_handles_every_json_type_and_nesting() -> None:
    assert rego_json(("a", 1)) == '["a",1]'
    assert rego_json({1: "x"}) == '{"1":"x"}'
    assert rego_json({"q": 'a"b'}) == '{"q":"a\\"b"}'
    assert rego_json(1e22) == "1.0e+22"
    assert rego_json(1.5e-07) == "1.5e-07"
    assert rego_json(0.25) == "0.25"
    assert rego_json(False) == "false"
    with pytest.raises(ValueError, match="inf cannot be written as JSON"):
        rego_json(float("inf"))


# --- backend.py: refusing inexact inputs, reading the engine's answer -----------------------------

from engine.policy.backend import (  # noqa: E402
    BACKENDS,
    check_result,
    default_backend_name,
    get_backend,
    refuse_inexact,
)
from engine.policy.errors import PolicyError, PolicyInputError  # noqa: E402
from engine.spec.errors import UsageError  # noqa: E402
from engine.spec.settings import Settings  # noqa: E402


def test_refuse_inexact_messages() -> None:
    refuse_inexact("lab/iris", '{"a": "é", "b": 0.5}')  # nothing to refuse
    with pytest.raises(PolicyInputError) as caught:
        refuse_inexact("lab/iris", '{"context": {"files": ["\\ud800"]}}')
    assert str(caught.value) == (
        "the policy input for lab/iris holds a string that is not valid Unicode at context.files[0] "
        "(for example a file name that is not UTF-8); no policy engine can be handed it exactly: rename it")
    with pytest.raises(PolicyInputError) as caught:
        refuse_inexact("lab/iris", '{"spec": {"t": 0.30000000000000004}}')
    assert str(caught.value) == (
        "the policy input for lab/iris holds the number 0.30000000000000004 at spec.t, which needs more than "
        "16 significant digits; the embedded engine would round it and could decide differently from OPA: "
        "write it with at most 16")


def test_check_result_passes_a_well_formed_decision_through() -> None:
    deny = [{"rule": "GOV-1", "message": "m", "path": "p", "file": "f"}]
    warn = [{"rule": "GOV-2", "message": "w"}]
    result = {"deny": deny, "warn": warn, "extra": 1}
    decision = check_result(result, "lab/iris")
    assert decision == {"deny": deny, "warn": warn}
    assert decision["deny"] is not deny  # a copy: the caller may not alter the engine's answer


@pytest.mark.parametrize("result", [
    None, [], {"deny": []}, {"warn": []}, {"deny": {}, "warn": []}, {"deny": [], "warn": "x"},
])
def test_check_result_refuses_another_shape(result: object) -> None:
    with pytest.raises(PolicyError) as caught:
        check_result(result, "lab/iris")
    assert str(caught.value) == (
        f'lab/iris: data.govops.main must return {{"deny": [...], "warn": [...]}}, got {result!r}')


@pytest.mark.parametrize("key", ["deny", "warn"])
@pytest.mark.parametrize("item", [
    "GOV-1", {"message": "m"}, {"rule": 1, "message": "m"}, {"rule": "r"}, {"rule": "r", "message": None},
    {"rule": "r", "message": "m", "path": 3}, {"rule": "r", "message": "m", "file": ["x"]},
])
def test_check_result_refuses_a_malformed_item(key: str, item: object) -> None:
    result: dict = {"deny": [], "warn": []}
    result[key] = [{"rule": "ok", "message": "fine"}, item]
    with pytest.raises(PolicyError) as caught:
        check_result(result, "w")
    assert str(caught.value) == (
        f'w: each {key} item must be {{"rule": string, "message": string, "path": string}}, got {item!r}')


def test_check_result_shortens_a_long_answer_in_its_message() -> None:
    long = "x" * 300
    with pytest.raises(PolicyError) as caught:
        check_result(long, "w")
    shown = str(caught.value).split("got ", 1)[1]
    assert shown == repr(long)[:197] + "..." and len(shown) == 200
    exactly = "y" * 198  # repr adds two quotes: 200 characters are shown whole
    with pytest.raises(PolicyError) as caught:
        check_result(exactly, "w")
    assert str(caught.value).endswith("got " + repr(exactly))


def test_backend_choice() -> None:
    assert default_backend_name(Settings(policy_backend="opa")) == "opa"
    assert default_backend_name(Settings(opa_url="http://127.0.0.1:8181")) == "opa"
    assert default_backend_name(Settings()) == "regopy"
    assert set(BACKENDS) == {"regopy", "opa"}
    with pytest.raises(UsageError) as caught:
        get_backend("rego", Settings())
    assert str(caught.value) == "unknown policy backend 'rego'; choose one of: regopy, opa"
    with pytest.raises(UsageError, match="the opa backend needs GOVOPS_OPA_URL"):
        get_backend("opa", Settings())


# --- regopy_input.py: the exact sequence of input-stack calls --------------------------------------

from engine.policy import regopy_input as ri  # noqa: E402


class FakeRego:
    """Records the input-stack calls ``build_input`` makes (what rego-cpp would be handed)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.freed: list[int] = []

    def regoNewInput(self) -> int:  # noqa: N802 - rego-cpp's C API names
        return 42

    def regoFreeInput(self, handle: int) -> None:  # noqa: N802
        self.freed.append(handle)

    def __getattr__(self, name: str):
        if not name.startswith("regoInput"):
            raise AttributeError(name)
        return lambda handle, *args: self.calls.append((name.removeprefix("regoInput"), handle, *args))


def test_build_input_hands_over_every_value_in_order() -> None:
    rego = FakeRego()
    handle = ri.build_input(rego, {"a\"b": ["x\\y", 1, 2.5, True, None], "n": {}})
    assert handle == 42 and rego.freed == []
    assert rego.calls == [
        ("String", 42, b'a\\"b'),
        ("String", 42, b"x\\\\y"), ("Int", 42, 1), ("Float", 42, 2.5), ("Boolean", 42, True), ("Null", 42),
        ("Array", 42, 5),
        ("ObjectItem", 42),
        ("String", 42, b"n"), ("Object", 42, 0), ("ObjectItem", 42),
        ("Object", 42, 2),
    ]


def test_build_input_keeps_bools_apart_from_ints() -> None:
    rego = FakeRego()
    ri.build_input(rego, [False, 0])
    assert rego.calls == [("Boolean", 42, False), ("Int", 42, 0), ("Array", 42, 2)]


def test_a_float_the_api_would_round_is_sent_as_text_and_the_handle_freed() -> None:
    assert ri._exact_in_six_decimals(0.25) and ri._exact_in_six_decimals(3.0)
    assert ri._exact_in_six_decimals(0.000001) and not ri._exact_in_six_decimals(0.0000001)
    assert not ri._exact_in_six_decimals(1 / 3)
    rego = FakeRego()
    with pytest.raises(ri._Unbuildable):
        ri.build_input(rego, {"a": [1e-07]})
    assert rego.freed == [42]


def test_a_lone_surrogate_is_refused_and_the_handle_freed() -> None:
    rego = FakeRego()
    with pytest.raises(ValueError, match="the policy input holds a string that is not valid Unicode"):
        ri.build_input(rego, {"k": "\ud800"})
    assert rego.freed == [42]
    rego = FakeRego()
    with pytest.raises(ValueError):
        ri.build_input(rego, {"\udc00": 1})
    assert rego.freed == [42]


class FakeInterp:
    def __init__(self) -> None:
        self.terms: list[str] = []
        self._impl = object()

    def set_input_term(self, text: str) -> None:
        self.terms.append(text)


def test_set_input_sends_an_unbuildable_document_as_canonical_text() -> None:
    interp = FakeInterp()
    assert ri.set_input(interp, '{"t": 1e-07, "s": "a\\"b"}') is False
    assert interp.terms == ['{"t":1.0e-07,"s":"a\\"b"}']


# --- judge.py: which waivers a change may count ------------------------------------------------------

from engine.policy.judge import Rules, _approvers  # noqa: E402
from engine.spec.diagnostics import Diagnostic  # noqa: E402


def waiver(rule: str, model: str, approver: str, expires_ns: int) -> dict:
    return {"rule": rule, "model": model, "approver": approver, "expires_ns": expires_ns}


def rules_with(base: list[dict], proposed: list[tuple[dict, int]], diags: list | None = None) -> Rules:
    return Rules(config=None, config_file="govops.yaml", library=None, waivers=list(base),  # type: ignore[arg-type]
                 commit="b" * 40, diagnostics=list(diags or []), base_waivers=list(base),
                 proposed_waivers=proposed, waivers_file="policies/waivers.yaml")


def test_approvers_are_real_approvals_other_than_the_author() -> None:
    ctx = {"author": "dana", "approvals": [{"approver": "lee"}, {"approver": "dana"}, {"approver": ""},
                                           {"approver": 7}, "rita", {"who": "x"}, {"approver": "kim"}]}
    assert _approvers(ctx) == {"lee", "kim"}
    assert _approvers(None) == set() and _approvers({}) == set()
    assert _approvers({"author": "dana", "approvals": None}) == set()
    assert _approvers({"approvals": [{"approver": "lee"}]}) == {"lee"}


def test_admit_counts_only_waivers_their_approver_approved() -> None:
    base = waiver("GOV-1", "lab/a", "boss", 5)
    approved = waiver("GOV-2", "lab/b", "lee", 9)
    unapproved = waiver("GOV-3", "lab/c", "kim", 7)
    by_author = waiver("GOV-4", "lab/d", "dana", 8)
    stale = Diagnostic("policies/waivers.yaml", 1, 1, "govops/waiver-not-approved", "old", severity="warning")
    keep = Diagnostic("govops.yaml", 2, 3, "govops/other", "kept", severity="warning")
    rules = rules_with([base], [(approved, 4), (unapproved, 11), (by_author, 12)], [stale, keep])
    out = rules.admit({"author": "dana", "approvals": [{"approver": "lee"}, {"approver": "dana"}]})
    assert out is rules
    assert rules.waivers == [approved, base]  # newest expiry first
    assert rules.diagnostics[0] is keep and len(rules.diagnostics) == 3
    d = rules.diagnostics[1]
    assert (d.file, d.line, d.col, d.rule, d.severity) == (
        "policies/waivers.yaml", 11, 1, "govops/waiver-not-approved", "warning")
    assert d.message == ("waiver of GOV-3 for lab/c names kim as approver, who has not approved this change; it does "
                         "not count until they approve it (or until it merges)")
    assert rules.diagnostics[2].line == 12 and "names dana as approver" in rules.diagnostics[2].message
    assert rules.base_waivers == [base]  # the base's own are never dropped
    # admitting again (another approval) starts from the base, not from the last answer
    rules.admit({"author": "dana", "approvals": [{"approver": "kim"}]})
    assert rules.waivers == [unapproved, base]
    assert [x.line for x in rules.diagnostics if x.rule == "govops/waiver-not-approved"] == [4, 12]


def test_admit_orders_by_expiry_then_rule_then_model() -> None:
    ws = [waiver("B", "m2", "x", 1), waiver("A", "m9", "x", 1), waiver("B", "m1", "x", 1), waiver("Z", "m", "x", 2)]
    rules = rules_with(ws, []).admit(None)
    assert [(w["rule"], w["model"]) for w in rules.waivers] == [("Z", "m"), ("A", "m9"), ("B", "m1"), ("B", "m2")]


def test_provenance() -> None:
    rules = rules_with([waiver("A", "m", "x", 1)], [])
    assert rules.provenance("rev-1") == {"source": "base", "commit": "b" * 40, "policy_revision": "rev-1",
                                         "waivers": 1}
    rules.commit = None
    rules.waivers = []
    assert rules.provenance(None) == {"source": "worktree", "commit": None, "policy_revision": None, "waivers": 0}


def test_an_answer_of_201_characters_is_shortened() -> None:
    text = "z" * 199  # repr: 201 characters
    with pytest.raises(PolicyError) as caught:
        check_result(text, "w")
    assert str(caught.value).endswith("got " + repr(text)[:197] + "...")
