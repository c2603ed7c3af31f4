"""Why a recorded policy decision came out as it did: re-evaluated, rule by rule.

Audit stage (read side). A decision record (OPA's decision-log shape: ``decision_id``,
``path``, ``input``, ``result``, ``bundles.govops.revision``, ``timestamp``, ``labels``) is
found in the ledger (the rollout record of a commit, else the PR evidence note on it).
Its input is taken as recorded and checked against ``labels.input_sha256``; the policy
library is read from Git at the recorded revision (never from the working tree); the
input is evaluated again with the same backend protocol the PR check uses, and the result
must equal the recorded one. Each rule that fired is printed with its message, the spec
line its path points at and the input value there; for an allow, the rules evaluated.
Nothing here writes to the repository; a record that cannot be re-evaluated is an
``InputError`` (exit 2), a re-evaluation that disagrees with the record is exit 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit import evidence as ev
from engine.audit.ledger import EVIDENCE_REF, NOTES_REF, canonical, read_ledger
from engine.change.gitread import cat_blobs, open_repo, resolve_commit, run_git
from engine.spec.errors import GovernanceFailure, GovopsError, InputError

OPA_FIELDS = ("decision_id", "path", "input", "result", "bundles", "timestamp", "labels")
_RULE_ID = re.compile(r'"rule"\s*:\s*"([A-Z][A-Z0-9]*-[A-Z0-9]+-\d+)"')


class ExplainMismatch(GovernanceFailure):
    """The re-evaluation does not give the recorded result, or the input is not the recorded one (exit 1)."""


@dataclass
class Explanation:
    """One decision, re-evaluated."""

    record: dict[str, Any]
    source: str
    result: dict[str, Any]
    fired: list[dict[str, Any]] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def to_opa(self) -> dict[str, Any]:
        """The decision-log entry exactly (OPA's fields only)."""
        return {k: self.record.get(k) for k in OPA_FIELDS}


def find_decisions(root: Path, commit: str, model: str | None) -> tuple[str, list[dict[str, Any]]]:
    """``(where, decision records)`` recorded for ``commit``: its rollout record's, else its PR evidence note's.

    Where ``govops.yaml`` declares the ledger, only records that verify (a good signature
    covers them, the chain holds, the evidence they cite verifies) count: a record anyone
    with push access could have appended is never explained as the decision
    (``ExplainMismatch``, exit 1, naming why).
    """
    from engine.audit.chain import integrity_marks, mark_for

    with open_repo(root) as repo:
        marks = _marks(repo, root, integrity_marks)
    unverified: list[str] = []
    for ref, what in ((NOTES_REF, "rollout record"), (EVIDENCE_REF, "PR evidence note")):
        for entry in read_ledger(root, commit, notes_ref=ref):
            for rec in reversed(entry.records):
                decisions = ev.decisions_for(rec, model)
                why = mark_for(marks, entry.commit, rec) if decisions else None
                if why:
                    edited = [d.get("decision_id") for d in decisions if _input_edited(d)]
                    unverified.append(f"UNVERIFIED {what} on {commit[:12]}: {why}" + (
                        f"; the recorded input of decision(s) {', '.join(map(str, edited))} does not match its "
                        "recorded digest" if edited else ""))
                    continue
                if decisions:
                    return f"{what} on {commit[:12]} (refs/notes/{ref})", decisions
    if unverified:
        raise ExplainMismatch("no verified policy decision is recorded on " + commit[:12] + "; skipped:\n  "
                              + "\n  ".join(unverified))
    target = f" for {model}" if model else ""
    raise InputError(f"no policy decision is recorded{target} on {commit[:12]}: neither a rollout record nor a PR "
                     "evidence note carries one (govops ledger show)")


def _input_edited(record: dict[str, Any]) -> bool:
    labels = record.get("labels") if isinstance(record.get("labels"), dict) else {}
    digest = labels.get("input_sha256") if isinstance(labels, dict) else None
    doc = record.get("input")
    return bool(digest) and isinstance(doc, dict) and hashlib.sha256(canonical(doc).encode()).hexdigest() != digest


def _library_at(root: Path, revision: str, directory: str) -> Any:
    """The policy library as it was at ``revision`` (read from Git, never from the working tree)."""
    from engine.policy.library import library_from_sources

    with open_repo(root) as repo:
        sha = resolve_commit(repo, revision, "policy revision")
        toplevel = Path(repo.working_tree_dir or root).resolve()
        rel = Path(root).resolve().relative_to(toplevel).as_posix()
        prefix = ("" if rel == "." else rel + "/") + directory.strip("/") + "/"
        _, out, _ = run_git(repo, "ls-tree", "-r", "-z", "--full-tree", "--name-only", sha, "--", prefix)
        names = [n.decode("utf-8", "replace") for n in out.split(b"\0") if n.endswith(b".rego")]
        blobs = cat_blobs(repo, [f"{sha}:{n}" for n in names])
    if not names:
        raise InputError(f"there is no {directory}/ at the recorded policy revision {sha[:12]}")
    sources = {n[len(prefix):]: (blobs.get(f"{sha}:{n}") or b"").decode("utf-8", "replace") for n in names}
    return library_from_sources(root, directory, sources, at=sha)


def _now_ns(record: dict[str, Any]) -> int:
    from engine.audit.trail import when

    stamp = when(str(record.get("timestamp") or ""))
    return int(stamp.timestamp() * 1e9) if stamp else 0


def explain_record(root: Path, record: dict[str, Any], source: str) -> Explanation:
    """Re-evaluate one decision record; raise ``ExplainMismatch`` when it does not reproduce."""
    from engine.policy.backend import get_backend
    from engine.spec.settings import get_settings

    labels = record.get("labels") if isinstance(record.get("labels"), dict) else {}
    assert isinstance(labels, dict)
    model = str(labels.get("model") or record.get("model") or "")
    doc = record.get("input")
    if not isinstance(doc, dict):
        raise InputError(f"the decision {record.get('decision_id')} of {model} was recorded without its input "
                         "(recorded by an older govops): it cannot be re-evaluated")
    digest = labels.get("input_sha256")
    if digest and hashlib.sha256(canonical(doc).encode()).hexdigest() != digest:
        raise ExplainMismatch(f"the recorded input of decision {record.get('decision_id')} ({model}) does not match "
                              f"its recorded digest {str(digest)[:12]}: the record was edited")
    bundles = record.get("bundles") if isinstance(record.get("bundles"), dict) else {}
    govops = bundles.get("govops") if isinstance(bundles, dict) and isinstance(bundles.get("govops"), dict) else {}
    revision = str((govops or {}).get("revision") or record.get("revision") or "")
    if not revision:
        raise InputError(f"the decision {record.get('decision_id')} names no policy revision (bundles.govops.revision)")
    settings = get_settings()
    library = _library_at(root, revision, settings.policy_dir)
    payload = dict(doc)
    payload.setdefault("now_ns", _now_ns(record))
    backend = get_backend(None, settings)
    try:
        backend.load(library)
        [result] = backend.evaluate_many([(model, json.dumps(payload, sort_keys=True))])
    finally:
        backend.close()
    rule_ids = sorted({m.group(1) for text in library.modules.values() for m in _RULE_ID.finditer(text)})
    recorded = record.get("result") if isinstance(record.get("result"), dict) else {}
    if _key(result) != _key(recorded):
        raise ExplainMismatch(
            f"re-evaluating decision {record.get('decision_id')} ({model}) with the policies at {revision[:12]} "
            f"gives deny {_ids(result, 'deny')} warn {_ids(result, 'warn')}, but the record says deny "
            f"{_ids(recorded, 'deny')} warn {_ids(recorded, 'warn')}: the record or the policies' history changed")
    out = Explanation(record, source, dict(result))
    fired_ids = set()
    for severity, key in (("deny", "deny"), ("warn", "warn")):
        for item in result.get(key) or []:
            fired_ids.add(str(item.get("rule")))
            out.fired.append({"severity": severity, **item, **_where(root, labels, doc, item)})
    out.passed = [r for r in rule_ids if r not in fired_ids]
    return out


def _key(result: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    def items(k: str) -> list[tuple[str, str]]:
        got = result.get(k) if isinstance(result, dict) else None
        return sorted((str(i.get("rule")), str(i.get("message"))) for i in got or [] if isinstance(i, dict))

    return items("deny"), items("warn")


def _ids(result: Any, key: str) -> list[str]:
    return [r for r, _ in (_key(result)[0 if key == "deny" else 1])]


def _where(root: Path, labels: dict[str, Any], doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The spec line the item's path points at (in the judged head) and the input value there."""
    from engine.policy.check import parse_path
    from engine.spec.loader import YamlDocument

    path = str(item.get("path") or "")
    parts = parse_path(path) if path else ()
    value: Any = doc.get("spec")
    for p in parts:
        if isinstance(value, dict) and isinstance(p, str) and p in value:
            value = value[p]
        elif isinstance(value, list) and isinstance(p, int) and 0 <= p < len(value):
            value = value[p]
        else:
            value = None
            break
    out: dict[str, Any] = {"data": value if parts else None}
    file, head = labels.get("file") or doc.get("file"), labels.get("head")
    if file and head and parts:
        with open_repo(root) as repo:
            raw = cat_blobs(repo, [f"{head}:{file}"]).get(f"{head}:{file}")
        if raw is not None:
            line, col = YamlDocument(str(file), None, {}, raw).position(parts)
            out.update({"file": file, "line": line, "col": col})
    extra = {k: v for k, v in item.items() if k not in ("rule", "message", "path")}
    if extra:
        out["item_data"] = extra
    return out


def explain(root: Path, commit: str, model: str | None) -> list[Explanation]:
    """Every recorded decision for ``commit`` (and ``model``), re-evaluated."""
    with open_repo(root) as repo:
        sha = resolve_commit(repo, commit, "commit")
    source, decisions = find_decisions(root, sha, model)
    return [explain_record(root, d, source) for d in decisions]


def render_text(explanations: list[Explanation]) -> str:
    """The rule-level why, one block per decision."""
    out = []
    for e in explanations:
        r = e.record
        labels = r.get("labels") or {}
        model = labels.get("model") or r.get("model")
        deny = [f for f in e.fired if f["severity"] == "deny"]
        verdict = "DENIED" if deny else "allowed"
        revision = ((r.get("bundles") or {}).get("govops") or {}).get("revision") or r.get("revision")
        out.append(f"{model}: {verdict} — decision {r.get('decision_id')} at {r.get('timestamp')}, "
                   f"policies at {str(revision)[:12]} ({r.get('path')}); from the {e.source}\n")
        out.append("  re-evaluated with the recorded input: same result\n")
        for f in e.fired:
            where = f" at {f['file']}:{f['line']}:{f['col']}" if f.get("file") else ""
            out.append(f"  {f['severity']} {f.get('rule')}{where}: {f.get('message')}\n")
            if f.get("path"):
                data = json.dumps(f.get("data"), sort_keys=True, default=str)
                out.append(f"    path {f['path']} = {data[:200]}\n")
            if f.get("item_data"):
                out.append(f"    data: {json.dumps(f['item_data'], sort_keys=True, default=str)[:300]}\n")
        if e.passed:
            out.append(f"  evaluated and passed ({len(e.passed)}): {', '.join(e.passed)}\n")
    return "".join(out)


def _marks(repo: Any, root: Path, integrity_marks: Any) -> dict[str, str]:
    """``integrity_marks`` judged by main's govops.yaml (else HEAD's), read from Git, never the working tree.

    A checkout whose govops.yaml dropped ``ledger:`` (a PR branch, a local edit) must not let an
    unsigned record pass as the decision; main's first-parent line orders the signer eras.
    """
    from engine.audit.trail import open_view

    try:
        view = open_view(repo, root, None, light=True)
    except GovopsError:
        return integrity_marks(repo, None)
    return integrity_marks(repo, view.config, at=view.sha, prefix=view.prefix)
