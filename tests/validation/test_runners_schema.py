"""The result format: committed JSON Schema in sync with the code; each catalog check registered with its thresholds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from sklearn.linear_model import LogisticRegression

from engine.spec.catalog_of_checks import CHECK_THRESHOLDS, THRESHOLD_CLASSES
from engine.spec.check_result import SCHEMA_FILE, json_schema
from runners import get, names
from runners.runner import run_check
from tests.helpers.runner_helpers import FEATURES, classification_data, write_repo


def test_committed_schema_matches_the_code():
    fresh = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("GOVOPS_REGENERATE"):
        SCHEMA_FILE.write_text(fresh)
    assert SCHEMA_FILE.read_text() == fresh, "engine/spec/schemas/check-result.schema.json drifted: GOVOPS_REGENERATE=1"


def test_schema_requires_the_agreed_fields():
    schema = json.loads(SCHEMA_FILE.read_text())
    for field in ("check", "model", "version", "status", "summary", "metrics", "inputs"):
        assert field in schema["required"]
    assert set(schema["$defs"]["Metric"]["required"]) >= {"name", "value", "threshold", "op", "passed", "scope"}
    assert set(schema["$defs"]["InputRef"]["required"]) == {"role", "uri", "sha256"}


@pytest.mark.slow
def test_results_validate_against_the_schema(tmp_path: Path):
    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": model})
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    statuses = set()
    for check, th in [("performance", {"min_accuracy": 0.5}), ("drift", {"max_ks": 0.0001}),
                      ("bias", {"max_demographic_parity_diff": 0.5}), ("backtest", {})]:
        doc = run_check(root, check, spec_file=spec, version="2.0.0", thresholds=th).to_json()
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], (check, errors)
        statuses.add(doc["status"])
        json.dumps(doc, allow_nan=False)
    assert statuses == {"pass", "fail", "error"}
    bad = {"check": "x", "model": "m", "version": "1", "status": "maybe", "summary": ""}
    assert list(validator.iter_errors(bad))


def test_every_catalog_check_is_registered_with_the_catalog_thresholds():
    assert set(CHECK_THRESHOLDS) <= set(names())
    for check, cls in THRESHOLD_CLASSES.items():
        assert get(check).thresholds_type is cls, check


@pytest.mark.parametrize("check", sorted(CHECK_THRESHOLDS))
def test_every_check_refuses_unknown_thresholds(check):
    from engine.spec.errors import InputError

    with pytest.raises(InputError, match="unknown threshold"):
        get(check).thresholds_type.from_mapping({"max_nonsense": 1})
