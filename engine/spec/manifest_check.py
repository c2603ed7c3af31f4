"""Rendered Kubernetes and Argo manifests checked against vendored JSON Schemas before they leave govops.

A manifest that the API server (or kubectl's strict field validation) would refuse is an
error here, naming the field (``spec.predictor.model.storageUri``), before anything is
written, applied or submitted: exit 2, nothing half-done. The schemas are the CRDs' own
(``engine/rollout/schemas``, ``engine/validation/schemas``; their ``SOURCES.md`` says where
each comes from); the stages that render pass the schema file and definition they need.

The CRD schemas allow unknown fields (the API server prunes them silently, so a misspelt
field is simply lost); govops renders every field it means, so here an object schema that
lists its ``properties`` admits no other key unless it says otherwise
(``additionalProperties``, ``patternProperties``, ``x-kubernetes-preserve-unknown-fields``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.spec.errors import InputError


class ManifestError(InputError):
    """A rendered manifest the cluster would not accept (exit 2)."""


def _strict_properties(validator: Any, properties: Mapping[str, Any], instance: Any,
                       schema: Mapping[str, Any]) -> Iterator[Any]:
    from jsonschema import Draft7Validator, ValidationError

    yield from Draft7Validator.VALIDATORS["properties"](validator, properties, instance, schema)
    if not validator.is_type(instance, "object") or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if "additionalProperties" in schema or "patternProperties" in schema:
        return
    from difflib import get_close_matches

    for name in sorted(set(instance) - set(properties)):
        close = get_close_matches(name, list(properties), n=1)
        yield ValidationError("unknown field" + (f" (did you mean '{close[0]}'?)" if close else ""), path=[name])


@lru_cache(maxsize=16)
def validator_for(schema_file: str, definition: str | None = None) -> Any:
    """A strict draft-07 validator of ``schema_file`` (or of one of its ``definitions``), loaded once."""
    from jsonschema import Draft7Validator, validators

    schema = json.loads(Path(schema_file).read_text())
    if definition is not None:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    strict = validators.extend(Draft7Validator, {"properties": _strict_properties})
    return strict(schema)


def field_path(parts: Any) -> str:
    """``spec.templates[0].container`` from a jsonschema error path."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the whole manifest)"


def problems(manifest: Mapping[str, Any], schema_file: Path, definition: str | None = None) -> list[str]:
    """Every reason the cluster would refuse ``manifest``, ``field: message``, deepest first."""
    found = validator_for(str(schema_file), definition).iter_errors(manifest)
    errors = sorted(found, key=lambda e: (-len(e.absolute_path), field_path(e.absolute_path)))
    return [f"{field_path(e.absolute_path)}: {e.message}" for e in errors]


def check_manifest(manifest: Mapping[str, Any], schema_file: Path, definition: str | None = None) -> None:
    """Raise ``ManifestError`` naming the first refused field of ``manifest`` (and how many more there are)."""
    found = problems(manifest, schema_file, definition)
    if not found:
        return
    meta = manifest.get("metadata")
    name = (meta.get("name") or meta.get("generateName")) if isinstance(meta, Mapping) else None
    what = f"{manifest.get('kind', 'manifest')} '{name}'" if name else str(manifest.get("kind", "manifest"))
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise ManifestError(f"govops rendered {what}, which the cluster would refuse: {found[0]}{more}; "
                        "nothing was written, applied or submitted (a govops bug or an unsupported setting: "
                        "please report it)")
