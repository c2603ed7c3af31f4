"""What the ledger says about one model: rollouts, approvals, policy decisions, validation results.

Audit stage (read side). Pure functions over ledger records (``engine.audit.ledger``'s format:
``kind``, ``commit``, ``outcome``, ``digest``, ``changes``, ``evidence`` with
``validation`` and ``policy_decisions``). Records are read tolerantly: a field that is
absent is *missing evidence*, reported, never a crash. Never reads Git.
"""

from __future__ import annotations

from typing import Any

ROLLOUT_KIND = "govops.rollout"
SERVING_OUTCOMES = ("succeeded", "in-sync")
_MAX_DEPTH = 6


def kind_of(record: dict[str, Any]) -> str:
    """``rollout``, ``shutdown``, ``pr-check``… from a record's ``kind`` (``govops.rollout/v1`` → ``rollout``)."""
    kind = str(record.get("kind") or "")
    return kind.split("/", 1)[0].removeprefix("govops.") or "unknown"


def is_rollout(record: dict[str, Any]) -> bool:
    """A rollout record."""
    return kind_of(record) == "rollout"


def is_shutdown(record: dict[str, Any]) -> bool:
    """An automatic shutdown (or failover) recorded by monitoring."""
    kind = kind_of(record)
    return "shutdown" in kind or (is_rollout(record) and "shutdown" in str(record.get("message", "")).lower())


def model_changes(record: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The rollout changes of ``model`` in a record."""
    changes = record.get("changes")
    if not isinstance(changes, list):
        return []
    return [c for c in changes if isinstance(c, dict) and c.get("model") == model]


def mentions(record: dict[str, Any], model: str) -> bool:
    """Whether a record concerns ``model`` (changes, evidence or a ``model`` field)."""
    if record.get("model") == model or model_changes(record, model):
        return True
    return bool(validation_for(record, model) or decisions_for(record, model))


def _evidence(record: dict[str, Any]) -> dict[str, Any]:
    ev = record.get("evidence")
    return ev if isinstance(ev, dict) else {}


def validation_for(record: dict[str, Any], model: str | None = None) -> list[dict[str, Any]]:
    """Check results in a record's evidence (for one model, or all)."""
    items = _evidence(record).get("validation")
    if not isinstance(items, list):
        return []
    return [v for v in items if isinstance(v, dict) and (model is None or v.get("model") == model)]


def decisions_for(record: dict[str, Any], model: str | None = None) -> list[dict[str, Any]]:
    """Policy decisions in a record's evidence (for one model, or all)."""
    items = _evidence(record).get("policy_decisions")
    if not isinstance(items, list):
        return []
    return [d for d in items if isinstance(d, dict) and (model is None or d.get("model") in (model, None))]


def decision_summary(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision-log record cut down for a timeline: id, revision, deny/warn rule ids."""
    result = decision.get("result") if isinstance(decision.get("result"), dict) else {}
    assert isinstance(result, dict)

    def rules(key: str) -> list[str]:
        items = result.get(key)
        return [str(i.get("rule")) for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    deny, warn = rules("deny"), rules("warn")
    return {
        "decision_id": decision.get("decision_id"),
        "timestamp": decision.get("timestamp"),
        "revision": decision.get("revision"),
        "allowed": not deny,
        "deny": deny,
        "warn": warn,
        "waived": rules("waived"),
    }


def validation_summary(result: dict[str, Any]) -> dict[str, Any]:
    """A check result cut down for a timeline: check, version, status, sentence."""
    return {
        "check": result.get("check"),
        "version": result.get("version"),
        "status": result.get("status"),
        "summary": result.get("summary"),
    }


def _find_approvals(obj: Any, depth: int = 0) -> list[dict[str, Any]] | None:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(obj, dict):
        value = obj.get("approvals")
        if isinstance(value, list) and all(isinstance(a, (dict, str)) for a in value):
            return [a if isinstance(a, dict) else {"approver": a, "group": None} for a in value]
        for key in ("context", "pr", "change_request", "summary", "evidence", "input"):
            found = _find_approvals(obj.get(key), depth + 1)
            if found is not None:
                return found
    if isinstance(obj, list):
        for item in obj:
            found = _find_approvals(item, depth + 1)
            if found is not None:
                return found
    return None


def approvals_in(record: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Approvals (``[{approver, group}]``) recorded with a PR check, or ``None`` when not recorded."""
    found = _find_approvals(record)
    if found is not None:
        return found
    for decision in decisions_for(record):
        found = _find_approvals(decision)
        if found is not None:
            return found
    return None


def artifact_digests(result: dict[str, Any]) -> dict[str, str]:
    """``uri -> sha256`` of the model artifacts a check read (roles ending in ``model``)."""
    out: dict[str, str] = {}
    inputs = result.get("inputs")
    for item in inputs if isinstance(inputs, list) else []:
        if isinstance(item, dict) and str(item.get("role", "")).endswith("model") and item.get("uri"):
            out[str(item["uri"])] = str(item.get("sha256") or "")
    return out


def missing_evidence(record: dict[str, Any] | None, model: str, required_checks: list[str]) -> list[str]:
    """What a rollout of ``model`` lacks: no record, no evidence, no decision, a required check without a result."""
    if record is None:
        return ["no rollout record (ledger note)"]
    if not _evidence(record):
        return ["the rollout record carries no evidence (validation results, policy decisions)"]
    missing: list[str] = []
    if not decisions_for(record, model):
        missing.append("no policy decision recorded")
    seen = {str(v.get("check")) for v in validation_for(record, model)}
    lacking = [c for c in required_checks if c not in seen]
    if lacking:
        missing.append("no validation result for required check(s): " + ", ".join(lacking))
    return missing


def models_in(record: dict[str, Any]) -> set[str]:
    """Every model id a record concerns (its changes, evidence and ``model`` field), in one pass."""
    out: set[str] = set()
    if isinstance(record.get("model"), str):
        out.add(record["model"])
    for key in ("changes",):
        items = record.get(key)
        for c in items if isinstance(items, list) else []:
            if isinstance(c, dict) and isinstance(c.get("model"), str):
                out.add(c["model"])
    ev = _evidence(record)
    for key in ("validation", "policy_decisions"):
        items = ev.get(key)
        for c in items if isinstance(items, list) else []:
            if isinstance(c, dict) and isinstance(c.get("model"), str):
                out.add(c["model"])
    return out


def links_of(record: dict[str, Any] | None) -> dict[str, Any]:
    """PR number, reviewers, CI run and Argo workflow links recorded with a record's evidence."""
    def obj(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    body = obj(record.get("evidence")) if record else {}
    links, context, source = obj(body.get("links")), obj(body.get("context")), obj(body.get("source"))
    reviewers = context.get("reviewers")
    if not isinstance(reviewers, list):
        approvals = approvals_in(record) if record else None
        reviewers = [a.get("approver") for a in approvals or [] if isinstance(a, dict)]
    return {
        "pr": body.get("pr") or context.get("pr_number"),
        "reviewers": [str(r) for r in reviewers if r],
        "ci_run": links.get("ci_run"),
        "argo": [str(u) for u in links.get("argo") or [] if u],
        "argo_runs": [r for r in links.get("argo_runs") or [] if isinstance(r, dict)],
        "pr_head": source.get("head"),
    }
