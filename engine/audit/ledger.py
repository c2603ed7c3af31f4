"""Evidence in Git: one JSON record per rollout, as a git note on the rolled-out commit.

Audit stage. Records go to ``refs/notes/govops`` with ``git notes append`` (one compact
JSON document per line), so earlier records are never rewritten. Each record is chained
(``seq``, ``prev``: the digest of the record before it in the same notes ref) and each
notes commit is made again with ``git commit-tree`` so that it announces its record
(``Govops-Record`` trailer) and is signed by the CI identity when ``user.signingkey`` is
set. ``push_notes`` sends a notes ref to a remote; when another job pushed first it
appends this job's records again on top of the remote chain. Reading tolerates notes
that are not valid JSON: they are reported, never crashed on. Nothing here changes a
branch, the index or the working tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import __version__
from engine.spec.errors import GovopsError, InputError

NOTES_REF = "govops"
FULL_NOTES_REF = f"refs/notes/{NOTES_REF}"
EVIDENCE_REF = "govops-evidence"
FULL_EVIDENCE_REF = f"refs/notes/{EVIDENCE_REF}"
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
        except (ValueError, RecursionError):  # (a PR's result file: not JSON, or nested past the stack)
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


def canonical(record: dict[str, Any]) -> str:
    """The one JSON line a record is stored as (sorted keys, no spaces): what its digest is taken over."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def split_note(text: str) -> list[str]:
    """The lines of a note, split on newline characters only.

    ``str.splitlines`` also breaks at U+2028, U+2029, U+0085 and other characters that
    ``canonical`` writes raw inside a JSON string: a label holding one would cut a record
    in two and hide it from every reader.
    """
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def line_digest(line: str) -> str:
    """``sha256:<hex>`` of one stored note line (the record as written, byte for byte)."""
    return "sha256:" + hashlib.sha256(line.encode("utf-8")).hexdigest()


def full_ref(ref: str) -> str:
    """``govops`` -> ``refs/notes/govops``."""
    return ref if ref.startswith("refs/") else f"refs/notes/{ref}"


def chain_head(repo: Any, ref: str = NOTES_REF) -> tuple[int, str | None]:
    """``(seq, digest)`` of the newest chained record in the notes ref (``(0, None)`` for an empty ledger).

    Read from the notes themselves (one ``notes list`` and one ``cat-file --batch``), never
    from a commit message, so a forged message cannot move the chain.
    """
    from engine.change.gitread import cat_blobs, run_git
    from engine.change.plumbing import out_lines

    status, out, _ = run_git(repo, "notes", "--ref", ref, "list", check=False)
    if status != 0:
        return 0, None
    pairs = [line.split() for line in out_lines(out) if line.strip()]
    blobs = cat_blobs(repo, [p[0] for p in pairs])
    best: tuple[int, str | None] = (0, None)
    for blob in blobs.values():
        for line in split_note((blob or b"").decode("utf-8", "replace")):
            if not line.startswith("{"):
                continue
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: a deeply nested line written by hand
                continue
            seq = data.get("seq") if isinstance(data, dict) else None
            if isinstance(seq, int) and not isinstance(seq, bool) and seq > best[0]:
                best = (seq, line_digest(line))
    return best


def _signing_key(repo: Any) -> str | None:
    from engine.change.gitread import run_git

    status, out, _ = run_git(repo, "config", "--get", "user.signingkey", check=False)
    return out.decode().strip() or None if status == 0 else None


def append_record(
    root: Path, commit: str, record: dict[str, Any], *, ref: str = NOTES_REF, allowed_signers: list[str] | None = None
) -> dict[str, Any]:
    """Append ``record`` to the note of ``commit`` in ``refs/notes/<ref>``, chained and (if configured) signed.

    The record gets ``seq`` (its place in this notes ref) and ``prev`` (the digest of the
    record before it), so removing or editing any record breaks the chain. ``git notes
    append`` builds the notes tree (git's own fan-out), then the notes commit is made
    again with ``git commit-tree`` carrying ``Govops-Record``/``Govops-Commit`` trailers,
    signed (``-S``) when ``user.signingkey`` is set (for SSH keys: ``gpg.format ssh``).
    Earlier records are never rewritten. With ``allowed_signers`` (govops.yaml's
    ``ledger.allowedSigners``) the current tip must carry a good signature first: the CI
    identity never signs on top of a ledger someone else wrote. Returns the record as stored.
    """
    import tempfile  # (here: verify, which never writes, starts faster without it)

    import git

    from engine.change.gitread import open_repo, run_git

    with open_repo(root) as repo:
        seq, prev = chain_head(repo, ref)
        stored = {**record, "seq": seq + 1, "prev": prev, "ledger": full_ref(ref)}
        line = canonical(stored)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
            fh.write(line + "\n")
            tmp = fh.name
        target = full_ref(ref)
        try:
            status, old, _ = run_git(repo, "rev-parse", "--verify", "--quiet", target, check=False)
            parent = old.decode().strip() if status == 0 else None
            if allowed_signers:
                _require_no_rollback(repo, ref, parent, allowed_signers)
            if parent and allowed_signers:
                _require_signed_tip(repo, target, parent, allowed_signers)
            repo.git.notes("--ref", ref, "append", "-F", tmp, commit)
            tree = run_git(repo, "rev-parse", f"{target}^{{tree}}")[1].decode().strip()
            message = (f"govops ledger: {stored.get('kind', 'record')} on {commit[:12]}\n\n"
                       f"Govops-Commit: {commit}\nGovops-Record: {line_digest(line)}\nGovops-Seq: {seq + 1}\n")
            args = ["commit-tree", *(["-S"] if _signing_key(repo) else []), tree,
                    *(["-p", parent] if parent else []), "-F", "-"]
            _, made, _ = run_git(repo, *args, stdin=message.encode())
            new = made.decode().strip()
            run_git(repo, "update-ref", "-m", "govops ledger append", target, new)
            if allowed_signers:  # the seq, anchored outside the notes ref: a rollback of the ref shows
                from engine.audit.chain import anchor_ref

                run_git(repo, "update-ref", anchor_ref(ref, seq + 1), new)
        except git.GitCommandError as exc:
            raise LedgerError(f"could not append the ledger note to {commit[:12]}: {exc.stderr.strip()}") from exc
        finally:
            os.unlink(tmp)
    return stored


def _require_no_rollback(repo: Any, ref: str, tip: str | None, allowed: list[str]) -> None:
    from engine.audit.chain import RefState, check_anchors, read_ref

    state = read_ref(repo, ref) if tip else RefState(full_ref(ref), None)
    for finding in check_anchors(repo, state, allowed=allowed):
        if finding.severity != "error":
            continue  # (a tag that is no anchor: verify warns about it)
        raise LedgerError(f"refusing to append to {full_ref(ref)}: {finding.message} (fetch the notes first: "
                          "git fetch origin '+refs/notes/*:refs/notes/*'; then run `govops verify`)")


def _require_signed_tip(repo: Any, target: str, tip: str, allowed: list[str]) -> None:
    from engine.audit.chain import SIGNATURE_TEXT, allowed_signers_file, notes_commits

    with allowed_signers_file(allowed) as signers:
        [tip_commit] = notes_commits(repo, tip, signers, every=False)
    if tip_commit.signature != "G":
        text = SIGNATURE_TEXT.get(tip_commit.signature, f"has signature status {tip_commit.signature!r}")
        raise LedgerError(f"refusing to append to {target}: its tip {tip[:12]} {text}; the ledger was changed by "
                          "someone other than the CI identity (run `govops verify`). If the CI key was replaced in "
                          "ledger.allowedSigners: add the new key beside the old one first, let the CI write with "
                          "it, then remove the old key (README, \"Rotating the CI key\")")


def push_notes(
    root: Path,
    remote: str | None = None,
    *,
    ref: str = NOTES_REF,
    pending: list[tuple[str, dict[str, Any]]] | None = None,
    attempts: int = 5,
    allowed_signers: list[str] | None = None,
) -> str:
    """Push ``refs/notes/<ref>`` to ``remote`` (default: origin, else the only remote); a message.

    When the push is rejected (another job appended meanwhile), the remote ledger is
    fetched and this job's ``pending`` records (``(commit, record)`` as passed to
    :func:`append_record`) are appended again on top of it, so the chain stays one line;
    without ``pending``, git's ``cat_sort_uniq`` merge keeps every line (the chain then
    forks, which ``govops verify`` reports).
    """
    import git

    from engine.change.gitread import open_repo

    target = full_ref(ref)
    with open_repo(root) as repo:
        names = [r.name for r in repo.remotes]
        if not names:
            return "no remote configured: the ledger notes stay in this repository"
        name = remote or ("origin" if "origin" in names else names[0])
        if name not in names:
            raise InputError(f"no remote named '{name}' (remotes: {', '.join(names)})")
        spec = f"{target}:{target}"
        from engine.audit.chain import ANCHOR_PREFIX

        anchors = f"{ANCHOR_PREFIX}{target.removeprefix('refs/notes/')}/"
        last: git.GitCommandError | None = None
        for _ in range(max(1, attempts)):
            try:
                if allowed_signers:  # with the anchor tags of this ref (never forced)
                    repo.git.push("--atomic", name, spec, f"{anchors}*:{anchors}*")
                else:
                    repo.git.push(name, spec)
                return f"pushed {target} to {name}"
            except git.GitCommandError as exc:
                last = exc
            try:
                if pending:
                    repo.git.fetch(name, f"+{target}:{target}")
                    if allowed_signers:  # the remote's anchors replace the ones this job made for its lost seq
                        _drop_anchors(repo, anchors)
                        repo.git.fetch(name, f"+{anchors}*:{anchors}*")
                else:
                    repo.git.fetch(name, f"+{target}:{target}-remote")
                    repo.git.notes("--ref", ref, "merge", "-s", "cat_sort_uniq", f"{target}-remote")
            except git.GitCommandError as exc:
                raise LedgerError(f"could not push {target} to {name}: {exc.stderr.strip()}") from exc
            if pending:
                for commit, record in pending:
                    append_record(root, commit, {k: v for k, v in record.items()
                                                 if k not in ("seq", "prev", "ledger")}, ref=ref,
                                  allowed_signers=allowed_signers)
        detail = last.stderr.strip() if last is not None else ""
        raise LedgerError(f"could not push {target} to {name} after {attempts} attempt(s): {detail}")


def _drop_anchors(repo: Any, prefix: str) -> None:
    from engine.change.gitread import run_git

    _, out, _ = run_git(repo, "for-each-ref", "--format=%(refname)", prefix, check=False)
    from engine.change.plumbing import out_lines

    for refname in out_lines(out):  # (newlines only: a ref name may hold U+2028, or bytes that are not UTF-8)
        if refname:
            run_git(repo, "update-ref", "-d", refname, check=False)


def parse_note(commit: str, text: str) -> LedgerEntry:
    """The records of one note (one JSON object per line); lines that are not JSON are kept as invalid.

    So is a record with a field of the wrong shape (``evidence.shape_problem``): every reader of
    entries (audit, report, explain, model cards) may then take a record's fields as their shape.
    """
    from engine.audit.evidence import shape_problem

    entry = LedgerEntry(commit)
    for number, line in enumerate(split_note(text), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            entry.invalid.append({"line": number, "text": line[:200], "error": f"not valid JSON: {exc}"})
            continue
        except RecursionError:  # a line of deeply nested JSON, written by hand: a finding, never a crash
            entry.invalid.append({"line": number, "text": line[:200], "error": "not valid JSON: nested too deeply"})
            continue
        if not isinstance(data, dict):
            entry.invalid.append({"line": number, "text": line[:200], "error": "not a JSON object"})
        elif (malformed := shape_problem(data)) is not None:  # a field no reader can take: kept out of records
            entry.invalid.append({"line": number, "text": line[:200], "error": f"a malformed record: {malformed}"})
        else:
            entry.records.append(data)
    return entry


def read_ledger(root: Path, ref: str | None = None, *, notes_ref: str = NOTES_REF) -> list[LedgerEntry]:
    """The ledger entries of ``ref``'s commit, or of every noted commit (one ``notes list`` call)."""
    import git

    from engine.change.gitread import open_repo
    from engine.change.specs_at import resolve_commit

    commit = resolve_commit(root, ref) if ref else None
    with open_repo(root) as repo:
        try:
            listing = repo.git.notes("--ref", notes_ref, "list", *([commit] if commit else []))
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
