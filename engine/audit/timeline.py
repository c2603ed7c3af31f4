"""A model's timeline from Git history and the ledger notes: the audit stage's main answer.

``audit_model`` reads the spec file's history with one ``git log --follow`` call (renames
followed, merges seen as the change they made to main), the blobs of every version with
one ``git cat-file --batch``, and the notes that mention the model with one ``git grep``
on the notes ref. Each spec change gets its plan entry (``engine.change.plan.diff_specs``
between the commit's first parent and the commit), its PR number, approvers and the
evidence that admitted it; rollouts, shutdowns and reverts are events of their own.
``serving_at`` answers "which version was serving on DATE, who approved it, on what
evidence". Nothing here writes to the repository; missing or invalid notes become
warnings and "missing evidence", never a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.audit import evidence as ev
from engine.audit.ledger import LedgerEntry
from engine.audit.trail import (
    LogCommit,
    NoteGrep,
    View,
    open_view,
    parse_note_blobs,
    read_log,
    shallow_info,
    to_utc_text,
    when,
)
from engine.change.gitread import FileChange, cat_blobs, open_repo, parse_raw_parts, run_git
from engine.change.plan import diff_specs
from engine.change.plumbing import out_lines
from engine.spec.errors import InputError
from engine.spec.workspace import LoadedSpec, load_spec_text

_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")


class UnknownModel(InputError):
    """The model was never declared in this repository's history (exit 2)."""


@dataclass
class Timeline:
    """A model's events, oldest first, and what could not be read on the way."""

    model: str
    ref: str
    commit: str
    files: list[str]
    events: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    specs: dict[str, LoadedSpec | None] = field(default_factory=dict, repr=False)
    config: Any = field(default=None, repr=False)

    def to_data(self) -> dict[str, Any]:
        """``{"model", "events": [{"commit", "date", "author", "committer", "kind", …}], …}``."""
        return {
            "model": self.model,
            "ref": self.ref,
            "commit": self.commit,
            "files": self.files,
            "events": self.events,
            "warnings": self.warnings,
        }


# --- locating the model ----------------------------------------------------------------------------------


def _check_id(model: str) -> tuple[str, str]:
    if not _MODEL_ID.match(model):
        raise InputError(f"'{model}' is not a model id: use tenant/name, e.g. clinical/readmission-triage")
    tenant, name = model.split("/")
    return tenant, name


def _load(raw: bytes, file: str, view: View) -> LoadedSpec | None:
    spec, _ = load_spec_text(raw, file, view.root, view.config)
    if spec is None and view.config is not None:  # an old spec judged by today's govops.yaml: read it plainly
        spec, _ = load_spec_text(raw, file, view.root, None)
    return spec


def _name_pattern(name: str) -> str:
    return r"^[[:space:]]*name:[[:space:]]*[\"']?" + re.escape(name).replace("\\-", "-") + r"[\"']?[[:space:]]*(#.*)?$"


def find_model_file(view: View, model: str) -> tuple[str | None, LoadedSpec | None]:
    """The repository path of ``model``'s spec at the view's commit (``git grep`` + parsing the candidates)."""
    tenant, name = _check_id(model)
    for d in view.spec_dirs:  # the conventional place first: <specs>/<tenant>/<name>.yaml
        for suffix in (".yaml", ".yml"):
            local = f"{d}/{tenant}/{name}{suffix}"
            raw = view.prefetched.get(local)
            if raw is not None:
                spec = _load(raw, local, view)
                if spec is not None and spec.id == model:
                    return view.git_path(local), spec
    status, out, _ = run_git(view.repo, "grep", "-l", "-z", "-E", "--no-color", "-e", _name_pattern(name),
                          view.sha, "--", *view.spec_pathspecs(), check=False)
    if status not in (0, 1):
        return None, None
    names = [p.decode("utf-8", "replace") for p in out.split(b"\0") if p]
    blobs = cat_blobs(view.repo, names)
    for obj in names:
        path = obj.split(":", 1)[1]
        spec = _load(blobs.get(obj) or b"", view.local(path), view)
        if spec is not None and spec.id == model:
            return path, spec
    return None, None


def find_removed_model_file(view: View, model: str) -> str | None:
    """The last path of a model that was removed before the view's commit (one ``git log --diff-filter=D``)."""
    _, name = _check_id(model)
    status, out, _ = run_git(view.repo, "log", "-z", "--format=", "--raw", "--no-abbrev", "--diff-filter=D",
                          "--no-renames", view.sha, "--", *view.spec_pathspecs(), check=False)
    if status != 0:
        return None
    pattern = re.compile(rb"^\s*name:\s*[\"']?" + re.escape(name.encode()) + rb"[\"']?\s*(#.*)?$", re.MULTILINE)
    # read positionally (each entry, then its path): a path may hold any byte but NUL, 0x1e included
    candidates = [(c.old_blob, c.path) for c in parse_raw_parts(out.split(b"\0")) if c.old_blob]
    blobs = cat_blobs(view.repo, [b for b, _ in candidates])
    for blob, path in candidates:
        raw = blobs.get(blob) or b""
        if pattern.search(raw):
            spec = _load(raw, view.local(path), view)
            if spec is not None and spec.id == model:
                return path
    return None


def _known_models_hint(view: View, model: str) -> str:
    _, name = _check_id(model)
    pattern = r"^[[:space:]]{2}name:[[:space:]]*[a-z0-9-]+"
    _, out, _ = run_git(view.repo, "grep", "-h", "-E", "--no-color", "-e", pattern,
                     view.sha, "--", *view.spec_pathspecs(), check=False)
    names = sorted({line.split(":", 1)[1].strip().strip("'\"") for line in out_lines(out)})
    import difflib

    close = difflib.get_close_matches(name, names, n=3)
    return f"; did you mean {' or '.join(close)}?" if close else ""


# --- building the timeline --------------------------------------------------------------------------------


def _change_of(commit: LogCommit) -> FileChange | None:
    return commit.changes[0] if commit.changes else None


def _spec_blobs(commits: list[LogCommit]) -> list[str]:
    blobs: list[str] = []
    for c in commits:
        for ch in c.changes:
            blobs += [b for b in (ch.old_blob, ch.new_blob) if b]
    return blobs


def _event_base(commit: LogCommit, kind: str) -> dict[str, Any]:
    return {
        "commit": commit.sha,
        "date": commit.committer_date,
        "kind": kind,
        **commit.person(),
        "author_date": commit.author_date,
        "subject": commit.subject,
    }


def _rollout_event(entry_commit: str, record: dict[str, Any], model: str,
                   unverified: str | None = None) -> dict[str, Any]:
    validation = ev.validation_for(record, model)
    decisions = ev.decisions_for(record, model)
    kind = "shutdown" if ev.is_shutdown(record) else ("rollout" if ev.is_rollout(record) else ev.kind_of(record))
    return {
        "commit": str(record.get("commit") or entry_commit),
        "date": record.get("recorded") or record.get("timestamp"),
        "kind": kind,
        "author": record.get("actor"),
        "committer": None,
        "outcome": record.get("outcome"),
        "target": record.get("target"),
        "digest": record.get("digest"),
        "message": record.get("message", ""),
        "changes": ev.model_changes(record, model),
        "validation": [ev.validation_summary(v) for v in validation],
        "policy_decisions": [ev.decision_summary(d) for d in decisions],
        "approvals": ev.approvals_in(record),
        "note_commit": entry_commit,
        "links": ev.links_of(record),
        "evidence_missing": record.get("evidence_missing"),
        "verified": unverified is None,
        "unverified": unverified,
    }


def _admitting_record(
    commit: str, entries: dict[str, LedgerEntry], later: list[tuple[str, dict[str, Any]]], model: str
) -> dict[str, Any] | None:
    """The ledger record with the evidence for a change: on its own commit, else the next rollout of the model."""
    own = entries.get(commit)
    if own is not None:
        for rec in own.records:
            if ev.is_rollout(rec) or ev.kind_of(rec) in ("pr-check", "check"):
                return rec
    for _, rec in later:
        if ev.is_rollout(rec) and ev.model_changes(rec, model):
            return rec
    return None


def audit_model(root: Path, model: str, *, ref: str | None = None) -> Timeline:
    """The timeline of ``model`` on ``ref`` (default ``main``, else ``HEAD``), oldest event first.

    Raises ``UnknownModel`` (exit 2) when the model was never declared, and ``InputError``
    (exit 2) with the history needed when a shallow clone cuts the model's history.
    """
    tenant, name = _check_id(model)
    root = Path(root).resolve()
    with open_repo(root) as repo:
        grep = NoteGrep(repo, f'"{model}"')  # runs while the history is read
        try:
            view = open_view(repo, root, ref, (f"specs/{tenant}/{name}.yaml", f"specs/{tenant}/{name}.yml"))
            path, _ = find_model_file(view, model)
            if path is None:
                path = find_removed_model_file(view, model)
            shallow = shallow_info(repo)
            if path is None:
                hint = _known_models_hint(view, model)
                more = f"; {shallow.hint('the model may be in older history')}" if shallow else ""
                raise UnknownModel(
                    f"model '{model}' does not exist: it is not declared at {view.ref} ({view.sha[:12]}) "
                    f"and was never removed from {', '.join(view.spec_dirs)} in its history{hint}{more}"
                )
            commits = read_log(repo, view.sha, [path], follow=True)
            if shallow and commits and not commits[-1].parents and commits[-1].sha in shallow.boundary:
                first = commits[-1]
                raise InputError(
                    shallow.hint(
                        f"the history of {view.local(path)} is cut at {first.sha[:12]} ({first.committer_date[:10]}); "
                        f"an audit of {model} needs its whole history, back to the commit that created the spec"
                    )
                )
            note_names = grep.result()
            blobs = cat_blobs(repo, _spec_blobs(commits) + note_names)
            noted = parse_note_blobs(note_names, blobs)
            from engine.audit.chain import integrity_marks

            marks = integrity_marks(repo, view.config, at=view.sha, prefix=view.prefix)
            timeline = _build(view, model, commits, blobs, noted, marks)
            timeline.files = sorted({view.local(ch.path) for c in commits for ch in c.changes}
                                    | {view.local(ch.old_path) for c in commits for ch in c.changes if ch.old_path})
            timeline.config = view.config
            return timeline
        finally:
            grep.close()


def _build(
    view: View, model: str, commits: list[LogCommit], blobs: dict[str, bytes | None], noted: list[LedgerEntry],
    marks: dict[str, str] | None = None,
) -> Timeline:
    from engine.audit.chain import mark_for

    marks = marks or {}
    loaded: dict[tuple[str, str], LoadedSpec | None] = {}

    def spec_of(blob: str | None, path: str | None) -> LoadedSpec | None:
        if not blob or not path:
            return None
        if (blob, path) not in loaded:
            spec = _load(blobs.get(blob) or b"", view.local(path), view)
            loaded[(blob, path)] = spec if spec is not None and spec.id == model else None
        return loaded[(blob, path)]

    timeline = Timeline(model=model, ref=view.ref, commit=view.sha, files=[], events=[])
    entries = _ledger_entries(commits, noted, timeline.warnings)
    change_shas = {c.sha for c in commits}
    rollouts = _rollout_records(entries, change_shas, model)

    oldest_first = list(reversed(commits))
    for i, c in enumerate(oldest_first):
        ch = _change_of(c)
        if ch is None:
            continue
        base = spec_of(ch.old_blob, ch.old_path or ch.path) if ch.status != "A" else None
        head = spec_of(ch.new_blob, ch.path) if ch.status != "D" else None
        timeline.specs[c.sha] = head
        if base is None and head is None:
            timeline.warnings.append(f"{c.sha[:12]}: the spec of {model} did not load on either side; no plan entry")
            plan = None
        else:
            plan = diff_specs(
                base.spec if base else None,
                head.spec if head else None,
                base_file=base.file if base else None,
                head_file=head.file if head else None,
                config=view.config,
            )
        start = when(c.committer_date) or _MIN
        stop = when(oldest_first[i + 1].committer_date) if i + 1 < len(oldest_first) else None
        later = [
            (sha, r) for sha, r in rollouts
            if (sha not in change_shas or sha == c.sha) and _within(r.get("recorded"), start, stop)
        ]
        record = _admitting_record(c.sha, entries, later, model)
        timeline.events.append(_change_event(view, model, c, ch, plan, base, head, record, marks))
    for sha, rec in rollouts:
        timeline.events.append(_rollout_event(sha, rec, model, mark_for(marks, sha, rec)))
    timeline.events.sort(key=lambda e: (when(e.get("date")) or _MIN))
    return timeline


def _ledger_entries(commits: list[LogCommit], noted: list[LedgerEntry], warnings: list[str]) -> dict[str, LedgerEntry]:
    """The ledger note of each commit (the log's first, then the others noted); invalid lines become warnings."""
    entries: dict[str, LedgerEntry] = {}
    for c in commits:
        if c.note is not None:
            entries[c.sha] = c.note
    for e in noted:
        entries.setdefault(e.commit, e)
    for e in entries.values():
        for bad in e.invalid:
            warnings.append(f"ledger note on {e.commit[:12]} line {bad['line']} is {bad['error']}: it is ignored")
    return entries


def _rollout_records(
    entries: dict[str, LedgerEntry], change_shas: set[str], model: str
) -> list[tuple[str, dict[str, Any]]]:
    """Rollout/shutdown records, in note order (oldest first by recorded time)."""
    rollouts: list[tuple[str, dict[str, Any]]] = []
    for e in entries.values():
        for rec in e.records:
            if ev.mentions(rec, model) or (e.commit in change_shas and (ev.is_rollout(rec) or ev.is_shutdown(rec))):
                rollouts.append((e.commit, rec))
    rollouts.sort(key=lambda item: str(item[1].get("recorded") or ""))
    return rollouts


def _change_event(
    view: View, model: str, c: LogCommit, ch: FileChange, plan: dict[str, Any] | None, base: LoadedSpec | None,
    head: LoadedSpec | None, record: dict[str, Any] | None, marks: dict[str, str],
) -> dict[str, Any]:
    """The event of one commit that changed the model's spec: its plan entry, approvals and admitting evidence."""
    from engine.audit.chain import mark_for

    event = _event_base(c, _kind(c, plan))
    approvals = ev.approvals_in(record) if record else None
    approvers = [str(a.get("approver")) for a in approvals] if approvals else []
    approvers += [a for a in c.trailer_approvers if a not in approvers]
    either = head or base
    tier = either.spec.spec.tier if either is not None else None
    required = list(view.config.tiers[tier].required_checks) if view.config and tier in view.config.tiers else []
    event.update(
        {
            "change": plan["change"] if plan else None,
            "pr": c.pr_number,
            "merge": len(c.parents) > 1,
            "file": view.local(ch.path),
            "previous_file": view.local(ch.old_path) if ch.old_path else None,
            "approvers": approvers,
            "approvals": approvals,
            "plan": plan,
            "reverts": c.reverts,
            "automatic": c.by_bot or c.is_shutdown,
            "admitted_by": {
                "rollout_commit": str(record.get("commit") or "") if record else None,
                "policy_decisions": [ev.decision_summary(d) for d in ev.decisions_for(record, model)]
                if record else [],
                "validation": [ev.validation_summary(v) for v in ev.validation_for(record, model)]
                if record else [],
            },
            "missing_evidence": ev.missing_evidence(record, model, required) if head is not None else [],
            "links": ev.links_of(record),
            "unverified": mark_for(marks, str(record.get("commit") or ""), record) if record else None,
        }
    )
    return event


_MIN = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
_MAX = datetime.fromisoformat("9999-12-31T00:00:00+00:00")


def _within(value: Any, start: datetime, stop: datetime | None) -> bool:
    t = when(str(value or "")) or _MAX
    return start <= t and (stop is None or t < stop)


def _kind(commit: LogCommit, plan: dict[str, Any] | None) -> str:
    if commit.reverts:
        return "revert"
    if commit.is_shutdown:
        return "shutdown"
    if commit.by_bot:
        return "automatic"
    change = plan["change"] if plan else "modified"
    return {"added": "created", "removed": "removed", "moved": "moved"}.get(change, "changed")


def filter_events(timeline: Timeline, since: datetime | None, until: datetime | None) -> Timeline:
    """The same timeline with only the events between ``since`` and ``until`` (inclusive)."""
    kept = [
        e for e in timeline.events
        if (since is None or (when(e.get("date")) or _MIN) >= since)
        and (until is None or (when(e.get("date")) or _MAX) <= until)
    ]
    return Timeline(timeline.model, timeline.ref, timeline.commit, timeline.files, kept, timeline.warnings,
                    timeline.specs, timeline.config)


# --- "which version was serving on DATE" ------------------------------------------------------------------


def _deployment(spec: LoadedSpec | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    dep = spec.spec.spec.deployment
    versions = {v.id: v.artifact.sha256 for v in spec.spec.spec.versions}
    if dep is None:
        return {"champion": None, "challengers": [], "failover": None, "versions": []}
    used = [dep.champion, *(c.version for c in dep.challengers), *([dep.failover] if dep.failover else [])]
    return {
        "champion": dep.champion,
        "challengers": [c.model_dump(mode="json", exclude_none=True) for c in dep.challengers],
        "failover": dep.failover,
        "versions": [{"id": v, "sha256": versions.get(v)} for v in dict.fromkeys(used)],
    }


def _is_ancestor(root: Path, older: str, newer: str) -> bool:
    if older == newer:
        return True
    with open_repo(root) as repo:
        status, _, _ = run_git(repo, "merge-base", "--is-ancestor", older, newer, check=False)
    return status == 0


def serving_at(root: Path, timeline: Timeline, at: datetime) -> dict[str, Any]:
    """What served on ``at``, who approved it, and on what evidence.

    The spec at the last successful rollout of the model before ``at`` (or, without rollout
    records, at the last change merged before then) and the approvals of that change.
    """
    changes = [e for e in timeline.events if "plan" in e and (when(e["date"]) or _MAX) <= at]
    rollouts = [
        e for e in timeline.events
        if e["kind"] == "rollout" and e.get("outcome") in ev.SERVING_OUTCOMES and e.get("changes")
        and (when(e.get("date")) or _MAX) <= at
    ]
    shutdowns = [e for e in timeline.events if e["kind"] == "shutdown" and "plan" not in e
                 and (when(e.get("date")) or _MAX) <= at]
    answer: dict[str, Any] = {"model": timeline.model, "at": to_utc_text(at), "serving": None, "change": None,
                              "rollout": None, "approved_by": [], "evidence": None, "missing_evidence": [],
                              "basis": ""}
    change: dict[str, Any] | None = None
    rollout = rollouts[-1] if rollouts else None
    if rollout is not None:
        for candidate in reversed(changes):
            if _is_ancestor(root, candidate["commit"], rollout["commit"]):
                change = candidate
                break
        if change is None:  # the rolled-out commit is not on this branch: the last change merged before it
            before = [e for e in changes if (when(e["date"]) or _MAX) <= (when(rollout.get("date")) or _MIN)]
            change = before[-1] if before else None
        answer["basis"] = f"rollout of {rollout['commit'][:12]} recorded {rollout['date']} ({rollout['outcome']})"
    elif changes:
        change = changes[-1]
        answer["basis"] = "git history only: no rollout record (ledger note) for this model before that date"
        answer["missing_evidence"].append("no rollout record: serving is inferred from the merged spec")
    if change is None:
        answer["basis"] = "the model had no merged spec on that date"
        return answer
    answer["change"] = {k: change.get(k) for k in ("commit", "date", "kind", "author", "committer", "pr",
                                                     "subject", "file")}
    answer["serving"] = _deployment(timeline.specs.get(change["commit"]))
    answer["rollout"] = rollout
    answer["approved_by"] = change.get("approvers", [])
    answer["approvals"] = change.get("approvals")
    answer["evidence"] = rollout if rollout is None else {
        "policy_decisions": rollout.get("policy_decisions", []),
        "validation": rollout.get("validation", []),
    }
    if rollout is not None and not rollout.get("policy_decisions") and not rollout.get("validation"):
        answer["evidence"] = change.get("admitted_by")
    answer["missing_evidence"] += change.get("missing_evidence", [])
    if shutdowns and (rollout is None or (when(shutdowns[-1]["date"]) or _MIN) > (when(rollout["date"]) or _MIN)):
        answer["shutdown"] = shutdowns[-1]
    if answer["serving"] is None:
        answer["basis"] += "; the model was removed by then"
    return answer


