"""The compact evaluation form, the cached bundle and the prestarted worker decide exactly as before.

The published input contract is unchanged (``govops policy input`` prints full documents,
replayable with ``opa eval -I -d policies/ data.govops.main``); the embedded engine sends
compact inputs with the run-level documents loaded once as ``data.govops_run``. Every
conformance case is evaluated both ways through real regopy and must give identical
decisions.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.policy import inputs as inputs_mod
from engine.policy.backend import get_backend
from engine.policy.check import run_check
from engine.policy.compact import (
    PREVIOUS_MARKER,
    RUN_KEYS,
    compact,
    data_json,
    direct_reads,
    expand,
    run_documents,
)
from engine.policy.errors import PolicyError, PolicyInputError
from engine.policy.inputs import dumps_without_now
from engine.policy.library import load_library
from engine.policy.regopy_backend import RegopyBackend, bundle_cache_path
from engine.spec.settings import Settings
from tests.conftest import PROJECT, copy_example_repo
from tests.policy.test_policy_conformance import _normalise, cases  # noqa: F401 - `cases` is a shared fixture


def _full_decisions(case_list: list[tuple[str, str, set[str]]]) -> list[dict[str, Any]]:
    backend = RegopyBackend()
    backend.load(load_library(PROJECT))
    try:
        return [_normalise(d) for d in backend.evaluate_many([(n, t) for n, t, _ in case_list])]
    finally:
        backend.close()


def _compact_decisions(case_list: list[tuple[str, str, set[str]]]) -> list[dict[str, Any]]:
    """Each case compacted against its own run documents; one backend per distinct run."""
    groups: dict[str, list[int]] = {}
    docs = [json.loads(t) for _, t, _ in case_list]
    for i, doc in enumerate(docs):
        groups.setdefault(json.dumps(run_documents(doc), sort_keys=True), []).append(i)
    out: list[dict[str, Any] | None] = [None] * len(docs)
    for run_json, idx in groups.items():
        run = json.loads(run_json)
        backend = RegopyBackend()
        backend.load(load_library(PROJECT), run)
        try:
            payloads = []
            for i in idx:
                small = compact(docs[i], run)
                assert small is not None
                assert not set(RUN_KEYS) & set(small), "run-level documents must not be in a compact input"
                payloads.append((case_list[i][0], json.dumps(small)))
            for i, decision in zip(idx, backend.evaluate_many(payloads), strict=True):
                out[i] = _normalise(decision)
        finally:
            backend.close()
    return [d for d in out if d is not None]


@pytest.mark.slow
def test_compact_and_full_inputs_decide_identically_on_every_case(cases: list) -> None:  # noqa: F811
    full = _full_decisions(cases)
    small = _compact_decisions(cases)
    assert len(full) == len(small) == len(cases)
    for (name, _, expected), a, b in zip(cases, full, small, strict=True):
        assert a == b, name
        assert {d["rule"] for d in b["deny"]} == expected, name
    # the cases really exercise both forms of `previous` and several run documents
    docs = [json.loads(t) for _, t, _ in cases]
    runs = {json.dumps(run_documents(d), sort_keys=True) for d in docs}
    assert len(runs) >= 2
    marked = [compact(d, run_documents(d)) for d in docs]
    assert any(m is not None and m.get(PREVIOUS_MARKER) is True for m in marked)


def test_previous_marker_only_when_base_equals_head(cases: list) -> None:  # noqa: F811
    doc = json.loads(cases[0][1])
    run = run_documents(doc)
    small = compact(doc, run)
    assert small is not None and small[PREVIOUS_MARKER] is True
    assert "previous" not in small and "previous_checks" not in small
    assert expand(small, run) == doc
    changed = json.loads(cases[0][1])
    changed["previous"] = json.loads(json.dumps(changed["spec"]))
    changed["previous"]["spec"]["tier"] = "was-different"
    small2 = compact(changed, run)
    assert small2 is not None and PREVIOUS_MARKER not in small2
    assert small2["previous"]["spec"]["tier"] == "was-different"
    assert expand(small2, run) == changed
    new_model = dict(doc, previous=None, previous_checks={})
    small3 = compact(new_model, run)
    assert small3 is not None and small3["previous"] is None and PREVIOUS_MARKER not in small3


def test_compact_refuses_a_document_of_another_run(cases: list) -> None:  # noqa: F811
    doc = json.loads(cases[0][1])
    other = run_documents(doc)
    other = {**other, "waivers": [{"rule": "GOV-ART-001", "model": "*", "reason": "r", "approver": "x",
                                   "expires": "2030-01-01T00:00:00+00:00", "expires_ns": 1}]}
    assert compact(doc, other) is None
    assert compact({k: v for k, v in doc.items() if k != "config"}, run_documents(doc)) is None


def test_data_json_writes_exponents_rego_cpp_accepts() -> None:
    text = data_json({"a": 1e-06, "b": [2.5e-07, 1e20, 0.5, -3.0], "c": {"d": 7, "e": None, "f": True, "g": "1e-06"}})
    assert "1e-06" not in text.replace('"1e-06"', "")
    assert json.loads(text) == {"a": 1e-06, "b": [2.5e-07, 1e20, 0.5, -3.0],
                                "c": {"d": 7, "e": None, "f": True, "g": "1e-06"}}
    with pytest.raises(ValueError):
        data_json({"x": float("nan")})


def test_run_data_with_small_floats_is_read_back_exactly(cases: list) -> None:  # noqa: F811
    """govops.yaml's high tier has serving_parity.max_abs_diff: 1e-06, which rego-cpp's data parser rejected."""
    doc = json.loads(cases[0][1])
    run = run_documents(doc)
    assert run["config"]["tiers"]["high"]["defaults"]["serving_parity"]["max_abs_diff"] == 1e-06
    high = next(json.loads(t) for n, t, _ in cases if n == "recheck clinical/readmission-triage")
    high["checks"]["serving_parity"]["max_abs_diff"] = 2e-06  # weaker than the default, introduced
    high["previous_checks"] = {}
    backend = RegopyBackend()
    backend.load(load_library(PROJECT), run)
    try:
        small = compact(high, run)
        assert small is not None
        (decision,) = backend.evaluate_many([("high", json.dumps(small))])
    finally:
        backend.close()
    hits = [d for d in decision["deny"] if d["rule"] == "GOV-THR-001"]
    assert [d["path"] for d in hits] == ["spec.validation.checks.serving_parity.thresholds.max_abs_diff"]
    assert "1e-06" in hits[0]["message"]


def test_bundle_is_cached_on_disk_and_reused(tmp_path: Path, cases: list) -> None:  # noqa: F811
    repo = copy_example_repo(tmp_path / "repo", git=False)
    library = load_library(repo)
    run = run_documents(json.loads(cases[0][1]))
    path = bundle_cache_path(library, data_json({"govops_run": run}))
    assert not path.exists()
    payload = [("m", json.dumps(compact(json.loads(cases[0][1]), run)))]
    first = RegopyBackend(bundle_cache=True)
    first.load(library, run)
    try:
        want = first.evaluate_many(payload)
    finally:
        first.close()
    assert path.is_file() and path.stat().st_size > 0
    stamp = path.stat().st_mtime_ns
    second = RegopyBackend(bundle_cache=True)
    second.load(library, run)
    try:
        assert second.evaluate_many(payload) == want
    finally:
        second.close()
    assert path.stat().st_mtime_ns == stamp, "a cached bundle is loaded, not rebuilt"
    # another policy is another bundle
    (repo / "policies/artifacts.rego").write_text((repo / "policies/artifacts.rego").read_text() + "\n# edit\n")
    assert bundle_cache_path(load_library(repo), data_json({"govops_run": run})) != path


def test_corrupt_cached_bundle_is_rebuilt(tmp_path: Path, cases: list) -> None:  # noqa: F811
    repo = copy_example_repo(tmp_path / "repo", git=False)
    library = load_library(repo)
    run = run_documents(json.loads(cases[0][1]))
    path = bundle_cache_path(library, data_json({"govops_run": run}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RBB\x00not a bundle" * 40)
    payload = [("m", json.dumps(compact(json.loads(cases[0][1]), run)))]
    backend = RegopyBackend(bundle_cache=True)
    backend.load(library, run)
    try:
        (decision,) = backend.evaluate_many(payload)
    finally:
        backend.close()
    assert decision == {"deny": [], "warn": []}
    assert path.is_file() and b"not a bundle" not in path.read_bytes()


def test_compile_error_surfaces_from_a_prestarted_backend(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    path = repo / "policies/artifacts.rego"
    lines = path.read_text().splitlines()
    lines.insert(12, "broken if {\n\tinput.a ==\n}")
    path.write_text("\n".join(lines) + "\n")
    backend = RegopyBackend()
    backend.load(load_library(repo), {"config": {}, "freezes": [], "waivers": []}, wait=False)
    try:
        with pytest.raises(PolicyError) as err:
            backend.evaluate_many([("m", "{}")])
    finally:
        backend.close()
    assert err.value.file == "policies/artifacts.rego" and err.value.line == 14
    assert "does not compile" in err.value.message


@pytest.mark.slow
def test_run_check_sends_compact_inputs_and_records_the_policy_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=True)
    settings = Settings(now="2026-11-01T00:00:00+00:00", policy_cache=False)
    seen: list[str] = []
    original = RegopyBackend.evaluate_many

    def spy(self: RegopyBackend, items: Any) -> Any:
        seen.extend(text for _, text in items)
        return original(self, items)

    monkeypatch.setattr(RegopyBackend, "evaluate_many", spy)
    out = run_check(repo, all_models=True, settings=settings)
    assert len(seen) == 6
    for text in seen:
        doc = json.loads(text)
        assert not set(RUN_KEYS) & set(doc) and doc[PREVIOUS_MARKER] is True
        assert doc["now_ns"] == 1793491200000000000
    # the published inputs are still full documents
    named = run_check(repo, models=["lab/iris-species"], settings=settings)
    assert len(named.inputs) == 1
    assert all(set(RUN_KEYS) <= set(d["input"]) and "previous" in d["input"] for d in named.inputs)
    rev = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%H", "--", "policies"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert rev and {d["revision"] for d in out.decisions} == {rev}
    assert {d["backend"] for d in out.decisions} == {"regopy"}


def test_opa_backend_still_receives_full_inputs() -> None:
    backend = get_backend("opa", Settings(opa_url="http://127.0.0.1:9"))
    assert backend.accepts_compact is False


def test_nanosecond_times_do_not_trigger_the_integer_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = inputs_mod._check_ints
    def counting(body: Any, head: Any) -> None:
        calls.append(1)
        real(body, head)

    monkeypatch.setattr(inputs_mod, "_check_ints", counting)
    dumps_without_now({"freezes": [{"start_ns": 1798070400000000000, "end_ns": 9223372036854775807}]})
    assert calls == []
    with pytest.raises(PolicyInputError, match="beyond 64 bits"):
        dumps_without_now({"spec": {"x": 9223372036854775808}})
    assert calls == [1]


def test_rules_read_run_documents_only_through_lib() -> None:
    """A rule reading input.config (etc.) directly would see nothing in a compact input."""
    assert direct_reads(load_library(PROJECT).modules) == []


def test_run_data_reads_back_as_the_same_input_would() -> None:
    """Run data holds the values the input held (regopy's Input(), by contrast, rounds 1e-07 to 0)."""
    from regopy import Interpreter

    value = {"a": 1e-07, "b": 0.12345678912345678, "c": 1e20, "d": 1798070400000000000, "e": 2**63 - 1, "f": 0.05}
    interp = Interpreter()
    interp.add_module("t.rego", "package t\nimport rego.v1\nx := data.r\ny := input\nsame if x == y\n")
    interp.add_data_json(data_json({"r": value}))
    bundle = interp.build(None, ["t/x", "t/same"])
    assert bundle.ok()
    interp.set_input_term(json.dumps(value))
    got = interp.query_bundle_entrypoint(bundle, "t/x")
    same = interp.query_bundle_entrypoint(bundle, "t/same")
    assert got.ok() and same.ok()
    assert json.loads(str(same))["expressions"][0] is True
    read = json.loads(str(got))["expressions"][0]
    assert read["a"] == 1e-07 and read["d"] == 1798070400000000000 and read["e"] == 2**63 - 1 and read["f"] == 0.05
