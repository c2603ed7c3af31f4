"""The model inventory: one row per model at a ref, for people (text) and tools (JSON).

The JSON shape ``{"models": [{"id", "tenant", "name", "tier", "file", "champion",
"versions"}]}`` is a stable interface: fields are added, never renamed or dropped.
"""

from __future__ import annotations

from typing import Any

from engine.spec.workspace import LoadedSpec


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
    trail = any(m.get("last_rollout") or m.get("last_validation") or m.get("health") for m in doc["models"])
    rows: list[tuple[str, ...]] = [("MODEL", "TIER", "CHAMPION", "CHALLENGERS", "FAILOVER", "VERSIONS", "FILE")]
    if trail:
        rows[0] += ("LAST VALIDATION", "LAST ROLLOUT", "HEALTH")
    for m in doc["models"]:
        challengers = ",".join(
            f"{c['version']}({c['mode']}{'' if c.get('weight') is None else ' ' + format(c['weight'], 'g') + '%'})"
            for c in m["challengers"]
        )
        row: tuple[str, ...] = (
            m["id"],
            m["tier"],
            m["champion"] or "-",
            challengers or "-",
            m["failover"] or "-",
            ",".join(v["id"] for v in m["versions"]),
            m["file"],
        )
        if trail:
            lv, lr, h = m.get("last_validation"), m.get("last_rollout"), m.get("health")
            row += (
                f"{lv['outcome']}@{lv['commit'][:7]}" if lv else "-",
                f"{lr['outcome']}@{lr['commit'][:7]}" if lr else "-",
                "-" if not h or h.get("score") is None else f"{h['score']:.2f}",
            )
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append(f"{len(doc['models'])} model(s)")
    return "\n".join(lines) + "\n"


# --- additions for auditors (issue 10): ledger facts, health, CSV, the lineage tree -------------------------


def _newest(records: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]] | None:
    return max(records, key=lambda r: str(r[1].get("recorded") or "")) if records else None


def add_trail(doc: dict[str, Any], notes: list[Any], health: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """Add ``last_validation``, ``last_rollout`` (from ledger notes) and ``health`` to every entry.

    ``notes`` are ``engine.audit.ledger.LedgerEntry`` values; ``health`` is per model id (``None``
    when monitoring never ran: every ``health`` stays null).
    """
    from engine.audit import evidence as ev

    for m in doc["models"]:
        model = m["id"]
        rollouts = [(e.commit, r) for e in notes for r in e.records if ev.is_rollout(r) and ev.mentions(r, model)]
        validated = [(e.commit, r) for e in notes for r in e.records if ev.validation_for(r, model)]
        last = _newest(rollouts)
        m["last_rollout"] = None if last is None else {
            "commit": str(last[1].get("commit") or last[0]),
            "recorded": last[1].get("recorded"),
            "outcome": last[1].get("outcome"),
            "target": last[1].get("target"),
            "digest": last[1].get("digest"),
        }
        val = _newest(validated)
        if val is None:
            m["last_validation"] = None
        else:
            results = ev.validation_for(val[1], model)
            m["last_validation"] = {
                "commit": str(val[1].get("commit") or val[0]),
                "recorded": val[1].get("recorded"),
                "outcome": "pass" if all(r.get("status") == "pass" for r in results) else "fail",
                "checks": {str(r.get("check")): r.get("status") for r in results},
            }
        h = (health or {}).get(model)
        m["health"] = None if h is None else {"score": h.get("health"), "red": h.get("red"),
                                              "critical": h.get("critical"), "updated": h.get("updated")}
    return doc


CSV_COLUMNS = ("id", "tenant", "name", "tier", "owners", "champion", "challengers", "failover", "versions",
               "digests", "last_validation", "last_rollout", "health", "file")


def render_csv(doc: dict[str, Any]) -> str:
    """One row per model; lists joined with ``;``."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m in doc["models"]:
        lv, lr, h = m.get("last_validation"), m.get("last_rollout"), m.get("health")
        writer.writerow([
            m["id"], m["tenant"], m["name"], m["tier"], ";".join(m.get("owners", [])), m["champion"] or "",
            ";".join(f"{c['version']}:{c['mode']}" + (f":{c['weight']:g}" if c.get("weight") is not None else "")
                     for c in m["challengers"]),
            m["failover"] or "",
            ";".join(v["id"] for v in m["versions"]),
            ";".join(f"{v['id']}={v['sha256'] or ''}" for v in m["versions"]),
            f"{lv['outcome']}@{lv['commit'][:12]}" if lv else "",
            f"{lr['outcome']}@{lr['commit'][:12]}" if lr else "",
            "" if not h or h.get("score") is None else f"{h['score']:.3f}",
            m["file"],
        ])
    return buf.getvalue()


def lineage(entry_doc: dict[str, Any]) -> dict[str, Any]:
    """The version tree of one catalog entry: roots are versions without a (known) parent."""
    versions = {v["id"]: v for v in entry_doc["versions"]}
    children: dict[str | None, list[str]] = {}
    for v in entry_doc["versions"]:
        parent = v["parent"] if v["parent"] in versions else None
        children.setdefault(parent, []).append(v["id"])
    roles = {entry_doc["champion"]: "champion"} if entry_doc["champion"] else {}
    for c in entry_doc["challengers"]:
        roles.setdefault(c["version"], c["mode"])
    if entry_doc["failover"]:
        roles.setdefault(entry_doc["failover"], "failover")

    def node(vid: str, seen: frozenset[str]) -> dict[str, Any]:
        v = versions[vid]
        kids = [] if vid in seen else [node(k, seen | {vid}) for k in children.get(vid, [])]
        return {
            "id": vid,
            "role": roles.get(vid),
            "sha256": v["sha256"],
            "training_data_sha256": v["training_data_sha256"],
            "code_commit": v["code_commit"],
            "parent": v["parent"],
            "children": kids,
        }

    return {"model": entry_doc["id"], "tree": [node(r, frozenset()) for r in children.get(None, [])]}


def render_lineage_text(tree: dict[str, Any]) -> str:
    """The version tree, indented, with roles and digests."""
    out = [f"{tree['model']}\n"]

    def walk(nodes: list[dict[str, Any]], depth: int) -> None:
        for n in nodes:
            role = f" [{n['role']}]" if n["role"] else ""
            data = f" data {str(n['training_data_sha256'])[:12]}" if n["training_data_sha256"] else ""
            code = f" code {n['code_commit']}" if n["code_commit"] else ""
            out.append(f"{'  ' * (depth + 1)}{n['id']}{role}  sha256 {str(n['sha256'] or '-')[:12]}{data}{code}\n")
            walk(n["children"], depth + 1)

    walk(tree["tree"], 0)
    return "".join(out)
