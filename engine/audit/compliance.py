"""The compliance report: what an auditor reads offline about a period of governance.

Audit stage (read side). Builds one JSON-able document from the specs at a ref (the
inventory, loaded through ``engine.change.gitread``), one ``git log`` call over the spec
directories for the period (notes included), every ledger note (one ``notes list`` +
one ``cat-file --batch``), the waivers in ``policies/waivers.yaml`` and the monitoring
state when it exists. Sections: inventory by tier, changes with approvals and evidence,
policy exceptions, failed validations, incidents and shutdowns, models lacking required
evidence. Rendering (HTML with inline SVG, Markdown) is in ``engine.audit.compliance_render``.
Nothing here writes to the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from engine.audit import evidence as ev
from engine.audit.trail import LogCommit, all_notes, open_view, read_log, shallow_info, to_utc_text, when
from engine.change.gitread import open_repo, plan_between

if TYPE_CHECKING:
    from engine.spec.config import Governance
    from engine.spec.workspace import LoadedSpec


def _model_by_path(commits: list[LogCommit], files: dict[str, str], spec_dirs: list[str]) -> dict[str, str]:
    """Path → model id for every spec path in the log: from the inventory, then back through renames."""
    known = dict(files)
    for c in commits:  # newest first: a rename maps the old path to the model the new path holds
        for ch in c.changes:
            if ch.old_path and ch.path in known and ch.old_path not in known:
                known[ch.old_path] = known[ch.path]
    for c in commits:
        for ch in c.changes:
            for p in (ch.path, ch.old_path):
                if p and p not in known:
                    parts = PurePosixPath(p).parts
                    if len(parts) >= 2:  # removed before the ref: by the specs/<tenant>/<name>.yaml convention
                        known[p] = f"{parts[-2]}/{PurePosixPath(p).stem}"
    return known


@dataclass
class _Scope:
    """The period and the tenant a report covers."""

    since: datetime | None
    until: datetime | None
    tenant: str | None
    now: datetime

    def in_period(self, value: str | None) -> bool:
        """``value`` (a timestamp) falls inside the period."""
        t = when(value)
        return t is not None and (self.since is None or t >= self.since) and (self.until is None or t <= self.until)

    def wanted(self, model: str) -> bool:
        """``model`` belongs to the tenant reported on (every model without one)."""
        return self.tenant is None or model.split("/", 1)[0] == self.tenant


def build_report(
    root: Path,
    *,
    ref: str | None = None,
    tenant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report document (``--format json``); each section is one function below."""
    root = Path(root).resolve()
    scope = _Scope(since, until, tenant, now or datetime.now(UTC))
    with open_repo(root) as repo:
        view = open_view(repo, root, ref)
        shallow = shallow_info(repo)
        log_args = [f"--since={to_utc_text(since)}"] if since else []
        commits = read_log(repo, view.sha, view.spec_pathspecs(), extra=log_args)
        notes = all_notes(repo)
        from engine.audit.chain import integrity_marks

        marks = integrity_marks(repo, view.config, at=view.sha, prefix=view.prefix)
    plan = plan_between(root, view.sha, view.sha)
    specs = [plan.head_specs[k] for k in plan.head_specs]
    specs = [s for s in specs if tenant is None or s.spec.metadata.tenant == tenant]

    inventory, by_tier = _inventory(specs)
    records = [(e.commit, r) for e in notes for r in e.records]
    invalid_notes = [{"commit": e.commit, **bad} for e in notes for bad in e.invalid]
    by_commit, serving_by_model = _index_records(records)
    path_model = _model_by_path(commits, {view.git_path(s.file): s.id for s in plan.head_specs.values()},
                                view.spec_dirs)
    changes, incidents = _changes(commits, path_model, by_commit, marks, scope)
    failed_validations = _failed_validations(records, scope)
    incidents.extend(_note_incidents(records, scope))
    incidents.sort(key=lambda i: str(i.get("date") or ""))
    exceptions = _policy_exceptions(root, scope)
    lacking = _lacking_evidence(specs, serving_by_model, view.config)
    incidents.extend(_health_incidents(root, scope))
    per_month: dict[str, int] = {}
    for ch in changes:
        per_month[ch["date"][:7]] = per_month.get(ch["date"][:7], 0) + 1
    return {
        "title": "govops compliance report",
        "generated": to_utc_text(scope.now),
        "ref": view.ref,
        "commit": view.sha,
        "tenant": tenant,
        "period": {"since": to_utc_text(since) if since else None, "until": to_utc_text(until) if until else None},
        "history": {"shallow": shallow is not None,
                    "note": shallow.hint("the report covers only the history fetched") if shallow else None},
        "inventory": {"by_tier": dict(sorted(by_tier.items())), "models": inventory},
        "changes": changes,
        "changes_per_month": dict(sorted(per_month.items())),
        "policy_exceptions": exceptions,
        "failed_validations": failed_validations,
        "incidents": incidents,
        "lacking_evidence": lacking,
        "invalid_notes": invalid_notes,
        "summary": {
            "models": len(inventory),
            "changes": len(changes),
            "changes_without_approval": sum(1 for c in changes if not c["approvers"]),
            "changes_without_evidence": sum(1 for c in changes if c["evidence_missing"]),
            "policy_exceptions": len(exceptions),
            "failed_validations": len(failed_validations),
            "incidents": len(incidents),
            "models_lacking_evidence": len(lacking),
        },
    }


def _inventory(specs: list[LoadedSpec]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Section 1, inventory: every model at the ref, and how many per tier."""
    inventory: list[dict[str, Any]] = []
    by_tier: dict[str, int] = {}
    for s in sorted(specs, key=lambda s: s.id):
        dep = s.spec.spec.deployment
        by_tier[s.spec.spec.tier] = by_tier.get(s.spec.spec.tier, 0) + 1
        inventory.append({"id": s.id, "tier": s.spec.spec.tier, "owners": list(s.spec.metadata.owners),
                          "champion": dep.champion if dep else None, "versions": len(s.spec.spec.versions),
                          "file": s.file})
    return inventory, by_tier


def _index_records(
    records: list[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """The ledger records by commit and the serving rollouts per model: the shared evidence index's grouping.

    Model cards and pack reports read the same :mod:`engine.audit.evidence_index`, so a fact shown
    in one is shown identically in the others.
    """
    from engine.audit.evidence_index import index_records

    return index_records(records)


def _changes(
    commits: list[LogCommit], path_model: dict[str, str], by_commit: dict[str, list[dict[str, Any]]],
    marks: dict[str, str], scope: _Scope,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Section 2, changes in the period with their approvals and evidence; reverts, bots and shutdowns as incidents."""
    changes: list[dict[str, Any]] = []
    incidents: list[dict[str, Any]] = []
    for c in reversed(commits):
        if not scope.in_period(c.committer_date):
            continue
        models = sorted({path_model.get(ch.path, ch.path) for ch in c.changes} - {""})
        models = [m for m in models if scope.wanted(m)]
        if not models:
            continue
        changes.append(_change_row(c, models, by_commit, marks))
        if c.reverts or c.by_bot or c.is_shutdown:
            kind = "revert" if c.reverts else ("shutdown" if c.is_shutdown else "automatic change")
            incidents.append({"kind": kind, "date": c.committer_date,
                              "commit": c.sha, "models": models, "detail": c.subject})
    return changes, incidents


def _change_row(
    c: LogCommit, models: list[str], by_commit: dict[str, list[dict[str, Any]]], marks: dict[str, str],
) -> dict[str, Any]:
    """One change: who approved it, and what its last rollout's evidence holds for its models."""
    recs = [r for r in by_commit.get(c.sha, []) if ev.is_rollout(r)]
    rec = recs[-1] if recs else None
    approvals = ev.approvals_in(rec) if rec else None
    approvers = [str(a.get("approver")) for a in approvals] if approvals else []
    approvers += [a for a in c.trailer_approvers if a not in approvers]
    decisions = [d for m in models for d in ev.decisions_for(rec, m)] if rec else []
    results = [v for m in models for v in ev.validation_for(rec, m)] if rec else []
    return {
        "commit": c.sha, "date": c.committer_date, "author": c.author, "pr": c.pr_number,
        "subject": c.subject, "models": models, "approvers": approvers,
        "policy_decisions": len(decisions), "denied": sum(1 for d in decisions
                                                          if not ev.decision_summary(d)["allowed"]),
        "validation": len(results), "failed_checks": sum(1 for v in results if v.get("status") != "pass"),
        "rollout": rec.get("outcome") if rec else None,
        "evidence_missing": rec is None or not (decisions or results),
        **_trail_of(rec, marks),
    }


def _failed_validations(records: list[tuple[str, dict[str, Any]]], scope: _Scope) -> list[dict[str, Any]]:
    """Section 3, failed validations recorded in the period (ledger notes)."""
    failed: list[dict[str, Any]] = []
    for sha, r in records:
        if not scope.in_period(str(r.get("recorded") or "")):
            continue
        for v in ev.validation_for(r):
            if v.get("status") != "pass" and scope.wanted(str(v.get("model"))):
                failed.append({"date": r.get("recorded"), "commit": str(r.get("commit") or sha),
                               "model": v.get("model"), "version": v.get("version"),
                               "check": v.get("check"), "status": v.get("status"),
                               "summary": v.get("summary")})
    return failed


def _note_incidents(records: list[tuple[str, dict[str, Any]]], scope: _Scope) -> list[dict[str, Any]]:
    """Section 4, incidents the ledger notes record in the period: shutdowns and failed rollouts."""
    incidents: list[dict[str, Any]] = []
    for sha, r in records:
        if not scope.in_period(str(r.get("recorded") or "")):
            continue
        models = sorted({str(ch.get("model")) for ch in r.get("changes") or [] if isinstance(ch, dict)}
                        | ({str(r["model"])} if r.get("model") else set()))
        models = [m for m in models if scope.wanted(m)]
        if ev.is_shutdown(r) and (models or scope.tenant is None):
            incidents.append({"kind": "shutdown", "date": r.get("recorded"), "commit": str(r.get("commit") or sha),
                              "models": models, "detail": r.get("message") or r.get("reason") or ""})
        elif ev.is_rollout(r) and r.get("outcome") == "failed" and (models or scope.tenant is None):
            incidents.append({"kind": "failed rollout", "date": r.get("recorded"),
                              "commit": str(r.get("commit") or sha), "models": models,
                              "detail": r.get("message") or ""})
    return incidents


def _policy_exceptions(root: Path, scope: _Scope) -> list[dict[str, Any]]:
    """Section 5, policy exceptions: the waivers, active or expired (an invalid waivers file is one finding)."""
    from engine.policy.waivers import load_waivers

    exceptions: list[dict[str, Any]] = []
    try:
        waivers = load_waivers(root / "policies")
    except Exception as exc:  # a broken waivers file is a finding of the report, not a crash
        waivers = []
        exceptions.append({"rule": "-", "model": "-", "reason": f"policies/waivers.yaml is invalid: {exc}",
                           "approver": "-", "expires": "-", "status": "invalid"})
    for w in waivers:
        if w["model"] != "*" and not scope.wanted(w["model"]):
            continue
        expired = (when(w["expires"]) or scope.now) <= scope.now
        exceptions.append({**{k: w[k] for k in ("rule", "model", "reason", "approver", "expires")},
                           "status": "expired" if expired else "active"})
    return exceptions


def _lacking_evidence(
    specs: list[LoadedSpec], serving_by_model: dict[str, list[dict[str, Any]]], config: Governance | None,
) -> list[dict[str, Any]]:
    """Section 6, models lacking required evidence (for what serves now)."""
    lacking: list[dict[str, Any]] = []
    for s in sorted(specs, key=lambda s: s.id):
        mine = serving_by_model.get(s.id, [])
        last = max(mine, key=lambda r: str(r.get("recorded") or "")) if mine else None
        tier = s.spec.spec.tier
        required = list(config.tiers[tier].required_checks) if config and tier in config.tiers else []
        missing = ev.missing_evidence(last, s.id, required)
        if last is not None:
            failed = [str(v.get("check")) for v in ev.validation_for(last, s.id) if v.get("status") != "pass"]
            if failed:
                missing.append("failed check(s) in its last rollout evidence: " + ", ".join(failed))
        if missing:
            lacking.append({"model": s.id, "tier": tier, "missing": missing})
    return lacking


def _health_incidents(root: Path, scope: _Scope) -> list[dict[str, Any]]:
    """Incidents from the monitoring state, when it exists: models whose health is critical or red now."""
    state_file = root / ".govops" / "monitoring" / "state.json"
    if not state_file.is_file():
        return []
    from engine.monitoring.state import read_health

    incidents: list[dict[str, Any]] = []
    health = {m: h for m, h in read_health(root).items() if scope.wanted(m)}
    for m, h in sorted(health.items()):
        if h.get("critical") or h.get("red"):
            incidents.append({"kind": "health critical" if h.get("critical") else "health red",
                              "date": h.get("updated"), "commit": "", "models": [m],
                              "detail": f"health {h.get('health')}; flags {', '.join(h.get('flags') or [])}"})
    return incidents


def _trail_of(rec: dict[str, Any] | None, marks: dict[str, str]) -> dict[str, Any]:
    """Reviewers, CI run and Argo links of a change's rollout record, and whether that record verified."""
    from engine.audit.chain import mark_for

    links = ev.links_of(rec)
    return {
        "reviewers": links["reviewers"], "ci_run": links["ci_run"], "argo": links["argo"],
        "argo_runs": links["argo_runs"],
        "unverified": mark_for(marks, str(rec.get("commit") or ""), rec) if rec else None,
    }
