"""Tests that kill mutants of the check results' judgement (issue 22, ``make mutate``).

``engine.spec.check_result`` judges a value against a threshold and decides whether a result
document passes; ``engine.report.handover`` reads the results another job handed over as
untrusted data. Each malformed or contradictory document must become an ``error`` result whose
message says exactly what was wrong, and each judgement is checked against the rule written out
in the test (``min_*``: value >= threshold, ``max_*``: value <= threshold).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.report.handover import MAX_RESULT_BYTES, read_one, read_results, result_file, workflow_edits
from engine.spec.check_result import (
    CheckResult,
    Metric,
    describe,
    document_passes,
    failed,
    judge,
    not_applicable,
    status_of,
    unjudged,
)
from engine.validation.dag import ValidationTask

# --- judge / not_applicable / describe --------------------------------------------------------------


def test_judge_min_and_max_thresholds_including_the_boundary() -> None:
    assert judge("min_accuracy", 0.9, 0.9) == Metric("accuracy", 0.9, 0.9, ">=", True)
    assert judge("min_accuracy", 0.89, 0.9).passed is False
    assert judge("max_psi", 0.2, 0.2) == Metric("psi", 0.2, 0.2, "<=", True)
    assert judge("max_psi", 0.21, 0.2).passed is False
    assert judge("max_psi", 0.1, 0.2).passed is True


def test_judge_keeps_metric_scope_gate_and_note() -> None:
    m = judge("min_accuracy", 0.5, 0.9, metric="acc", scope="slice:a", gate=False, note="n")
    assert m == Metric("acc", 0.5, 0.9, ">=", False, "slice:a", False, "n")
    assert isinstance(m.value, float) and isinstance(m.threshold, float) and type(m.passed) is bool
    int_judged = judge("min_rows", 5, 3)
    assert int_judged.value == 5.0 and type(int_judged.value) is float and int_judged.threshold == 3.0


def test_judge_without_a_threshold_judges_nothing() -> None:
    assert judge("min_accuracy", 0.5, None, scope="s", gate=False, note="n") == Metric(
        "accuracy", 0.5, None, None, None, "s", False, "n")
    assert judge("max_psi", float("inf"), None) == Metric("psi", None, None, None, None)


def test_judge_fails_closed_with_the_reason_in_the_note() -> None:
    assert judge("min_roc_auc", None, 0.8) == Metric(
        "roc_auc", None, 0.8, ">=", False, "overall", True, "could not be computed: the check produced no value")
    assert judge("min_roc_auc", None, 0.8, why="one class").note == "could not be computed: one class"
    assert judge("min_roc_auc", None, 0.8, why="one class", note="slice a").note == (
        "could not be computed: one class; slice a")
    nan = judge("max_psi", float("nan"), 0.2)
    assert nan.value is None and nan.passed is False
    assert nan.note == "could not be computed: the value is not a finite number (nan)"
    assert judge("max_psi", float("-inf"), 0.2, why="given").note == "could not be computed: given"


def test_not_applicable_is_reported_and_never_gates() -> None:
    assert not_applicable("min_r2", 0.5, "a classifier") == Metric(
        "r2", None, 0.5, ">=", None, "overall", False, "not applicable: a classifier", False)
    assert not_applicable("max_rmse", 2, "x", scope="s") == Metric(
        "rmse", None, 2.0, "<=", None, "s", False, "not applicable: x", False)


def test_status_and_failed_fail_closed_on_unjudged_gates() -> None:
    ok = Metric("a", 1.0, 0.5, ">=", True)
    bad = Metric("b", 0.1, 0.5, ">=", False)
    open_gate = Metric("c", None, 0.5, ">=", None)
    evidence = Metric("d", 0.1, 0.5, ">=", False, gate=False)
    inapplicable = Metric("e", None, 0.5, ">=", None, gate=True, applicable=False)
    no_threshold = Metric("f", 1.0)
    assert unjudged(open_gate) and not unjudged(inapplicable) and not unjudged(no_threshold)
    assert not unjudged(Metric("g", None, 0.5, ">=", None, gate=False))
    assert failed([ok, bad, open_gate, evidence, inapplicable, no_threshold]) == [bad, open_gate]
    assert status_of([ok, evidence, inapplicable, no_threshold]) == "pass"
    assert status_of([ok, open_gate]) == "fail"
    assert status_of([]) == "pass"


def test_describe() -> None:
    assert describe(Metric("acc", 0.912345)) == "acc=0.9123"
    assert describe(Metric("acc", None, scope="s")) == "acc [s]=n/a"
    assert describe(Metric("acc", 0.5, 0.9, ">=", False)) == "acc=0.5 (needs >= 0.9)"
    assert describe(Metric("auc", None, 0.8, ">=", False, note="could not be computed: x")) == (
        "auc could not be computed: x (needs >= 0.8)")
    assert describe(Metric("r2", None, 0.5, ">=", None, gate=False, note="not applicable: c", applicable=False)) == (
        "r2=n/a (needs >= 0.5)")
    assert describe(Metric("auc", None, 0.8, ">=", False, scope="slice")) == "auc [slice]=n/a (needs >= 0.8)"


def test_to_json_writes_nan_and_numpy_scalars_as_json() -> None:
    np = pytest.importorskip("numpy")
    r = CheckResult("performance", "lab/iris", "1.0.0", "pass", "ok",
                    metrics=[Metric("acc", float("nan"))], details={"n": np.int64(3), "t": (1.5, float("inf")),
                                                                    1: {"x": np.float64(0.25)}})
    doc = r.to_json()
    assert doc["metrics"][0]["value"] is None
    assert doc["details"] == {"n": 3, "t": [1.5, None], "1": {"x": 0.25}}
    assert type(doc["details"]["n"]) is int
    assert doc["kind"] == "govops/check-result/v1"


def test_write_is_atomic_json(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "r.json"
    result = CheckResult("performance", "lab/iris", "1.0.0", "fail", "bad", details={"z": 1, "a": 2})
    result.write(path)
    # the document as json.dumps writes it: two-space indent, fields in their declared order
    assert path.read_text() == json.dumps(result.to_json(), indent=2) + "\n"
    assert list(json.loads(path.read_text())["details"]) == ["z", "a"]
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary file left
    CheckResult("performance", "lab/iris", "1.0.0", "pass", "ok").write(path)  # the folder exists now
    assert json.loads(path.read_text())["status"] == "pass"


# --- document_passes ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("doc", "passes"), [
    (None, False),
    ({}, False),
    ({"status": "fail", "metrics": []}, False),
    ({"status": "pass"}, True),
    ({"status": "pass", "metrics": None}, True),
    ({"status": "pass", "metrics": [{"passed": True, "threshold": 1}]}, True),
    ({"status": "pass", "metrics": [{"passed": False}]}, False),
    ({"status": "pass", "metrics": [{"passed": False, "gate": False}]}, True),
    ({"status": "pass", "metrics": [{"passed": None, "threshold": 0.5}]}, False),
    ({"status": "pass", "metrics": [{"threshold": 0.5}]}, False),
    ({"status": "pass", "metrics": [{"passed": None, "threshold": 0.5, "applicable": False}]}, True),
    ({"status": "pass", "metrics": [{"passed": None, "threshold": 0.5, "applicable": 0}]}, False),
    ({"status": "pass", "metrics": [{"passed": None, "threshold": 0.5, "gate": False}]}, True),
    ({"status": "pass", "metrics": [{"passed": None, "threshold": None}]}, True),
    ({"status": "pass", "metrics": ["junk", {"passed": True}]}, True),
    ({"status": "pass", "metrics": ["junk", {"passed": False}]}, False),
    ({"status": "pass", "metrics": [{"passed": True}, {"passed": False}]}, False),
])
def test_document_passes(doc: dict | None, passes: bool) -> None:
    assert document_passes(doc) is passes


# --- the hand-over ------------------------------------------------------------------------------------

TASK = ValidationTask("lab/iris", "performance", "specs/lab/iris.yaml", "1.1.0", "1.0.0",
                      thresholds={"min_accuracy": 0.9})
REL = "lab/iris/performance.json"


def good(**changes: object) -> dict:
    doc = {"check": "performance", "model": "lab/iris", "version": "1.1.0", "champion": "1.0.0",
           "status": "pass", "summary": "ok", "thresholds": {"min_accuracy": 0.9},
           "metrics": [{"name": "accuracy", "value": 0.95, "threshold": 0.9, "passed": True}],
           "url": "https://evil.example/", "inputs": []}
    doc.update(changes)
    return doc


def write(tmp_path: Path, doc: object, raw: bytes | None = None) -> Path:
    path = tmp_path / "lab" / "iris" / "performance.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw if raw is not None else json.dumps(doc).encode())
    return path


def error_of(tmp_path: Path, task: ValidationTask = TASK) -> str:
    out = read_one(tmp_path, task)
    assert out["status"] == "error" and out["metrics"] == [] and out["inputs"] == []
    assert out["model"] == task.model and out["check"] == task.check and out["version"] == task.version
    assert out["champion"] == task.champion and out["thresholds"] == task.thresholds
    assert out["summary"] == f"{task.check}: {out['error']}"
    return str(out["error"])


def test_result_file_layout(tmp_path: Path) -> None:
    assert result_file(tmp_path, TASK) == tmp_path / "lab" / "iris" / "performance.json"
    deep = ValidationTask("lab/iris/x", "bias", "s", "1", None)
    assert result_file(tmp_path, deep) == tmp_path / "lab" / "iris/x" / "bias.json"


def test_a_good_result_is_kept_without_its_link(tmp_path: Path) -> None:
    write(tmp_path, good())
    out = read_one(tmp_path, TASK)
    assert out == {k: v for k, v in good().items() if k != "url"}


def test_a_missing_result(tmp_path: Path) -> None:
    assert error_of(tmp_path) == f"the validation job handed over no result ({REL})"


def test_a_result_that_is_not_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(good()))
    path = tmp_path / "lab" / "iris" / "performance.json"
    path.parent.mkdir(parents=True)
    os.symlink(target, path)
    assert error_of(tmp_path) == f"the validation job's result {REL} is not a regular file"


def test_a_result_over_the_size_cap(tmp_path: Path) -> None:
    assert MAX_RESULT_BYTES == 4 * 1024 * 1024
    doc = good(summary="x" * (MAX_RESULT_BYTES - len(json.dumps(good(summary=""))) + 1))
    raw = json.dumps(doc).encode()
    assert len(raw) == MAX_RESULT_BYTES + 1
    write(tmp_path, None, raw)
    assert error_of(tmp_path) == f"the validation job's result {REL} is larger than {MAX_RESULT_BYTES} bytes"
    at_cap = good(summary="x" * (MAX_RESULT_BYTES - len(json.dumps(good(summary="")))))
    write(tmp_path, at_cap)
    assert read_one(tmp_path, TASK)["status"] == "pass"


@pytest.mark.parametrize("raw", [b'{"a": 1, "a": 2}', b'{"a": NaN}', b'{"a": 1} trailing', b"\xff"])
def test_a_result_that_is_not_clean_json(tmp_path: Path, raw: bytes) -> None:
    write(tmp_path, None, raw)
    assert error_of(tmp_path).startswith(f"the validation job's result {REL} is not readable JSON: ")


def test_a_result_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    write(tmp_path, None, b'{"a": "\xff"}')
    assert error_of(tmp_path).startswith(f"the validation job's result {REL} is not readable JSON: not UTF-8 (")


def test_a_deeply_nested_result_is_refused_not_crashed(tmp_path: Path) -> None:
    write(tmp_path, None, b"[" * 100_000 + b"]" * 100_000)
    assert error_of(tmp_path).startswith(f"the validation job's result {REL} is not readable JSON: ")


def test_a_result_that_is_not_an_object(tmp_path: Path) -> None:
    write(tmp_path, [good()])
    assert error_of(tmp_path) == f"the validation job's result {REL} is not a JSON object"


@pytest.mark.parametrize(("field", "value"), [
    ("model", "lab/other"), ("check", "drift"), ("version", "1.0.0"), ("champion", None),
])
def test_a_result_about_something_else(tmp_path: Path, field: str, value: object) -> None:
    write(tmp_path, good(**{field: value}))
    assert error_of(tmp_path) == f"the validation job's result {REL} is about something else ({field}={value!r})"


def test_a_result_about_something_else_names_every_wrong_field(tmp_path: Path) -> None:
    write(tmp_path, good(model="x/y", version="9"))
    assert error_of(tmp_path) == (f"the validation job's result {REL} is about something else "
                                  "(model='x/y', version='9')")


def test_a_result_without_thresholds(tmp_path: Path) -> None:
    write(tmp_path, good(thresholds=[0.9]))
    assert error_of(tmp_path) == f"the validation job's result {REL} does not say which thresholds it judged against"


@pytest.mark.parametrize("judged", [{"min_accuracy": 0.8}, {}, {"min_accuracy": True}, {"min_accuracy": "0.9"}])
def test_a_result_judged_against_other_thresholds(tmp_path: Path, judged: dict) -> None:
    write(tmp_path, good(thresholds=judged))
    assert error_of(tmp_path) == (f"the validation job judged {REL} against other thresholds: "
                                  f"min_accuracy={judged.get('min_accuracy')!r} (expected 0.9)")


def test_thresholds_compare_as_numbers(tmp_path: Path) -> None:
    task = ValidationTask("lab/iris", "performance", "s", "1.1.0", "1.0.0",
                          thresholds={"min_accuracy": 0.9, "min_rows": 10, "flag": True})
    write(tmp_path, good(thresholds={"min_accuracy": 0.9 + 1e-14, "min_rows": 10.0, "flag": True, "extra": 1}))
    assert read_one(tmp_path, task)["status"] == "pass"
    write(tmp_path, good(thresholds={"min_accuracy": 0.9 + 1e-10, "min_rows": 10, "flag": True}))
    assert "against other thresholds: min_accuracy=" in error_of(tmp_path, task)  # beyond 1e-12 relative
    bool_task = ValidationTask("lab/iris", "performance", "s", "1.1.0", "1.0.0", thresholds={"min_x": 1.0 + 1e-13})
    write(tmp_path, good(thresholds={"min_x": True}))
    assert error_of(tmp_path, bool_task).endswith("min_x=True (expected 1.0000000000001)")  # a bool is no number
    write(tmp_path, good(thresholds={"min_accuracy": 0.9, "min_rows": 10, "flag": "True"}))
    assert error_of(tmp_path, task).endswith("flag='True' (expected True)")


def test_threshold_differences_show_at_most_three(tmp_path: Path) -> None:
    thresholds = {f"min_{c}": 0.5 for c in "abcd"}
    task = ValidationTask("lab/iris", "performance", "s", "1.1.0", "1.0.0", thresholds=thresholds)
    write(tmp_path, good(thresholds={}))
    assert error_of(tmp_path, task) == (
        f"the validation job judged {REL} against other thresholds: min_a=None (expected 0.5), "
        "min_b=None (expected 0.5), min_c=None (expected 0.5)")


@pytest.mark.parametrize("changes", [{"status": "ok"}, {"status": None}, {"summary": 3}])
def test_a_result_without_a_valid_status(tmp_path: Path, changes: dict) -> None:
    write(tmp_path, good(**changes))
    assert error_of(tmp_path) == f"the validation job's result {REL} has no valid status"


def test_a_result_with_malformed_metrics(tmp_path: Path) -> None:
    write(tmp_path, good(metrics={"accuracy": 1}))
    assert error_of(tmp_path) == f"the validation job's result {REL} has malformed metrics"


def test_a_pass_its_own_metrics_contradict(tmp_path: Path) -> None:
    metrics = [{"name": "accuracy", "value": 0.95, "threshold": 0.9, "passed": True},
               {"name": "f1", "value": 0.1, "threshold": 0.5, "passed": False}]
    write(tmp_path, good(metrics=metrics))
    assert error_of(tmp_path) == (f"the validation job's result {REL} says pass, but its own gating metrics "
                                  "do not")


@pytest.mark.parametrize("metrics", [
    [], [{"name": "accuracy", "value": 0.95, "threshold": None, "passed": True}],
    [{"name": "accuracy", "value": 0.95, "threshold": 0.9, "passed": None, "applicable": False}],
    ["junk"],
])
def test_a_pass_without_one_judged_metric(tmp_path: Path, metrics: list) -> None:
    write(tmp_path, good(metrics=metrics))
    assert error_of(tmp_path) == (f"the validation job's result {REL} says pass without one metric judged "
                                  "against a threshold")


def test_a_pass_without_thresholds_needs_no_judged_metric(tmp_path: Path) -> None:
    task = ValidationTask("lab/iris", "performance", "s", "1.1.0", "1.0.0")
    write(tmp_path, good(metrics=[], thresholds={}))
    assert read_one(tmp_path, task)["status"] == "pass"


def test_fail_and_error_results_are_kept_as_they_say(tmp_path: Path) -> None:
    for status in ("fail", "error"):
        write(tmp_path, good(status=status, metrics=[]))
        assert read_one(tmp_path, TASK)["status"] == status


def test_workflow_edits_are_the_changed_files_under_github() -> None:
    changed = ["specs/a.yaml", ".github/workflows/x.yml", ".GitHub/CODEOWNERS", "docs/.github", ".githubx/y"]
    assert workflow_edits(changed) == [".GitHub/CODEOWNERS", ".github/workflows/x.yml"]


def test_read_results_in_task_order(tmp_path: Path) -> None:
    write(tmp_path, good())
    other = ValidationTask("lab/iris", "drift", "s", "1.1.0", "1.0.0")
    out = read_results(tmp_path, [other, TASK], changed_files=["specs/lab/iris.yaml"])
    assert [r["check"] for r in out] == ["drift", "performance"]
    assert [r["status"] for r in out] == ["error", "pass"]


def test_read_results_trusts_nothing_when_the_change_edits_github(tmp_path: Path) -> None:
    write(tmp_path, good())
    edits = [f".github/workflows/w{i}.yml" for i in range(5)]
    out = read_results(tmp_path, [TASK], changed_files=["specs/a.yaml", *edits])
    assert [r["status"] for r in out] == ["error"]
    assert out[0]["error"] == (
        "results not trusted: this change edits .github/workflows/w0.yml, .github/workflows/w1.yml, "
        ".github/workflows/w2.yml (+2 more), so the validation run used the PR's own workflow; a code owner must "
        "review the workflow change (GOV-META-001), which belongs in a PR of its own")
    three = read_results(tmp_path, [TASK], changed_files=edits[:3])
    assert "w2.yml, so the validation run" in three[0]["error"]
    four = read_results(tmp_path, [TASK], changed_files=edits[:4])
    assert "w2.yml (+1 more), so the validation run" in four[0]["error"]
    assert read_results(tmp_path, [], changed_files=edits) == []


def test_the_generated_schema_is_the_committed_one() -> None:
    from engine.spec.check_result import SCHEMA_FILE, SCHEMA_ID, json_schema

    schema = json_schema()
    assert schema == json.loads(SCHEMA_FILE.read_text())
    assert schema["$id"] == SCHEMA_ID == "https://govops.dev/schemas/check-result.schema.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "required" in schema and "status" in schema["required"]


def test_a_boolean_is_not_the_number_it_equals_in_python() -> None:
    """A result handing over `true` for the threshold 1 (or `false` for 0) does not match it."""
    from engine.report.handover import _same

    assert not _same(True, 1) and not _same(1.0, True) and not _same(False, 0)
    assert _same(True, True) and _same(1, 1.0)
