"""The ledger's own integrity: hash chain, signatures and completeness of the notes refs.

Audit stage (read side). A notes ref (``refs/notes/govops`` for rollouts,
``refs/notes/govops-evidence`` for PR evidence) is one chain: record ``seq`` N names the
digest of record N-1 in ``prev``, and every notes commit announces the record it added
(``Govops-Record``) and is signed by the CI identity (SSH, allowed signers from
``govops.yaml``). Signatures are checked by git itself (``git verify-commit`` /
``%G?`` with ``gpg.ssh.allowedSignersFile``, i.e. ``ssh-keygen -Y verify``): by default the
tip of each ref, whose announced record transitively fixes every earlier one through the
chain, and the CI identity never signs on top of a tip it cannot verify; ``every=True``
checks every notes commit (one ``git log``). Nothing here writes to the repository;
every problem is returned with the commit and the record it concerns.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.audit.ledger import full_ref, line_digest, split_note
from engine.audit.trail import cat_blobs, note_object, run_git
from engine.change.plumbing import out_lines

_TRAILER_PATTERN = r"^Govops-(Record|Commit|Seq):[ \t]*(\S+)[ \t]*$"
"""A notes commit's trailer, on one line (a "whitespace" class would read a value from the next line)."""
_TRAILER = re.compile(_TRAILER_PATTERN, re.MULTILINE)
_TRAILER_BYTES = re.compile(_TRAILER_PATTERN.encode(), re.MULTILINE)  # (the same, for ``git log`` read as bytes)
SIGNATURE_TEXT = {
    "N": "is not signed",
    "B": "has a bad signature",
    "U": "is signed by a key that is not in govops.yaml's ledger.allowedSigners",
    "E": "has a signature that cannot be checked",
    "R": "is signed with a revoked key",
    "X": "has an expired signature",
    "Y": "is signed with an expired key",
}


@dataclass
class Line:
    """One stored note line: the commit it is attached to, its digest and its record (``None``: not JSON)."""

    commit: str
    number: int
    text: str
    digest: str
    record: dict[str, Any] | None
    error: str | None = None


@dataclass
class Finding:
    """A problem of the chain, in ``engine.audit.verify.Problem``'s terms."""

    check: str
    commit: str
    message: str
    record: str | None = None
    severity: str = "error"


@dataclass
class RefState:
    """Everything read from one notes ref."""

    ref: str
    tip: str | None
    lines: list[Line] = field(default_factory=list)

    def records(self) -> Iterator[tuple[Line, dict[str, Any]]]:
        """The lines that are JSON objects, with their record."""
        for line in self.lines:
            if line.record is not None:
                yield line, line.record


def read_ref(repo: Any, ref: str, *, tips: Mapping[str, str] | None = None) -> RefState:
    """Every line of every note in ``ref`` (one ``notes list``, one ``cat-file --batch``).

    ``tips``: ``refname -> commit`` already read (one ``for-each-ref`` for every ref a caller
    needs); the ref is absent when it is not there.
    """
    target = full_ref(ref)
    if tips is not None:
        tip = tips.get(target)
    else:
        status, out, _ = run_git(repo, "rev-parse", "--verify", "--quiet", target, check=False)
        tip = out.decode().strip() if status == 0 else None
    state = RefState(target, tip)
    if tip is None:
        return state
    _, listing, _ = run_git(repo, "notes", "--ref", ref, "list")
    pairs = [line.split() for line in out_lines(listing) if line.strip()]
    blobs = cat_blobs(repo, [p[0] for p in pairs])
    for blob, commit in pairs:
        text = (blobs.get(blob) or b"").decode("utf-8", "replace")
        for number, raw in enumerate(split_note(text), 1):
            if not raw.strip():
                continue
            error = None
            try:
                data = json.loads(raw)
            except ValueError as exc:
                data, error = None, f"not valid JSON: {exc}"
            except RecursionError:  # a line of deeply nested JSON, written by hand
                data, error = None, "not valid JSON: nested too deeply"
            if data is not None and not isinstance(data, dict):
                data, error = None, "not a JSON object"
            state.lines.append(Line(commit, number, raw, line_digest(raw), data, error))
    return state


def entries_of(state: RefState) -> list[Any]:
    """The notes of a ref as ``ledger.LedgerEntry`` values (what ``all_notes`` gives), without reading again."""
    from engine.audit.ledger import LedgerEntry

    entries: dict[str, LedgerEntry] = {}
    for line in state.lines:
        entry = entries.setdefault(line.commit, LedgerEntry(line.commit))
        if line.record is not None:
            entry.records.append(line.record)
        else:
            entry.invalid.append({"line": line.number, "text": line.text[:200], "error": line.error or "invalid"})
    return list(entries.values())


@contextmanager
def allowed_signers_file(lines: list[str]) -> Iterator[str]:
    """A temporary ssh ``allowed_signers`` file holding ``lines`` (govops.yaml's ``ledger.allowedSigners``)."""
    fd, path = _private_file("govops-allowed-signers-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(line.strip() + "\n" for line in lines if line.strip()))
        yield path
    finally:
        os.unlink(path)


def _private_file(prefix: str) -> tuple[int, str]:
    """``tempfile.mkstemp(prefix=prefix)`` in ``$TMPDIR`` or /tmp, without importing ``tempfile``.

    ``tempfile`` brings ``shutil``, ``random``, ``bz2`` and ``lzma``: 5 ms of every ``verify``,
    which needs one file. Created exclusively, owner-only, never through a symbolic link;
    anywhere else (no writable /tmp) ``tempfile`` chooses.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for base in (os.environ.get("TMPDIR"), "/tmp"):
        if base and os.path.isdir(base):
            path = os.path.join(os.path.abspath(base), prefix + os.urandom(8).hex())
            try:
                return os.open(path, flags, 0o600), path
            except OSError:
                continue
    import tempfile

    return tempfile.mkstemp(prefix=prefix)


@dataclass
class NotesCommit:
    """One commit of a notes ref: its signature status and the record it announced."""

    sha: str
    parents: list[str]
    signature: str
    signer: str
    announced: dict[str, str]
    touched: list[str] = field(default_factory=list)
    """The notes this commit changed (from its tree diff, ``--name-only``): what an unsigned commit is blamed for."""


def notes_commits(repo: Any, tip: str, signers: str, *, every: bool) -> list[NotesCommit]:
    """The tip (or every commit) of a notes ref with git's verdict on its signature.

    One ``git log -z``, read by position (five fields a commit: a message may hold 0x1e but
    never NUL); the notes each commit without a good signature changed come from a second
    ``git log`` that only names paths (``_touched``).
    """
    args = ["-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "-z",
            "--format=%H%x00%P%x00%G?%x00%GS%x00%B", *([] if every else ["-n", "1"]), tip, "--"]
    _, out, _ = run_git(repo, *args)
    items = out.split(b"\0")
    found = []
    for k in range(0, len(items) - 4, 5):  # commits are NUL-separated: the next commit's id follows the body's NUL
        sha, parents, sig, signer, body = (x.decode("utf-8", "replace") for x in items[k : k + 5])
        found.append(NotesCommit(sha.strip(), parents.split(), sig.strip(), signer.strip(), parse_trailers(body)))
    unsigned = [c for c in found if c.signature != "G"]
    if unsigned:
        touched = _touched(repo, [c.sha for c in unsigned])
        for c in unsigned:
            c.touched = touched.get(c.sha, [])
    return found


def _touched(repo: Any, commits: list[str]) -> dict[str, list[str]]:
    """``commit -> the notes it changed`` (against its first parent; a non-note path as it is).

    Each commit starts with NUL, NUL, 0x1e in the output: a path never holds NUL and is never
    empty, so no path can pose as a commit.
    """
    _, out, _ = run_git(repo, "log", "--no-walk=unsorted", "--stdin", "-z", "--no-renames", "--name-only",
                        "--format=%x00%x00%x1e%H", stdin=("\n".join(commits) + "\n").encode(), check=False)
    found: dict[str, list[str]] = {}
    for part in out.split(b"\0\0\x1e")[1:]:
        sha, *names = part.split(b"\0")
        found[sha.decode("ascii", "replace").strip()] = [
            note_object(n) or n for n in (x.lstrip(b"\n").decode("utf-8", "surrogateescape") for x in names) if n]
    return found


def parse_trailers(body: str) -> dict[str, str]:
    """The ``Govops-Record``/``-Commit``/``-Seq`` trailers of a notes commit's message (lower-case keys)."""
    return {m.group(1).lower(): m.group(2) for m in _TRAILER.finditer(body)}


def check_signatures(repo: Any, state: RefState, allowed: list[str], *, every: bool,
                     era_signers: Callable[[str], tuple[str, ...] | None] | None = None) -> list[Finding]:
    """Signature problems of the notes ref (the tip, or every commit) against the allowed signers.

    ``era_signers``: ``record digest -> the signer list in force when that record was written``
    (``engine.audit.signer_eras``). A notes commit below the tip that the tip's list does not
    accept is judged again by the list of the era of the record it added, so a key rotated out
    since signed its own era's commits in good standing. The tip is always judged by the tip's list.
    """
    if state.tip is None:
        return []
    findings: list[Finding] = []
    with allowed_signers_file(allowed) as signers:
        commits = notes_commits(repo, state.tip, signers, every=every)
    if era_signers is not None:
        _rejudge(repo, [c for c in commits if c.sha != state.tip], era_signers)
    newest = max((int(r["seq"]) for _, r in state.records() if _is_seq(r.get("seq"))), default=None)
    by_digest = {line.digest: line for line in state.lines}
    trusted = trusted_digests(repo, state, allowed) if any(c.signature != "G" for c in commits) else None
    first_unsigned = True
    unsigned: dict[str, list[str]] = {}  # note -> its records no good signature covers: grouped once, not
    if trusted is not None:  # scanned again per blamed note (quadratic in the notes of one unsigned commit)
        for each in state.lines:
            if each.digest not in trusted:
                unsigned.setdefault(each.commit, []).append(each.digest)
    for c in commits:
        target = c.announced.get("commit", "?") if c.signature == "G" else "?"
        if c.signature != "G":
            # an unsigned commit's message is the attacker's: blame what its tree diff changed, and every
            # record no good signature covers
            text = SIGNATURE_TEXT.get(c.signature, f"has signature status {c.signature!r}")
            blamed = list(dict.fromkeys(c.touched + (list(unsigned) if first_unsigned else [])))
            blamed, first_unsigned = blamed or [c.sha], False
            for note in blamed:
                records = unsigned.get(note, [])
                findings.append(Finding(
                    "signature", note,
                    f"{state.ref} commit {c.sha[:12]} {text}: the ledger was written by someone other than the CI "
                    f"identity (the note on {note[:12]} was changed; {len(records)} record(s) on it are covered by "
                    "no good signature)", records[0] if records else None))
            continue
        record = c.announced.get("record")
        if c.sha == state.tip:
            line = by_digest.get(record or "")
            seq = line.record.get("seq") if line is not None and line.record is not None else None
            if line is None:
                findings.append(Finding(
                    "signature", target, f"the signed tip {c.sha[:12]} of {state.ref} announces record "
                    f"{str(record)[:19]} on {target[:12]}, which is not in the ledger: it was edited or removed",
                    record))
            elif seq != newest:
                findings.append(Finding(
                    "chain", line.commit, f"the signed tip {c.sha[:12]} of {state.ref} announces record seq {seq} "
                    f"but the ledger's newest record is seq {newest}: records were added without the CI identity",
                    record))
    return findings


def _rejudge(repo: Any, commits: list[NotesCommit],
             era_signers: Callable[[str], tuple[str, ...] | None]) -> None:
    """Give each commit the tip's list refused its era's verdict (one ``git log --no-walk`` per era list)."""
    groups: dict[tuple[str, ...], list[NotesCommit]] = {}
    for c in commits:
        if c.signature != "G":
            listed = era_signers(c.announced.get("record", ""))
            if listed:
                groups.setdefault(listed, []).append(c)
    for listed, group in groups.items():
        verdicts = signature_verdicts(repo, [c.sha for c in group], list(listed))
        for c in group:
            c.signature = verdicts.get(c.sha, c.signature)


def signature_verdicts(repo: Any, commits: list[str], signers: list[str]) -> dict[str, str]:
    """``commit -> %G?`` of each commit, judged by ``signers`` (one ``git log --no-walk``)."""
    with allowed_signers_file(signers) as path:
        status, out, _ = run_git(repo, "-c", f"gpg.ssh.allowedSignersFile={path}", "log", "--no-walk=unsorted",
                                 "--stdin", "--format=%H %G?", stdin=("\n".join(commits) + "\n").encode(),
                                 check=False)
    rows = [r.split() for r in out_lines(out)] if status == 0 else []
    return {r[0]: r[1] for r in rows if len(r) == 2}


def _is_seq(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _gaps(present: list[int]) -> list[tuple[int, int]]:
    """The runs ``(low, high)`` of numbers from 1 up to the largest of ``present`` (sorted) that are not in it."""
    gaps: list[tuple[int, int]] = []
    expected = 1
    for seq in present:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = max(expected, seq + 1)
    return gaps


def check_chain(state: RefState, *, required: bool) -> list[Finding]:
    """Gaps, forks, broken ``prev`` links, unchained records and ``commit`` fields that name another commit."""
    findings: list[Finding] = []
    by_seq: dict[int, list[Line]] = {}
    for line, rec in state.records():
        commit = rec.get("commit")
        if isinstance(commit, str) and commit and commit != line.commit:
            findings.append(Finding(
                "commit-field", line.commit, f"the {state.ref} note on {line.commit[:12]} holds a record whose "
                f"commit field says {commit[:12]}: the note was copied or the field rewritten", line.digest))
        seq = rec.get("seq")
        if not (isinstance(seq, int) and _is_seq(seq) and seq >= 1):
            findings.append(Finding(
                "chain", line.commit, f"the {state.ref} record on {line.commit[:12]} (line {line.number}) is not "
                "chained (no seq/prev): written by hand or by an old govops", line.digest,
                "error" if required else "warning"))
            continue
        assert isinstance(seq, int)
        by_seq.setdefault(seq, []).append(line)
    if not by_seq:
        return findings
    present = sorted(by_seq)
    for low, high in _gaps(present):  # one finding per run of missing numbers (a seq of 10**9 is one finding)
        after = by_seq[high + 1][0]
        span = f"seq {low}" if low == high else f"seqs {low} to {high}"
        findings.append(Finding(
            "chain", after.commit, f"{state.ref} record {span} {'is' if low == high else 'are'} missing (the record "
            f"after {'it' if low == high else 'them'} is on {after.commit[:12]}): a record or a whole note was "
            "removed", after.digest))
    for seq in present:
        lines = by_seq[seq]
        if len(lines) > 1:
            findings.append(Finding(
                "chain", lines[1].commit, f"{state.ref} has {len(lines)} records with seq {seq} (on "
                f"{', '.join(x.commit[:12] for x in lines)}): the chain forked (a record was inserted or copied)",
                lines[1].digest))
        if seq == 1:
            continue
        before = by_seq.get(seq - 1)
        for line in lines:
            assert line.record is not None
            prev = line.record.get("prev")
            if before and prev not in {b.digest for b in before}:
                b = before[0]
                findings.append(Finding(
                    "chain", b.commit, f"{state.ref} record seq {seq} on {line.commit[:12]} names previous record "
                    f"{str(prev)[:19]} but record seq {seq - 1} on {b.commit[:12]} has digest {b.digest[:19]}: "
                    f"record seq {seq - 1} was edited after it was written", b.digest))
    return findings


def record_digests_by_commit(state: RefState) -> dict[str, list[str]]:
    """``commit -> [digest of each record line]`` (for marking records in the audit)."""
    out: dict[str, list[str]] = {}
    for line in state.lines:
        out.setdefault(line.commit, []).append(line.digest)
    return out


def integrity_marks(repo: Any, config: Any, *, at: str | None = None, prefix: str = "") -> dict[str, str]:
    """``note commit or record digest -> why it did not verify`` for both notes refs (empty: all verified).

    Only when ``govops.yaml`` declares the ledger (``ledger:``), or once anchor tags show it was
    signed: the audit and the report mark these records instead of presenting them as evidence.
    Every record that no good signature covers is marked (what an unsigned commit claims about
    itself is never believed), and so is every rollout record that cites a marked PR evidence
    record. ``at`` (the branch commit, with govops' ``prefix`` in the repository): rollout
    records no key allowed in their era signed are marked too (``engine.audit.signer_eras``).
    """
    from engine.audit.ledger import EVIDENCE_REF, NOTES_REF

    ledger = getattr(config, "ledger", None) if config is not None else None
    allowed = list(ledger.allowed_signers or []) if ledger is not None else []
    if not allowed:
        unprotected = _unprotected_marks(repo)
        if unprotected is not None or ledger is None:
            return unprotected or {}
    marks: dict[str, str] = {}
    states: dict[str, RefState] = {}
    for name in (EVIDENCE_REF, NOTES_REF):  # (the evidence first: the rollout records' copies are read against it)
        state = states[name] = read_ref(repo, name)
        findings = check_chain(state, required=True) + check_anchors(repo, state, required=bool(allowed),
                                                                     allowed=allowed)
        if allowed and state.tip is not None:
            trusted = trusted_digests(repo, state, allowed)
            for line in state.lines:
                if line.digest not in trusted:
                    marks.setdefault(line.digest, f"{state.ref}: the notes commit that added the record on "
                                     f"{line.commit[:12]} is not signed by the CI identity (no good signature "
                                     "covers it)")
            findings += check_signatures(repo, state, allowed, every=False)
            if name == NOTES_REF and at is not None:
                from engine.audit.signer_eras import era_marks

                for digest, why in era_marks(repo, prefix, state, allowed, at).items():
                    marks.setdefault(digest, why)
        if name == NOTES_REF:
            findings += check_evidence_switch(state)
            cited = {line.digest: line for line in states[EVIDENCE_REF].lines}
            findings += [f for line, rec in state.records()
                         for f in evidence_copy_findings(line, rec, cited.get(str(cited_evidence(rec))))]
        _mark_findings(marks, state, findings)
        if name == NOTES_REF:
            _mark_citing(marks, state)
    return marks


def _unprotected_marks(repo: Any) -> dict[str, str] | None:
    """Every record marked when anchors show the ledger was signed but govops.yaml lists no signers now."""
    from engine.audit.ledger import EVIDENCE_REF, NOTES_REF

    _, tags, _ = run_git(repo, "for-each-ref", "--count=1", "--format=%(refname)", ANCHOR_PREFIX, check=False)
    if not tags.strip():
        return None
    why = (f"the ledger was signed (anchor tags under {ANCHOR_PREFIX} exist) but govops.yaml here lists no "
           "ledger.allowedSigners: its protection was removed, so no record can be trusted")
    return {key: why for name in (EVIDENCE_REF, NOTES_REF) for line in read_ref(repo, name).lines
            for key in (line.digest, line.commit, _canonical_digest(line))}


def _mark_findings(marks: dict[str, str], state: RefState, findings: list[Finding]) -> None:
    for f in findings:
        if f.severity != "error":
            continue
        if f.check == "rollback":  # the ref is not the one the CI published: none of its records can be taken
            for line in state.lines:
                marks.setdefault(line.digest, f.message)
                marks.setdefault(line.commit, f.message)
        if f.record:
            marks.setdefault(f.record, f.message)
        if f.commit and f.commit != "-" and f.check != "signature" and (not f.record or f.check == "rewrite"):
            marks.setdefault(f.commit, f.message)  # (a rewrite: every record on that note is suspect)
    for line in state.lines:  # a reader finds a record by the digest of its canonical form
        canon = _canonical_digest(line)
        if canon != line.digest:
            marks.setdefault(canon, marks.get(line.digest) or f"{state.ref}: the record on {line.commit[:12]} "
                             "is not stored in the form govops writes (written by hand)")


def cited_evidence(record: dict[str, Any]) -> str | None:
    """The digest of the PR evidence record a rollout record cites (``None``: none)."""
    body = record.get("evidence")
    source = body.get("source") if isinstance(body, dict) else None
    return str(source["record"]) if isinstance(source, dict) and source.get("record") else None


def evidence_copy_findings(line: Line, record: dict[str, Any], cited: Line | None) -> list[Finding]:
    """A rollout record's copy of the PR evidence it cites: the cited record exists and says the same.

    ``cited``: the evidence ref's line with the digest the record cites (``None``: not there).
    Shared by ``verify`` and the audit's marks, so the views never show what verify rejects.
    """
    body: dict[str, Any] = record["evidence"] if isinstance(record.get("evidence"), dict) else {}
    source = body.get("source") if isinstance(body.get("source"), dict) else None
    if source is None:
        return []
    if cited is None or cited.record is None:
        return [Finding(
            "evidence", line.commit, f"the rollout record of {line.commit[:12]} cites PR evidence "
            f"{str(source.get('record'))[:19]} on head {str(source.get('head'))[:12]}, which is not in "
            "refs/notes/govops-evidence: the evidence note was removed or edited", line.digest)]
    theirs: dict[str, Any] = cited.record["evidence"] if isinstance(cited.record.get("evidence"), dict) else {}
    return [Finding(
        "evidence", line.commit, f"the {key.replace('_', ' ')} in the rollout record of {line.commit[:12]} differ "
        f"from the PR evidence note on {cited.commit[:12]} it cites: one of them was edited", line.digest)
        for key in ("validation", "policy_decisions", "context") if body.get(key) != theirs.get(key)]


def check_evidence_switch(rollouts: RefState) -> list[Finding]:
    """A later rollout record of a commit must cite the PR evidence its first rollout record cited.

    A merge is rolled out with the evidence it was merged on; a re-run of its rollout finds the
    same record. A later record citing other evidence (or some where the first cited none) is a
    re-rollout written to change what the audit shows for an old change.
    """
    first: dict[str, tuple[int, str | None]] = {}
    findings = []
    ordered = sorted(((rec["seq"], line, rec) for line, rec in rollouts.records()
                      if _is_seq(rec.get("seq")) and rec.get("kind") == "govops.rollout/v1"), key=lambda r: r[0])
    for seq, line, rec in ordered:
        cited = cited_evidence(rec)
        if line.commit not in first:
            first[line.commit] = (seq, cited)
            continue
        seq0, cited0 = first[line.commit]
        if cited != cited0:
            findings.append(Finding(
                "evidence", line.commit, f"{rollouts.ref} record seq {seq} re-records the rollout of "
                f"{line.commit[:12]} citing PR evidence {str(cited)[:19]}, but its first rollout record (seq {seq0}) "
                f"cited {str(cited0)[:19]}: the evidence a merge was rolled out with does not change", line.digest))
    return findings


def _mark_citing(marks: dict[str, str], rollouts: RefState) -> None:
    """Mark every rollout record that cites a marked PR evidence record."""
    for line, rec in rollouts.records():
        cited = cited_evidence(rec)
        if cited and cited in marks:
            marks.setdefault(line.digest, f"cites PR evidence {cited[:19]} that did not verify: {marks[cited]}")
            marks.setdefault(_canonical_digest(line), marks[line.digest])


def trusted_digests(repo: Any, state: RefState, allowed: list[str]) -> set[str]:
    """Digests of the lines held by the newest notes commit (first parent from the tip) with a good signature.

    The CI identity only signs on top of a tip it verified, so everything in a good signed
    notes commit's tree is the CI's; anything the current tip holds beyond it was added by
    someone else, whatever their commit messages say. Checked a few commits at a time, so
    an intact ledger costs one signature check.
    """
    if state.tip is None:
        return set()
    good: str | None = None
    with allowed_signers_file(allowed) as signers:
        skip, batch = 0, 1
        while good is None:
            status, out, _ = run_git(repo, "-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "--first-parent",
                                     f"--skip={skip}", f"-n{batch}", "--format=%H %G?", state.tip, "--", check=False)
            rows = [r.split() for r in out_lines(out) if r.strip()] if status == 0 else []
            good = next((r[0] for r in rows if len(r) == 2 and r[1] == "G"), None)
            if len(rows) < batch:
                break
            skip, batch = skip + batch, min(batch * 4, 256)
    if good is None:
        return set()
    if good == state.tip:
        return {line.digest for line in state.lines}
    return digests_in(repo, good)


def digests_in(repo: Any, notes_commit: str) -> set[str]:
    """The digests of every note line in a notes commit's tree (one ``ls-tree``, one ``cat-file``)."""
    _, listing, _ = run_git(repo, "ls-tree", "-r", "-z", notes_commit)
    blobs = [item.split(b"\t", 1)[0].split()[2].decode() for item in listing.split(b"\0") if item]
    texts = cat_blobs(repo, blobs)
    notes = [(texts.get(blob) or b"").decode("utf-8", "replace") for blob in blobs]
    return {line_digest(raw) for text in notes for raw in split_note(text) if raw.strip()}


ANCHOR_PREFIX = "refs/tags/govops-ledger/"


def anchor_ref(ref: str, seq: int) -> str:
    """The tag that anchors record ``seq`` of a notes ref outside that ref (``govops-ledger/govops/seq-000012``).

    A force-push of the notes ref cannot move it; protect ``govops-ledger/*`` tags against
    update and deletion (a tag ruleset) and a rollback of the ledger shows for ever.
    """
    return f"{ANCHOR_PREFIX}{full_ref(ref).removeprefix('refs/notes/')}/seq-{seq:06d}"


def check_anchors(
    repo: Any, state: RefState, *, required: bool = True, refs: Mapping[str, str] | None = None,
    allowed: list[str] | None = None,
) -> list[Finding]:
    """No rollback and no rewrite of a notes ref: it only ever grew.

    Rewrite: each anchored record is still the record its anchor's notes commit announced
    (``rewrite``; one ``git log`` of the notes history's messages): a record edited, moved to
    another commit or renumbered shows under any key, whoever signed the commit that did it.
    Rollback: every anchor tag (``govops-ledger/<ref>/seq-NNNNNN``, that exact name) must point
    into that history, at or below the newest record (``rollback``). ``refs``: ``refname ->
    object`` already read, holding every tag under ``ANCHOR_PREFIX``. With ``allowed`` (the
    ledger's signers) a tag that fails only counts when an allowed key signed its commit for
    this ref's record of that seq: anyone who can create a tag could otherwise block the ledger
    for good; those tags are one ``anchor`` warning.
    """
    name = state.ref.removeprefix("refs/notes/")
    base = f"{ANCHOR_PREFIX}{name}/"
    if refs is not None:
        rows = [(refname, sha) for refname, sha in refs.items() if refname.startswith(base)]
    else:
        status, out, _ = run_git(repo, "for-each-ref", "--format=%(refname)%00%(objectname)", base, check=False)
        rows = [(r.partition("\0")[0], r.partition("\0")[2]) for r in out_lines(out)] if status == 0 else []
    anchors, odd = [], []
    for refname, sha in rows:
        tail = refname[len(base):]
        if re.fullmatch(r"seq-[0-9]{6,18}", tail) and tail == f"seq-{int(tail[4:]):06d}":  # the one name of a seq
            anchors.append((int(tail[4:]), sha, refname))
        else:
            odd.append(refname)
    severity = "error" if required else "warning"
    history, trailers = announced(repo, state.tip)
    findings = _rewrites(state, anchors, history, trailers, severity)
    newest = max((int(r["seq"]) for _, r in state.records() if _is_seq(r.get("seq"))), default=0)
    misplaced = sorted(((seq, sha, refname) for seq, sha, refname in anchors
                        if sha not in history or seq > newest), reverse=True)
    verdicts = _anchor_verdicts(repo, {sha for _, sha, _ in misplaced}, allowed) if allowed and misplaced else {}
    bogus: list[tuple[str, str]] = []
    for seq, sha, refname in misplaced:  # every one judged: a flood of tags must not hide a real anchor
        why = _not_an_anchor(repo, state, seq, sha, verdicts) if allowed else None
        if why:
            bogus.append((refname, why))
            continue
        where = ("gone with the whole ref" if state.tip is None else "not in the history of the ref"
                 if sha not in history else f"in its history, but its newest record is seq {newest}")
        findings.append(Finding(
            "rollback", sha, f"{state.ref} was rolled back: the anchor tag {refname} says record seq {seq} was "
            f"published in notes commit {sha[:12]}, which is {where}: records were erased", None, severity))
        break  # the newest anchor says it all
    if bogus or odd:
        sample = (bogus[0][0] + ": " + bogus[0][1]) if bogus else odd[0] + ": not an anchor's name"
        findings.append(Finding(
            "anchor", "-", f"{len(bogus) + len(odd)} tag(s) under {base} are not "
            f"anchors of {state.ref} and are ignored (e.g. {sample}); restrict the creation of govops-ledger/* tags "
            "to the CI identity", None, "warning"))
    return findings


def _anchor_verdicts(repo: Any, shas: set[str], allowed: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """``commit -> (%G?, its trailers)`` for every distinct commit a misplaced tag names (one ``git log``).

    Only commits someone signed cost an ``ssh-keygen``: a flood of tags on unsigned commits is cheap,
    and tags on the CI's own commits are bounded by the ledger's size.
    """
    ids = sorted(sha for sha in shas if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha))
    if ids:  # only commits: one blob, tree or missing id would make the whole ``git log`` fail
        _, kinds, _ = run_git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                              stdin=("\n".join(ids) + "\n").encode(), check=False)
        ids = [row.split()[0] for row in out_lines(kinds) if row.endswith(" commit")]
    if not ids:
        return {}
    with allowed_signers_file(allowed) as signers:
        _, out, _ = run_git(repo, "-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "--no-walk=unsorted",
                            "--stdin", "-z", "--format=%H%x00%G?%x00%B", stdin=("\n".join(ids) + "\n").encode(),
                            check=False)
    items = out.split(b"\0")
    verdicts: dict[str, tuple[str, dict[str, str]]] = {}
    k = 0
    while k + 2 < len(items):  # three fields a commit (a message holds no NUL), commits NUL-separated
        sha = items[k].strip(b"\n").decode("ascii", "replace")
        body = items[k + 2].decode("utf-8", "replace")
        verdicts[sha] = (items[k + 1].decode("ascii", "replace").strip(), parse_trailers(body))
        k += 4 if k + 3 < len(items) and items[k + 3] == b"" else 3
    return verdicts


def _not_an_anchor(repo: Any, state: RefState, seq: int, sha: str,
                   verdicts: dict[str, tuple[str, dict[str, str]]]) -> str | None:
    """Why ``sha`` is not the notes commit the CI signed for this ref's record ``seq`` (``None``: it is)."""
    if sha not in verdicts:
        return f"{sha[:12]} is not a commit here"
    verdict, trailers = verdicts[sha]
    if verdict != "G":
        return f"its commit {sha[:12]} {SIGNATURE_TEXT.get(verdict, 'has no good signature')}"
    if trailers.get("seq") != str(seq):
        return f"its commit {sha[:12]} announces record seq {trailers.get('seq') or 'none'}"
    held = _record_in(repo, sha, trailers.get("commit", ""), trailers.get("record", ""))
    if held is None or held.get("ledger") != state.ref or held.get("seq") != seq:
        return f"its commit {sha[:12]} holds no record seq {seq} of {state.ref} (a commit of another notes ref)"
    return None


def _record_in(repo: Any, notes_commit: str, noted: str, digest: str) -> dict[str, Any] | None:
    """The record with ``digest`` in the note on ``noted`` in ``notes_commit``'s tree (``None``: not there)."""
    _, listing, _ = run_git(repo, "ls-tree", "-r", "-z", notes_commit, check=False)
    for item in listing.split(b"\0"):
        meta, _, path = item.partition(b"\t")
        if item and note_object(path.decode("utf-8", "replace")) == noted:
            blob = meta.split()[2].decode()
            text = cat_blobs(repo, [blob]).get(blob) or b""
            for raw in split_note(text.decode("utf-8", "replace")):
                if raw.strip() and line_digest(raw) == digest:
                    try:
                        record = json.loads(raw)
                    except (ValueError, RecursionError):
                        return None
                    return record if isinstance(record, dict) else None
    return None


_LOGGED = re.compile(rb"\x1e([0-9a-f]{40,64})\x00([^\x1e]*)")


def announced(repo: Any, tip: str | None, *, first_parent: bool = False
              ) -> tuple[set[str], dict[str, dict[str, str]]]:
    """Every commit of a notes ref's history from ``tip`` and the trailers its message carries (one ``git log``).

    Read as bytes with one pattern per commit (a message holds no NUL, so none can pose as a
    commit): a thousand messages in about two milliseconds.
    """
    if tip is None:
        return set(), {}
    _, out, _ = run_git(repo, "log", *(["--first-parent"] if first_parent else []), "--format=%x1e%H%x00%B", tip,
                        "--", check=False)
    history: set[str] = set()
    trailers: dict[str, dict[str, str]] = {}
    for m in _LOGGED.finditer(out):
        sha = m.group(1).decode()
        history.add(sha)
        said = {k.decode().lower(): v.decode("utf-8", "replace") for k, v in _TRAILER_BYTES.findall(m.group(2))}
        if said:
            trailers[sha] = said
    return history, trailers


def _rewrites(state: RefState, anchors: list[tuple[int, str, str]], history: set[str],
              trailers: dict[str, dict[str, str]], severity: str) -> list[Finding]:
    """Each anchored record as published: the record its anchor's commit announced is that seq's record now.

    The CI anchors every record it appends, and the tags cannot be moved or deleted: a record
    edited, moved to another commit or renumbered afterwards (under any key) has another digest.
    """
    current: dict[int, list[Line]] = {}
    for line, rec in state.records():
        if _is_seq(rec.get("seq")):
            current.setdefault(rec["seq"], []).append(line)
    findings = []
    for seq, sha, refname in sorted(anchors):
        said = trailers.get(sha, {}) if sha in history else {}
        if said.get("seq") != str(seq) or not said.get("record"):
            continue  # not the CI's announcement of this seq (judged as a rollback or ignored above)
        lines = current.get(seq, [])
        if any(line.digest == said["record"] for line in lines):
            continue
        published = said.get("commit") or "-"  # (the commit whose published record is no longer there)
        now = f" (seq {seq} is now a record on {lines[0].commit[:12]})" if lines else ""
        findings.append(Finding(
            "rewrite", published, f"{state.ref} record seq {seq} is not the record published in notes commit "
            f"{sha[:12]} (anchor tag {refname}: record {said['record'][:19]} on {published[:12]}){now}: it was "
            + ("changed, moved or renumbered" if lines else "removed") + " after, so an earlier record was rewritten",
            lines[0].digest if lines else None, severity))
        if len(findings) >= 20:
            break
    return findings


def mark_for(marks: dict[str, str], note_commit: str, record: dict[str, Any]) -> str | None:
    """Why the record (on ``note_commit``) did not verify, or ``None``."""
    if not marks:
        return None
    from engine.audit.ledger import canonical

    try:
        digest = line_digest(canonical(record))
    except (UnicodeError, ValueError, RecursionError):  # a lone surrogate, written by hand: never the CI's
        return "the record holds text that is not valid Unicode: it was written by hand"
    return marks.get(digest) or marks.get(note_commit)


def _canonical_digest(line: Line) -> str:
    """The digest of ``line``'s record in canonical form (what ``mark_for`` looks up); its own if it has none."""
    if line.record is None:
        return line.digest
    from engine.audit.ledger import canonical

    try:
        return line_digest(canonical(line.record))
    except (UnicodeError, ValueError, RecursionError):
        return line.digest
