"""One index of the recorded evidence, by model and version: what model cards, packs and the compliance report read.

Audit stage (read side). Built once from a ref (default ``main``): the specs there, every
ledger note (one ``notes list`` + one ``cat-file --batch``), the integrity marks of the
signed ledger, and the monitoring state when it exists. Every fact carries where it came
from (the note's commit, the record's ``commit`` and ``recorded`` time), so a figure shown
in a model card, a pack report or the compliance report links to the same record, and a
fact is shown identically everywhere. Nothing here writes; a fact that is absent is
``None``/empty, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.audit import evidence as ev

if TYPE_CHECKING:
    from engine.spec.workspace import LoadedSpec

Record = tuple[str, dict[str, Any]]
"""``(note commit, record)``."""


def index_records(
    records: list[Record],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """The ledger records by commit (the noted one and the one they name), and the serving rollouts per model."""
    by_commit: dict[str, list[dict[str, Any]]] = {}
    serving_by_model: dict[str, list[dict[str, Any]]] = {}
    for sha, r in records:
        if ev.is_rollout(r) and r.get("outcome") in ev.SERVING_OUTCOMES:
            for m in ev.models_in(r):
                serving_by_model.setdefault(m, []).append(r)
        by_commit.setdefault(sha, []).append(r)
        if r.get("commit"):
            by_commit.setdefault(str(r["commit"]), []).append(r)
    return by_commit, serving_by_model


def link(note_commit: str, record: dict[str, Any], label: str = "") -> dict[str, Any]:
    """Where a fact came from: the commit the record is about, the note's commit, when, what kind."""
    return {"label": label, "commit": str(record.get("commit") or note_commit), "note": note_commit,
            "recorded": record.get("recorded"), "kind": ev.kind_of(record)}


@dataclass
class EvidenceIndex:
    """The evidence of every model at one ref."""

    root: Path
    ref: str
    commit: str
    config: Any
    specs: dict[str, LoadedSpec] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)

    # --- as the compliance report groups them ----------------------------------------------
    def by_commit_and_serving(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
        """:func:`index_records` over this index's records."""
        return index_records(self.records)

    # --- per model and version ----------------------------------------------------------------
    def rollouts(self, model: str) -> list[Record]:
        """Rollout records that changed ``model``, oldest first."""
        out = [(c, r) for c, r in self.records if ev.is_rollout(r) and model in ev.models_in(r)]
        return sorted(out, key=lambda cr: str(cr[1].get("recorded") or ""))

    def deployments(self, model: str) -> list[dict[str, Any]]:
        """The deployment history: each rollout change of ``model`` with its outcome and its record."""
        rows: list[dict[str, Any]] = []
        for c, r in self.rollouts(model):
            for ch in ev.model_changes(r, model) or [{}]:
                rows.append({"recorded": r.get("recorded"), "outcome": r.get("outcome"),
                             "action": ch.get("action"), "version": ch.get("version"), "role": ch.get("role"),
                             "target": r.get("target"),
                             "record": f"{str(r.get('commit') or c)[:12]} (note on {c[:12]})",
                             "link": link(c, r, "rollout record"),
                             "unverified": self.unverified(c, r)})
        return rows

    def results(self, model: str, version: str | None) -> dict[str, dict[str, Any]]:
        """The newest recorded result of each check for ``model`` ``version``, with its record."""
        out: dict[str, dict[str, Any]] = {}
        for c, r in sorted(self.records, key=lambda cr: str(cr[1].get("recorded") or "")):
            for v in ev.validation_for(r, model):
                if version is not None and v.get("version") != version:
                    continue
                out[str(v.get("check"))] = {"result": v, "link": link(c, r, f"{v.get('check')} result"),
                                            "unverified": self.unverified(c, r)}
        return out

    def approvals(self, model: str, version: str | None) -> dict[str, Any] | None:
        """Approvals recorded with the newest serving rollout that put ``version`` in place (None: not recorded)."""
        found: dict[str, Any] | None = None
        for c, r in self.rollouts(model):
            if r.get("outcome") not in ev.SERVING_OUTCOMES:
                continue
            versions = {ch.get("version") for ch in ev.model_changes(r, model)}
            if version is not None and versions and version not in versions:
                continue
            approvals = ev.approvals_in(r)
            if approvals is not None:
                found = {"approvals": approvals, "link": link(c, r, "approvals"), "unverified": self.unverified(c, r)}
        return found

    def decisions(self, model: str) -> list[dict[str, Any]]:
        """Policy decisions recorded for ``model`` (newest last), each with its record."""
        out = []
        for c, r in sorted(self.records, key=lambda cr: str(cr[1].get("recorded") or "")):
            for d in ev.decisions_for(r, model):
                out.append({**ev.decision_summary(d), "link": link(c, r, "policy decision")})
        return out

    def unverified(self, note_commit: str, record: dict[str, Any]) -> str | None:
        """Why a record did not verify against the signed ledger (None: verified or no ledger declared)."""
        if not self.marks:
            return None
        from engine.audit.chain import mark_for

        return mark_for(self.marks, note_commit, record)


def build_index(root: Path, ref: str | None = None, *, with_health: bool = True) -> EvidenceIndex:
    """The index at ``ref`` (default ``main``, else ``HEAD``)."""
    from engine.audit.chain import integrity_marks
    from engine.audit.trail import all_notes, open_view
    from engine.change.gitread import open_repo, plan_between

    root = Path(root).resolve()
    with open_repo(root) as repo:
        view = open_view(repo, root, ref)
        notes = all_notes(repo)
        marks = integrity_marks(repo, view.config, at=view.sha, prefix=view.prefix)
        name, sha, config = view.ref, view.sha, view.config
    plan = plan_between(root, sha, sha)
    index = EvidenceIndex(root, name, sha, config, dict(plan.head_specs),
                          [(e.commit, r) for e in notes for r in e.records], marks)
    if with_health and (root / ".govops" / "monitoring" / "state.json").is_file():
        from engine.monitoring.state import read_health

        index.health = read_health(root)
    return index
