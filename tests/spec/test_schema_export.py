"""The committed JSON Schemas equal a fresh export; GOVOPS_REGENERATE=1 rewrites them."""

from __future__ import annotations

import os

import jsonschema
import pytest

from engine.spec.loader import load_yaml_file
from engine.spec.schemas import GOVERNANCE_SCHEMA, MODEL_SCHEMA, committed, governance_schema, model_schema, render


@pytest.mark.parametrize(("path", "fresh"), [(MODEL_SCHEMA, model_schema), (GOVERNANCE_SCHEMA, governance_schema)])
def test_committed_schema_matches_models(path, fresh):
    text = render(fresh())
    if os.environ.get("GOVOPS_REGENERATE"):
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run `make schema`"
    assert path.read_text() == text, f"{path.name} drifted from the pydantic models: run `make schema` and commit"


def test_example_specs_validate_against_committed_schema(project_root):
    schema = committed(MODEL_SCHEMA)
    validator = jsonschema.Draft202012Validator(schema)
    specs = sorted((project_root / "specs").rglob("*.yaml"))
    assert len(specs) >= 6
    for spec in specs:
        doc = load_yaml_file(spec)
        errors = list(validator.iter_errors(doc.data))
        assert not errors, f"{spec}: {errors[0].message}"


def test_schema_rejects_unknown_field(project_root):
    validator = jsonschema.Draft202012Validator(committed(MODEL_SCHEMA))
    doc = load_yaml_file(project_root / "specs/lab/iris-species.yaml").data
    doc["spec"]["tierr"] = "low"
    assert any("tierr" in e.message for e in validator.iter_errors(doc))


def test_governance_config_validates(project_root):
    validator = jsonschema.Draft202012Validator(committed(GOVERNANCE_SCHEMA))
    doc = load_yaml_file(project_root / "govops.yaml").data
    assert not list(validator.iter_errors(doc))
