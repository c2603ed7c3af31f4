"""The committed JSON Schemas, exported from the pydantic models.

``model.schema.json`` and ``governance.schema.json`` sit beside this file; a test
compares them with a fresh export and fails on drift (``make schema`` rewrites them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
MODEL_SCHEMA = HERE / "model.schema.json"
GOVERNANCE_SCHEMA = HERE / "governance.schema.json"


def model_schema() -> dict[str, Any]:
    """The JSON Schema of a model spec."""
    from engine.spec.model import json_schema

    return json_schema()


def governance_schema() -> dict[str, Any]:
    """The JSON Schema of govops.yaml."""
    from engine.spec.config import Governance

    schema = Governance.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://govops.dev/schemas/governance.schema.json"
    return schema


def render(schema: dict[str, Any]) -> str:
    """The committed text form."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def committed(path: Path) -> dict[str, Any]:
    """A committed schema file."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data
