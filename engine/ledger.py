"""Evidence in Git: one JSON record per rollout, as a git note on the rolled-out commit.

Audit stage. Records go to ``refs/notes/govops`` with ``git notes append`` (one compact
JSON document per line), so earlier records are never rewritten; ``push_notes`` sends
the notes ref to a remote, merging concurrent appends with git's ``cat_sort_uniq``
strategy. Reading tolerates notes that are not valid JSON: they are reported, never
crashed on. Nothing here changes a branch, the index or the working tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import GovopsError, InputError
from engine.gitread import open_repo

NOTES_REF = "govops"
FULL_NOTES_REF = f"refs/notes/{NOTES_REF}"
_RESULT_KEYS = ("check", "model", "version", "status", "summary", "metrics", "inputs")


class LedgerError(GovopsError):
    """Git refused to store or push a note (exit 1)."""

    exit_code = 1


@dataclass
class LedgerEntry:
    """The records on one commit, and the lines of its note that are not valid JSON."""

    commit: str
    records: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """JSON form (``govops ledger show --format json``)."""
        return {"commit": self.commit, "records": self.records, "invalid": self.invalid}


def read_evidence(directory: Path) -> dict[str, Any]:
    """The validation results and policy decisions in a PR check's output directory.

    Every ``*.json`` file is read: check result documents (``check``, ``model``,
    ``status``) become ``validation``; OPA-decision-log-like records (``decision_id``),
    alone, in a list or under a ``decisions`` key (also ``policy.decisions`` of the
    ``pr-check.json`` report), become ``policy_decisions``; the change-request context of
    that report (author, approvals) is kept as ``context``; every file's sha256 is kept so
    the record points at exact bytes.
    """
    if not directory.is_dir():
        raise InputError(f"evidence directory {directory} does not exist", file=str(directory))
    validation: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    files: dict[str, str] = {}
    summary: Any = None
    context: Any = None
    for path in sorted(directory.rglob("*.json")):
        raw = path.read_bytes()
        rel = path.relative_to(directory).as_posix()
        files[rel] = hashlib.sha256(raw).hexdigest()
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if rel == "summary.json":
            summary = data
        if isinstance(data, dict) and isinstance(data.get("policy"), dict):  # govops pr-check's report
            data = [data, data["policy"]]
            context = data[0].get("context") if isinstance(data[0].get("context"), dict) else context
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict):
                continue
            if {"check", "model", "status"} <= item.keys():
                validation.append({k: item[k] for k in _RESULT_KEYS if k in item})
            if "decision_id" in item:
                decisions.append(item)
            for nested in item.get("decisions", []) if isinstance(item.get("decisions"), list) else []:
                if isinstance(nested, dict) and "decision_id" in nested:
                    decisions.append(nested)
    return {
        "dir": str(directory),
        "files": files,
        "validation": validation,
        "policy_decisions": decisions,
        **({"summary": summary} if summary is not None else {}),
        **({"context": context} if context is not None else {}),
    }


def build_record(
    *,
    target: str,
    ref: str,
    commit: str,
    digest: str,
    previous_digest: str | None,
    result: dict[str, Any],
    evidence: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ledger record of one rollout."""
    return {
        "kind": "govops.rollout/v1",
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "govops": __version__,
        "actor": os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown",
        "target": target,
        "ref": ref,
        "commit": commit,
        "digest": digest,
        "previous_digest": previous_digest,
        "outcome": result.get("outcome"),
        "message": result.get("message", ""),
        "changes": result.get("changes", []),
        "health": result.get("health", []),
        "steps": result.get("steps", []),
        "evidence": evidence,
    }


def append_record(root: Path, commit: str, record: dict[str, Any]) -> None:
    """Append ``record`` (one JSON line) to the govops note of ``commit``; never rewrites a note."""
    import git

    line = json.dumps(record, sort_keys=True, separators=(",", ":"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        fh.write(line + "\n")
        tmp = fh.name
    try:
        with open_repo(root) as repo:
            repo.git.notes("--ref", NOTES_REF, "append", "-F", tmp, commit)
    except git.GitCommandError as exc:
        raise LedgerError(f"could not append the ledger note to {commit[:12]}: {exc.stderr.strip()}") from exc
    finally:
        os.unlink(tmp)


def push_notes(root: Path, remote: str | None = None) -> str:
    """Push ``refs/notes/govops`` to ``remote`` (default: origin, else the only remote); a message."""
    import git

    with open_repo(root) as repo:
        names = [r.name for r in repo.remotes]
        if not names:
            return "no remote configured: the ledger notes stay in this repository"
        name = remote or ("origin" if "origin" in names else names[0])
        if name not in names:
            raise InputError(f"no remote named '{name}' (remotes: {', '.join(names)})")
        spec = f"{FULL_NOTES_REF}:{FULL_NOTES_REF}"
        try:
            repo.git.push(name, spec)
        except git.GitCommandError:
            # someone else appended meanwhile: merge their notes (keeping every line), then push again
            try:
                repo.git.fetch(name, f"+{FULL_NOTES_REF}:refs/notes/govops-remote")
                repo.git.notes("--ref", NOTES_REF, "merge", "-s", "cat_sort_uniq", "refs/notes/govops-remote")
                repo.git.push(name, spec)
            except git.GitCommandError as exc:
                raise LedgerError(f"could not push {FULL_NOTES_REF} to {name}: {exc.stderr.strip()}") from exc
        return f"pushed {FULL_NOTES_REF} to {name}"


def parse_note(commit: str, text: str) -> LedgerEntry:
    """The records of one note (one JSON object per line); lines that are not JSON are kept as invalid."""
    entry = LedgerEntry(commit)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            entry.invalid.append({"line": number, "text": line[:200], "error": f"not valid JSON: {exc}"})
            continue
        if isinstance(data, dict):
            entry.records.append(data)
        else:
            entry.invalid.append({"line": number, "text": line[:200], "error": "not a JSON object"})
    return entry


def read_ledger(root: Path, ref: str | None = None) -> list[LedgerEntry]:
    """The ledger entries of ``ref``'s commit, or of every noted commit (one ``notes list`` call)."""
    import git

    from engine.rollout.desired import resolve_commit

    commit = resolve_commit(root, ref) if ref else None
    with open_repo(root) as repo:
        try:
            listing = repo.git.notes("--ref", NOTES_REF, "list", *([commit] if commit else []))
        except git.GitCommandError:
            return []  # no notes ref yet, or no note on this commit
        entries = []
        for line in listing.splitlines():
            parts = line.split()
            blob, noted = (parts[0], commit) if commit and len(parts) == 1 else (parts[0], parts[1])
            text = repo.odb.stream(bytes.fromhex(blob)).read().decode("utf-8", errors="replace")
            entries.append(parse_note(str(noted), text))
    return entries


def render_text(entries: list[LedgerEntry]) -> str:
    """Human-readable records, one block per commit."""
    if not entries:
        return "no govops ledger records\n"
    out: list[str] = []
    for entry in entries:
        out.append(f"commit {entry.commit}\n")
        for rec in entry.records:
            out.append(
                f"  {rec.get('recorded', '?')}  {rec.get('target', '?')}  {rec.get('outcome', '?')}"
                f"  digest {str(rec.get('digest', ''))[:12]}  by {rec.get('actor', '?')}\n"
            )
            if rec.get("message"):
                out.append(f"    {rec['message']}\n")
            for change in rec.get("changes", []):
                role = f" ({change['role']})" if change.get("role") else ""
                out.append(f"    {change.get('action')} {change.get('model')} {change.get('version')}{role}\n")
            ev = rec.get("evidence") or {}
            if ev:
                out.append(
                    f"    evidence: {len(ev.get('validation', []))} validation result(s), "
                    f"{len(ev.get('policy_decisions', []))} policy decision(s)\n"
                )
        for bad in entry.invalid:
            out.append(f"  warning: note line {bad['line']} is {bad['error']}: {bad['text']}\n")
    return "".join(out)
