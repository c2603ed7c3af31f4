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


# --- the shape of the fields readers take from a record ---------------------------------------------------
# A note line is anyone's to write (T-w8): before a reader iterates, slices or hashes a field it must know
# its shape. ``shape_problem`` checks every field the readers use; a record that fails is a ``ledger``
# finding in verify and is left out (and said to be malformed) by audit, report and explain.
_SCALAR = (str, int, float, bool, type(None))
_LIST, _DICT = "list", "object"
_RECORD_STRINGS = ("kind", "commit", "recorded", "timestamp", "outcome", "target", "digest", "actor", "ref",
                   "message", "previous_digest", "prev", "head", "base")
_RECORD_SCALARS = ("model", "version", "reason", "seq", "pr")
_RECORD_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # field: (its shape, the scalar keys of the objects in it / of it)
    "changes": (_LIST, ("model", "version", "action", "role")),
    "covers": (_LIST, ()),
    "health": (_LIST, ()),
    "steps": (_LIST, ()),
    "evidence": (_DICT, ("pr", "ok")),
    "evidence_missing": (_DICT, ("flag", "allowed_by")),
    "specs_tree": (_DICT, ()),
    "specs": (_DICT, ()),
}
_EVIDENCE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "validation": (_LIST, ("check", "model", "version", "status", "summary")),
    "policy_decisions": (_LIST, ("decision_id", "model", "revision", "timestamp", "path")),
    "context": (_DICT, ("pr_number", "author")),
    "links": (_DICT, ("ci_run",)),
    "source": (_DICT, ("ref", "head", "record", "seq", "mapped_by")),
}
_LIST_ITEMS: dict[str, tuple[str, ...]] = {
    # "object.list" -> the scalar keys of the list's objects (("",): the list holds scalars, not objects)
    "validation.inputs": ("role", "uri", "sha256"),
    "validation.metrics": ("name", "scope", "gate"),
    "policy_decisions.result": (),
    "context.approvals": ("approver", "group"),
    "context.reviewers": ("",),
    "links.argo": ("",),
    "links.argo_runs": (),
}


def _shape(value: Any, shape: str) -> bool:
    return isinstance(value, list) if shape == _LIST else isinstance(value, dict)


def _scalars(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> str | None:
    for key in keys:
        if not isinstance(obj.get(key), _SCALAR):
            return f"{where}.{key} is {_json_type(obj.get(key))}, not a string or number"
    return None


def _json_type(value: Any) -> str:
    """``a list``, ``an object``, ``a number``…: the JSON type of a value, with its article."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names = {list: "a list", dict: "an object", str: "a string", type(None): "null"}
    return names.get(type(value), "a " + type(value).__name__)


def _items(items: list[Any], keys: tuple[str, ...], where: str) -> str | None:
    """Each item of a list: a scalar (``keys == ("",)``), else an object whose ``keys`` are scalars."""
    for i, item in enumerate(items):
        if keys == ("",):
            if not isinstance(item, _SCALAR):
                return f"{where}[{i}] is {_json_type(item)}, not a string"
        elif not isinstance(item, dict) and not (where.endswith("approvals") and isinstance(item, str)):
            return f"{where}[{i}] is {_json_type(item)}, not an object"
        elif isinstance(item, dict) and (found := _scalars(item, keys, f"{where}[{i}]")):
            return found
    return None


def _sub_lists(obj: dict[str, Any], name: str, where: str) -> str | None:
    """The lists (and the decision's ``result`` object) nested in one evidence object."""
    for key, keys in _NESTED.get(name, ()):
        value = obj.get(key)
        if value is None:
            continue
        if key == "result":  # a policy decision's result: lists of rule objects
            if not isinstance(value, dict):
                return f"{where}.result is {_json_type(value)}, not an object"
            for rule_list in ("deny", "warn", "waived"):
                if value.get(rule_list) is not None and not isinstance(value[rule_list], list):
                    return f"{where}.result.{rule_list} is {_json_type(value[rule_list])}, not a list"
            continue
        if not isinstance(value, list):
            return f"{where}.{key} is {_json_type(value)}, not a list"
        if found := _items(value, keys, f"{where}.{key}"):
            return found
    return None


_NESTED: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _path, _keys in _LIST_ITEMS.items():
    _NESTED.setdefault(_path.partition(".")[0], []).append((_path.partition(".")[2], _keys))


def shape_problem(record: dict[str, Any]) -> str | None:
    """What is malformed in a record (``"changes is a number, not a list"``), or ``None`` when readers can take it.

    Absent and ``null`` fields are fine (they are *missing evidence*); a field of the wrong JSON type
    (an object where a list is read, a list where a string is) is not.
    """
    found = next((f"{key} is {_json_type(record[key])}, not a string" for key in _RECORD_STRINGS
                  if not isinstance(record.get(key), (str, type(None)))), None)
    found = found or _scalars(record, _RECORD_SCALARS, "record")
    if found:
        return found.removeprefix("record.")
    for name, (shape, keys) in _RECORD_FIELDS.items():
        value = record.get(name)
        if value is not None and (found := _record_field(name, value, shape, keys)):
            return found
    evidence = record.get("evidence") or {}
    for name, (shape, keys) in _EVIDENCE_FIELDS.items():
        value = evidence.get(name)
        if value is not None and (found := _evidence_field(f"evidence.{name}", name, value, shape, keys)):
            return found
    return None


def _record_field(name: str, value: Any, shape: str, keys: tuple[str, ...]) -> str | None:
    if not _shape(value, shape):
        return f"{name} is {_json_type(value)}, not {_json_type([] if shape == _LIST else {})}"
    if name in ("specs_tree", "specs"):  # path -> object id
        bad = next((k for k, v in value.items() if not isinstance(v, _SCALAR) or "\n" in k or "\0" in k), None)
        return None if bad is None else f"{name} has an entry {bad[:40]!r} that is not a path and an object id"
    if isinstance(value, dict):
        return _scalars(value, keys, name)
    return _items(value, keys, name) if name == "changes" else None


def _evidence_field(where: str, name: str, value: Any, shape: str, keys: tuple[str, ...]) -> str | None:
    if not _shape(value, shape):
        return f"{where} is {_json_type(value)}, not {_json_type([] if shape == _LIST else {})}"
    for i, obj in enumerate(value if isinstance(value, list) else [value]):
        at = f"{where}[{i}]" if isinstance(value, list) else where
        if not isinstance(obj, dict):
            return f"{at} is {_json_type(obj)}, not an object"
        found = _scalars(obj, keys, at) or _sub_lists(obj, name, at)
        if found:
            return found
    return None


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
    def items(value: Any) -> list[Any]:  # (parse_note leaves out records of another shape: belt and braces)
        return value if isinstance(value, list) else []

    return {
        "pr": body.get("pr") or context.get("pr_number"),
        "reviewers": [str(r) for r in items(reviewers) if r],
        "ci_run": links.get("ci_run"),
        "argo": [str(u) for u in items(links.get("argo")) if u],
        "argo_runs": [r for r in items(links.get("argo_runs")) if isinstance(r, dict)],
        "pr_head": source.get("head"),
    }
