"""Copy the manifest schemas govops validates against from ../shared/schemas into the package, smaller.

Run: .venv/bin/python scripts/vendor_schemas.py [SHARED_SCHEMAS_DIR]
Writes engine/validation/schemas/ (Argo Workflows) and engine/rollout/schemas/ (Seldon Core v2,
KServe) with their SOURCES.md. The only change to each schema: documentation strings
(``description`` keys whose value is text) are dropped; a property *named* ``description``
(its value a schema) stays. Validation is unchanged; the KServe schema shrinks several times.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "engine/validation/schemas": ["argo-workflows.schema.json"],
    "engine/rollout/schemas": ["seldon-v2-model.schema.json", "seldon-v2-server.schema.json",
                               "seldon-v2-experiment.schema.json", "kserve-inferenceservice.schema.json"],
}


def strip(value: Any) -> Any:
    """``value`` without documentation strings."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if not (k == "description" and isinstance(v, str))}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "schemas"
    sources = (shared / "SOURCES.md").read_text()
    for folder, names in FILES.items():
        out = ROOT / folder
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            doc = strip(json.loads((shared / name).read_text()))
            (out / name).write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
        lines = [line for line in sources.splitlines() if not line.startswith("- `") or
                 any(f"`{n}`" in line for n in names)]
        (out / "SOURCES.md").write_text(
            "\n".join(lines).rstrip() + "\n\nVendored by `scripts/vendor_schemas.py` from the shared copies: "
            "documentation strings (`description` text) removed, nothing else changed. govops checks rendered "
            "manifests strictly (`engine/spec/manifest_check.py`): an unknown field is refused, not pruned.\n")
        print(f"wrote {len(names)} schema(s) to {out}")


if __name__ == "__main__":
    main()
