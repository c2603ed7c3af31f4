"""``govops report --pack NAME [MODEL]``: each control of a regulation pack, per model, from the recorded evidence.

Audit stage (read side). The pack is read at the same ref as the specs (Git objects, not the
checkout), and judged by :mod:`engine.policy.pack_coverage` (the evaluator the rollout gate
uses) on facts taken from :mod:`engine.audit.evidence_index` (the index model cards and the
compliance report read): a check counts when a result that passed is recorded for the served
version, approvals and rollouts when a ledger record holds them, a health when monitoring
measured one. Every covered item carries the record it came from. Never writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.audit.evidence_index import EvidenceIndex, link
from engine.policy.pack_coverage import Facts, coverage
from engine.policy.packs import PACKS_DIR, Pack, packs_from_files, required_packs
from engine.spec.errors import InputError


def packs_at(index: EvidenceIndex, policy_dir: str = "policies") -> dict[str, Pack]:
    """The packs in ``policy_dir/packs`` at the index's commit (an invalid pack is an input error)."""
    from engine.audit.trail import cat_blobs, run_git
    from engine.change.gitread import open_repo

    with open_repo(index.root) as repo:
        toplevel = repo.working_tree_dir or str(index.root)
        rel = index.root.resolve().relative_to(Path(toplevel).resolve()).as_posix()
        prefix = "" if rel == "." else rel + "/"
        folder = f"{prefix}{policy_dir.strip('/')}/{PACKS_DIR}/"
        _, out, _ = run_git(repo, "ls-tree", "-z", "--full-tree", index.commit, "--", folder, check=False)
        names = {}
        for entry in out.split(b"\0"):
            meta, _, raw = entry.partition(b"\t")
            path = raw.decode("utf-8", "replace")  # (a name that is not UTF-8 is skipped: no pack is asked for by it)
            if entry and meta.split()[:2] in ([b"100644", b"blob"], [b"100755", b"blob"]) and \
                    path.endswith(".yaml") and "\ufffd" not in path and "\n" not in path:  # regular files only
                names[path[len(folder):]] = f"{index.commit}:{path}"
        blobs = cat_blobs(repo, list(names.values())) if names else {}
    packs, diags = packs_from_files({n: blobs.get(b) or b"" for n, b in names.items()}, f"{policy_dir}/{PACKS_DIR}")
    if diags:
        d = diags[0]
        raise InputError(d.message, file=d.file, line=d.line, col=d.col)
    return packs


def facts_from_index(index: EvidenceIndex, model: str, version: str | None) -> Facts:
    """What the ledger and the monitoring state say of ``model`` ``version``."""
    loaded = index.specs[model]
    facts = Facts(spec=loaded.spec.to_data(), version=version,
                  groups=dict(getattr(index.config, "groups", {}) or {}),
                  spec_link={"kind": "spec", "file": loaded.file, "commit": index.commit})
    for check, found in index.results(model, version).items():
        result = found["result"]
        status = result.get("status")
        if found.get("unverified"):
            facts.checks[check] = {"status": "missing", "note": f"its record did not verify: {found['unverified']}",
                                   "links": [found["link"]], "path": "spec.tier"}
        elif status == "pass":
            facts.checks[check] = {"status": "covered", "note": f"{check} passed", "links": [found["link"]],
                                   "path": "spec.tier"}
        else:
            facts.checks[check] = {"status": "missing", "note": f"{check} {status}: {result.get('summary')}",
                                   "links": [found["link"]], "path": "spec.tier"}
    approvals = index.approvals(model, version)
    if approvals is not None:
        author = None
        facts.approvers = sorted({str(a.get("approver")) for a in approvals["approvals"]
                                  if a.get("approver") and a.get("approver") != author})
        facts.approvals = {"status": "covered", "links": [approvals["link"]], "note": ""}
    rollouts = [(c, r) for c, r in index.rollouts(model) if r.get("outcome") in ("succeeded", "in-sync")]
    if rollouts:
        c, r = rollouts[-1]
        facts.ledger["rollout"] = {"status": "covered", "note": f"rolled out {r.get('recorded')}",
                                   "links": [link(c, r, "rollout record")], "path": "spec.deployment"}
    results = index.results(model, version)
    if results:
        first = next(iter(results.values()))
        facts.ledger["validation"] = {"status": "covered", "note": f"{len(results)} check result(s) recorded",
                                      "links": [first["link"]], "path": "spec.deployment"}
    decisions = index.decisions(model)
    if decisions:
        facts.ledger["policy_decision"] = {"status": "covered", "note": f"{len(decisions)} decision(s) recorded",
                                           "links": [decisions[-1]["link"]], "path": "spec.deployment"}
    health = index.health.get(model)
    if health is not None and health.get("health") is not None:
        facts.monitoring_state = {"status": "covered", "note": f"health {health['health']} at {health.get('updated')}",
                                  "links": [{"label": ".govops/monitoring/state.json", "commit": None,
                                             "recorded": health.get("updated")}], "path": "spec.monitoring"}
    return facts


def pack_report(index: EvidenceIndex, name: str, model: str | None = None, *,
                policy_dir: str = "policies") -> dict[str, Any]:
    """The report document: the pack and, per model, every control's coverage with its evidence."""
    packs = packs_at(index, policy_dir)
    pack = packs.get(name)
    if pack is None:
        raise InputError(f"no regulation pack '{name}' in {policy_dir}/{PACKS_DIR}/ at {index.ref}; "
                         f"known: {', '.join(sorted(packs)) or 'none'}")
    if model is not None and model not in index.specs:
        raise InputError(f"no model '{model}' at {index.ref}; known: {', '.join(sorted(index.specs))}")
    if model is not None:
        models = [model]
    else:  # the models whose tier requires the pack; every model when no tier does
        models = [m for m, s in sorted(index.specs.items()) if name in required_packs(index.config, s.spec.spec.tier)]
        models = models or sorted(index.specs)
    rows = []
    for m in models:
        spec = index.specs[m].spec
        dep = spec.spec.deployment
        version = dep.champion if dep else spec.spec.versions[-1].id
        doc = coverage(pack, facts_from_index(index, m, version))
        rows.append({"model": m, **doc})
    return {"title": pack.title, "pack": pack.name, "source": pack.source, "published": pack.published,
            "file": pack.file, "ref": index.ref, "commit": index.commit, "models": rows,
            "complete": all(r["complete"] for r in rows)}
