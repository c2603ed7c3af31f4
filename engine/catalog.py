"""The model inventory: one row per model at a ref, for people (text) and tools (JSON).

The JSON shape ``{"models": [{"id", "tenant", "name", "tier", "file", "champion",
"versions"}]}`` is a stable interface: fields are added, never renamed or dropped.
"""

from __future__ import annotations

from typing import Any

from engine.workspace import LoadedSpec


def entry(loaded: LoadedSpec) -> dict[str, Any]:
    """The catalog entry of one model."""
    spec = loaded.spec
    dep = spec.spec.deployment
    return {
        "id": spec.id,
        "tenant": spec.metadata.tenant,
        "name": spec.metadata.name,
        "tier": spec.spec.tier,
        "task": spec.spec.task,
        "file": loaded.file,
        "owners": list(spec.metadata.owners),
        "champion": dep.champion if dep else None,
        "challengers": [c.model_dump(mode="json", exclude_none=True) for c in dep.challengers] if dep else [],
        "failover": dep.failover if dep else None,
        "versions": [
            {
                "id": v.id,
                "artifact": v.artifact.uri,
                "sha256": v.artifact.sha256,
                "runtime": v.runtime,
                "parent": v.lineage.parent if v.lineage else None,
                "training_data_sha256": (
                    v.lineage.training_data.sha256 if v.lineage and v.lineage.training_data else None
                ),
                "code_commit": v.lineage.code.commit if v.lineage and v.lineage.code else None,
            }
            for v in spec.spec.versions
        ],
    }


def catalog(specs: list[LoadedSpec]) -> dict[str, Any]:
    """The whole inventory, sorted by id."""
    return {"models": [entry(s) for s in sorted(specs, key=lambda s: s.id)]}


def render_text(doc: dict[str, Any]) -> str:
    """An aligned table: id, tier, champion, challengers, versions, file."""
    rows = [("MODEL", "TIER", "CHAMPION", "CHALLENGERS", "FAILOVER", "VERSIONS", "FILE")]
    for m in doc["models"]:
        challengers = ",".join(
            f"{c['version']}({c['mode']}{'' if c.get('weight') is None else ' ' + format(c['weight'], 'g') + '%'})"
            for c in m["challengers"]
        )
        rows.append(
            (
                m["id"],
                m["tier"],
                m["champion"] or "-",
                challengers or "-",
                m["failover"] or "-",
                ",".join(v["id"] for v in m["versions"]),
                m["file"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append(f"{len(doc['models'])} model(s)")
    return "\n".join(lines) + "\n"
