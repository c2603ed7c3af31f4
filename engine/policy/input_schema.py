"""``govops policy input --validate``: every policy input checked against ``<policy dir>/input.schema.json``.

The schema is the contract between the engine and the Rego library (``policies/README.md``):
a policy author who changes what a rule reads, or a change to ``engine.policy.inputs``,
finds out here, at the field, rather than from a rule that silently stops matching. The
schema is the library's own (draft 2020-12); a library without one cannot be checked (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.spec.errors import InputError
from engine.spec.manifest_check import field_path

SCHEMA_NAME = "input.schema.json"


def validate_inputs(docs: list[dict[str, Any]], root: Path, policy_dir: str) -> None:
    """Raise ``InputError`` naming the model and field of the first input the schema refuses."""
    from jsonschema import Draft202012Validator, SchemaError

    directory = Path(policy_dir) if Path(policy_dir).is_absolute() else root / policy_dir
    path = directory / SCHEMA_NAME
    try:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
    except OSError:
        raise InputError(f"{path}: no input schema to validate against (--validate needs {SCHEMA_NAME} in the "
                         "policy directory)", file=str(path)) from None
    except (ValueError, SchemaError) as exc:
        raise InputError(f"{path}: not a valid JSON Schema: {exc}", file=str(path)) from None
    validator = Draft202012Validator(schema)
    for doc in docs:
        errors = sorted(validator.iter_errors(doc["input"]), key=lambda e: field_path(e.absolute_path))
        if errors:
            first = errors[0]
            where = "input" + (f".{field_path(first.absolute_path)}" if first.absolute_path else "")
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise InputError(f"the policy input of {doc['model']} does not match {path.name}: "
                             f"{where}: {first.message}{more}",
                             file=doc["input"].get("file") if isinstance(doc.get("input"), dict) else None)
