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


# --- survivors of the second `make mutate` run -------------------------------------------------------


def test_only_the_long_float_is_named_where_short_ones_come_first() -> None:
    # 0.5 (1 digit) and 123456789012345.6 (16 digits: kept exactly) precede the 17-digit number
    doc = '{"a": 0.5, "b": 123456789012345.6, "c": [0.30000000000000004]}'
    assert inexact_number(doc) == ("c[0]", 0.30000000000000004)


def test_the_unicode_refusal_names_a_key_as_written() -> None:
    with pytest.raises(MalformedOutput) as caught:
        loads_strict('{"X": "\\ud800"}')
    assert str(caught.value) == "a string that is not valid Unicode at X"
    with pytest.raises(MalformedOutput) as caught:
        loads_strict('{"XY": {"X.": ["\\ud800"]}}')
    assert str(caught.value) == "a string that is not valid Unicode at XY.X.[0]"


def test_the_opa_backend_gets_the_configured_timeout_and_retries() -> None:
    backend = get_backend("opa", Settings(opa_url="http://127.0.0.1:8181", opa_timeout_s=7.5, opa_retries=5))
    assert (backend.url, backend.timeout_s, backend.retries) == (  # type: ignore[attr-defined]
        "http://127.0.0.1:8181", 7.5, 5)
    with pytest.raises(UsageError) as caught:
        get_backend("opa", Settings())
    assert str(caught.value) == "the opa backend needs GOVOPS_OPA_URL (e.g. http://127.0.0.1:8181)"


def test_the_lone_surrogate_refusal_says_exactly_why() -> None:
    with pytest.raises(ValueError) as caught:
        ri.build_input(FakeRego(), ["\ud800"])
    assert str(caught.value) == "the policy input holds a string that is not valid Unicode"


def test_set_input_hands_the_built_input_to_the_interpreter_and_frees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from regopy import rego_shared as rs

    rego = FakeRego()
    handed: list[tuple] = []
    monkeypatch.setattr(rs, "rego", rego)
    monkeypatch.setattr(rs, "rego_set_input", lambda impl, handle: handed.append((impl, handle)))
    interp = FakeInterp()
    assert ri.set_input(interp, '{"a": [1, "x"]}') is True
    assert handed == [(interp._impl, 42)] and rego.freed == [42] and interp.terms == []
    assert rego.calls == [("String", 42, b"a"), ("Int", 42, 1), ("String", 42, b"x"), ("Array", 42, 2),
                          ("ObjectItem", 42), ("Object", 42, 1)]


def test_a_path_outside_the_govops_root_is_not_inside(tmp_path: Path) -> None:
    from engine.policy.judge import _TreeReader

    (tmp_path / "gov").mkdir()
    (tmp_path / "govx").mkdir()
    reader = _TreeReader(None, tmp_path.resolve(), tmp_path / "gov")
    assert reader.prefix == "gov/"
    assert reader.inside(tmp_path / "gov" / "govops.yaml") == "govops.yaml"
    assert reader.inside(tmp_path / "govx" / "govops.yaml") is None  # beside the root, not under it
    assert reader.inside(tmp_path / "other.yaml") is None
    assert reader.inside(tmp_path.parent / "elsewhere.yaml") is None  # outside the repository
    top = _TreeReader(None, tmp_path.resolve(), tmp_path)
    assert top.prefix == "" and top.inside(tmp_path / "a" / "b.yaml") == "a/b.yaml"


# --- judge.py: the working tree's rules, the base's config ------------------------------------------

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from engine.change.plumbing import GitReadError  # noqa: E402
from engine.policy.judge import _read_file, config_for_change, rules_of_tree  # noqa: E402
from engine.spec.errors import ConfigError  # noqa: E402
from tests.helpers.pr_helpers import PROJECT, example_repo  # noqa: E402

_LOW_CHECKS = "requiredChecks: [performance, data_quality]"
_WAIVER = ("waivers:\n  - rule: GOV-THR-001\n    model: lab/iris-species\n    reason: r\n"
           "    approver: rita.risk\n    expires: 2099-01-01T00:00:00+00:00\n")


def _tree(tmp_path: Path, policy_dir: str = "policies") -> Path:
    root = tmp_path / "r"
    shutil.copytree(PROJECT / "policies", root / policy_dir)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    (root / policy_dir / "waivers.yaml").write_text(_WAIVER)
    return root


def test_rules_of_tree_reads_the_given_config_the_library_and_its_waivers(tmp_path: Path) -> None:
    root = _tree(tmp_path, "rules")
    other = tmp_path / "other.yaml"  # an operator's config, with a typo lint reports
    other.write_text((PROJECT / "govops.yaml").read_text().replace(_LOW_CHECKS, _LOW_CHECKS[:-1] + ", perfomance]"))
    rules = rules_of_tree(root, "rules", other)
    assert rules.config_file == str(other) and rules.commit is None
    assert [d.rule for d in rules.diagnostics] == ["config/unknown-check"]
    assert rules.diagnostics[0].file == str(other)
    assert rules.library.directory == "rules" and rules.library.tests == {}  # no *_test.rego unless asked
    assert "main.rego" in rules.library.modules and "approvals_test.rego" not in rules.library.modules
    assert [w["rule"] for w in rules.waivers] == ["GOV-THR-001"] and rules.base_waivers == rules.waivers
    assert rules.waivers_file == "" and rules.proposed_waivers == []
    assert set(rules.packs) == {p.stem for p in (PROJECT / "policies" / "packs").glob("*.yaml")}
    with_tests = rules_of_tree(root, "rules", with_tests=True)
    assert "approvals_test.rego" in with_tests.library.tests and with_tests.diagnostics == []
    assert with_tests.config_file == "govops.yaml"
    # a broken waivers file is named under the directory it was read from
    (root / "rules" / "waivers.yaml").write_text("waivers: {}\n")
    with pytest.raises(PolicyError) as caught:
        rules_of_tree(root, "rules")
    assert caught.value.file == "rules/waivers.yaml"


def test_rules_of_tree_refuses_an_invalid_config(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "govops.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError) as caught:
        rules_of_tree(root, "policies")
    assert caught.value.message == "govops.yaml is invalid; run `govops lint` and fix it first"
    assert caught.value.file == "govops.yaml"


def test_config_for_change_is_the_bases_config(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "gitops")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace("govops.yaml", "risk: [rita.risk, omar.compliance]", "risk: [dana.ds]")
    repo.commit("the author makes themself the risk group")
    assert config_for_change(repo.path, "main").groups["risk"] == ["rita.risk", "omar.compliance"]
    assert config_for_change(repo.path, "feature").groups["risk"] == ["dana.ds"]
    # an operator's config outside the repository is used as given
    outside = tmp_path / "operator.yaml"
    outside.write_text(repo.read("govops.yaml").replace("risk: [dana.ds]", "risk: [olga.ops]"))
    assert config_for_change(repo.path, "main", outside).groups["risk"] == ["olga.ops"]
    with pytest.raises(GitReadError) as caught:
        config_for_change(repo.path, "no-such-branch")
    assert str(caught.value) == ("base ref 'no-such-branch' does not exist in this repository "
                                 "(not a branch, tag or commit)")


def test_config_for_change_without_a_config_at_the_base_uses_the_trees(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "gitops")
    repo.git("checkout", "-q", "-b", "adopt")
    repo.git("checkout", "-q", "main")
    repo.git("rm", "-q", "govops.yaml")
    repo.commit("main without govops")
    repo.git("checkout", "-q", "adopt")
    assert config_for_change(repo.path, "main").groups["risk"] == ["rita.risk", "omar.compliance"]


def test_read_file_reads_a_regular_file_only(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"\x00bytes")
    assert _read_file(tmp_path / "f") == b"\x00bytes"
    assert _read_file(tmp_path / "missing") is None and _read_file(tmp_path) is None


def test_config_for_change_of_a_govops_root_inside_a_larger_repository(tmp_path: Path) -> None:
    from tests.helpers.pr_helpers import GitRepo

    mono = tmp_path / "mono"
    (mono / "gov").mkdir(parents=True)
    repo = GitRepo(mono)
    repo.git("init", "-q", "-b", "main")
    shutil.copy(PROJECT / "govops.yaml", mono / "gov" / "govops.yaml")
    repo.commit("govops under gov/")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace("gov/govops.yaml", "risk: [rita.risk, omar.compliance]", "risk: [dana.ds]")
    repo.commit("the author makes themself the risk group")
    assert config_for_change(mono / "gov", "main").groups["risk"] == ["rita.risk", "omar.compliance"]


def test_read_file_never_reads_a_device() -> None:
    assert _read_file(Path("/dev/null")) is None  # not a regular file (reading it would give b"")


def test_the_regopy_backend_gets_the_configured_timeout_jobs_and_bundle_cache() -> None:
    backend = get_backend("regopy", Settings(policy_timeout_s=3.5, policy_jobs=3, policy_cache=True,
                                             policy_bundle_cache=True))
    assert (backend.timeout_s, backend.jobs, backend.bundle_cache) == (3.5, 3, True)  # type: ignore[attr-defined]
    # the bundle cache is one of the caches: off when caching is off, whatever it says itself
    off = get_backend("regopy", Settings(policy_cache=False, policy_bundle_cache=True))
    assert off.bundle_cache is False  # type: ignore[attr-defined]
    on_alone = get_backend("regopy", Settings(policy_cache=True, policy_bundle_cache=False))
    assert on_alone.bundle_cache is False  # type: ignore[attr-defined]


def test_sign_and_exponent_are_not_significant_digits() -> None:
    # three numbers with exactly 16 significant digits (kept exactly), then one with 17
    doc = ('{"a": -123456789012345.6, "b": 1.234567890123456e-05, "c": -1.234567890123456E+20, '
           '"d": -0.30000000000000004}')
    assert inexact_number(doc) == ("d", -0.30000000000000004)
    assert inexact_number('{"a": -123456789012345.6}') is None


def test_tree_reader_lists_regular_files_under_a_directory_at_a_commit(tmp_path: Path) -> None:
    import os

    from engine.change.gitread import open_repo
    from engine.policy.judge import _TreeReader
    from tests.helpers.pr_helpers import GitRepo

    repo = GitRepo(tmp_path / "r")
    (repo.path / "policies" / "sub").mkdir(parents=True)
    repo.write("policies/a.rego", "package a\n")
    repo.write("policies/sub/b.rego", "package b\n")
    repo.write("policies/t\tx.rego", "package t\n")  # a tab in a name
    (repo.path / "policies").joinpath(os.fsdecode(b"\xff.rego")).write_text("package f\n")  # not UTF-8
    os.symlink("a.rego", repo.path / "policies" / "0link.rego")  # not a regular file
    repo.write("other/c.rego", "package c\n")
    repo.write("XpolX/d.rego", "package d\n")  # a directory name that begins and ends with X
    repo.git("init", "-q", "-b", "main")
    sha = repo.commit("policies")
    with open_repo(repo.path) as r:
        found = _TreeReader(r, repo.path.resolve(), repo.path).files(sha, "/policies/")
    assert sorted(found) == sorted(["a.rego", "sub/b.rego", "t\tx.rego", os.fsdecode(b"\xff.rego")])
    assert found["a.rego"] == repo.git("rev-parse", f"{sha}:policies/a.rego")
    with open_repo(repo.path) as r:
        assert list(_TreeReader(r, repo.path.resolve(), repo.path).files(sha, "XpolX")) == ["d.rego"]
