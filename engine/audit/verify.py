"""The integrity of the audit trail: the history the ledger points at is still there and consistent.

Audit stage (read side). Checks, for the branch ``main`` (or ``--ref``):

- every commit a ledger note was written for (and every ``commit`` a rollout record names)
  is reachable from the branch: history was not rewritten under the evidence;
- every rollout record's desired-state digest equals the digest of the specs at its commit
  (``engine.rollout.desired``'s own digest function);
- every artifact a rollout loaded has the sha256 that validation read (evidence in the note);
- where ``govops.yaml`` says ``signedCommits: true``, every commit that landed on the branch
  since then carries a good signature (``%G?``);
- each notes ref (rollouts, PR evidence) is one unbroken hash chain whose notes commits are
  signed by an allowed signer (``engine.audit.chain``), and each record's ``commit`` is the commit
  its note is attached to;
- every first-parent commit that changed specs since the ledger started has its rollout
  record (a removed note, or a deleted notes ref, is found);
- the PR evidence a rollout cites is in the evidence ref, unchanged, and judged the spec
  blobs that were rolled out;
- the local serving directory holds the bytes the last rollout's desired state pins.

Notes that are not valid JSON are problems of the trail. Nothing here writes to the
repository, and a problem is reported with the commit it concerns, never raised.

Cost (issue #17: within 3x of ``git log --notes`` over the same range): one walk of the
history (reachability, first-parent line, spec changes and the spec trees a record names,
together), one read of each notes ref, the tip's signature and the anchors checked on threads
beside the walk; git is run directly and govops.yaml read without pydantic
(``engine.audit.trail``), so an intact trail imports neither GitPython nor the spec model
(``benchmarks/verify.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.audit import evidence as ev
from engine.audit.gitjobs import DEFAULT_SPEC_DIRS, Jobs, Later, Started, read_notes, start_walk
from engine.audit.ledger import FULL_NOTES_REF, LedgerEntry
from engine.audit.trail import GitDir, View, main_ref, open_git, open_view, run_git, shallow_info
from engine.change.plumbing import out_lines
from engine.spec.errors import GovopsError, InputError

GOOD_SIGNATURES = {"G", "U"}
ROLLOUT_V1 = "govops.rollout/v1"  # the kind engine.audit.ledger.build_record writes
_SIGNATURE_TEXT = {
    "N": "is not signed",
    "B": "has a bad signature",
    "E": "has a signature that cannot be checked (missing public key or allowed-signers file)",
    "R": "is signed with a revoked key",
    "X": "has an expired signature",
    "Y": "is signed with an expired key",
}


@dataclass
class Problem:
    """One integrity problem, tied to the commit it concerns."""

    check: str
    commit: str
    message: str
    severity: str = "error"
    record: str | None = None

    def to_data(self) -> dict[str, Any]:
        """JSON form (``record``: the digest of the ledger record concerned, when there is one)."""
        return {"check": self.check, "commit": self.commit, "severity": self.severity, "message": self.message,
                "record": self.record}


@dataclass
class VerifyReport:
    """What was checked and what failed."""

    ref: str
    commit: str
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error-level problem."""
        return not any(p.severity == "error" for p in self.problems)

    def offending_commits(self) -> list[str]:
        """The commits named by error-level problems, in order, once each."""
        return list(dict.fromkeys(p.commit for p in self.problems if p.severity == "error"))

    def to_data(self) -> dict[str, Any]:
        """``{"ok", "ref", "commit", "checked", "offending_commits", "problems"}``."""
        return {
            "ok": self.ok,
            "ref": self.ref,
            "commit": self.commit,
            "checked": self.checked,
            "offending_commits": self.offending_commits(),
            "problems": [p.to_data() for p in self.problems],
        }


def _prefix(repo: Any, root: Path) -> str:
    """Where govops lives in the repository (``View.prefix``), before govops.yaml is read."""
    rel = root.relative_to(Path(repo.working_tree_dir or root).resolve()).as_posix()
    return "" if rel == "." else rel + "/"


def _start_ledger_checks(view: View, states: dict[str, Any], refs: dict[str, str], every: bool) -> dict[str, Any]:
    """Start each notes ref's anchor and signature checks (each runs git): ``name -> (anchors, signatures)``.

    Every signature (``every``) waits for the history instead: each notes commit is judged by
    the signers of its era (``_check_ledger``).
    """
    from engine.audit.chain import check_anchors, check_signatures

    ledger = view.config.ledger if view.config is not None else None
    allowed = list(ledger.allowed_signers) if ledger is not None else []
    started: dict[str, Any] = {}
    for name, state in states.items():
        anchors = (Later(check_anchors, view.repo, state, required=bool(allowed), refs=refs, allowed=allowed)
                   if ledger is not None else None)
        signatures = (Later(check_signatures, view.repo, state, allowed, every=every)
                      if allowed and state.tip is not None and not every else None)
        started[name] = (anchors, signatures)
    return started


@dataclass
class _History:
    """The branch's history as verify needs it (newest first)."""

    reachable: set[str]
    first_parent: list[str]
    spec_commits: list[str]
    """The first-parent commits that changed a spec directory."""
    config_commits: list[str]
    """The first-parent commits that changed govops.yaml."""
    position: dict[str, int] = field(default_factory=dict)
    """``commit -> index`` in ``first_parent`` (0: the tip)."""
    first: dict[str, str | None] = field(default_factory=dict)
    """``commit -> its first parent`` (``None``: a root) of every reachable commit."""
    changed: dict[str, str] = field(default_factory=dict)
    """``commit -> its raw changes`` (``"\\0header\\0path\\0…"``) under the walked pathspecs, when it has any."""
    walked: tuple[str, ...] = ()
    """The spec pathspecs the walk printed changes (and trees) for."""


def _history(view: View, walks: Jobs) -> _History:
    r"""Read the walk started by ``start_walk``.

    Its output is a run of NUL-terminated items: an empty item, a commit (byte 0x1e, its id, its
    parents), then the changes, each a raw header (``:<modes> <ids> <status>``, the first after a
    newline) and its path. A commit is known by its place, right after an empty item: neither a
    header nor a path is ever empty, so no file name (not even one that starts with 0x1e and a
    commit id) can pose as a commit. The paths are matched as one string (``"\0specs/"`` in it),
    not item by item: ten thousand commits in a few milliseconds (a header holds no ``/`` and no
    spec directory name, so it matches none). Commit messages are not in it (a subject is looked
    up only for a commit a problem names).
    """
    first: dict[str, str | None] = {}  # commit -> its first parent
    changed: dict[str, str] = {}  # commit -> "\0header\0path\0header\0path\0", when it changed any
    out = walks.out("history", check=True)  # an empty answer would read as a rewrite
    # so a commit begins with NUL, NUL, 0x1e inside the output (an item's end, the empty item), and the
    # output with NUL, 0x1e: split there, each part is "<id> <parents>[NUL, newline, path, NUL, path...]"
    if out.startswith("\0\x1e"):
        for part in out[2:].removesuffix("\0").split("\0\0\x1e"):
            header, _, paths = part.partition("\0")
            sha, _, parents = header.partition(" ")
            first[sha] = parents.partition(" ")[0] or None
            if paths:
                changed[sha] = "\0" + paths.removeprefix("\n") + "\0"
    line: list[str] = []
    sha_: str | None = view.sha if view.sha in first else None
    while sha_ is not None:
        line.append(sha_)
        sha_ = first.get(sha_)
    dirs = [d.rstrip("/") for d in view.spec_pathspecs()]
    marks = [m for d in dirs for m in (f"\0{d}/", f"\0{d}\0")]
    config = f"\0{view.git_path('govops.yaml')}\0"
    specs: list[str] = []
    configs: list[str] = []
    for sha in line:
        touched = changed.get(sha)
        if touched is None:
            continue
        if "" in dirs or any(m in touched for m in marks):
            specs.append(sha)
        if config in touched:
            configs.append(sha)
    return _History(set(first), line, specs, configs, {sha: i for i, sha in enumerate(line)}, first, changed,
                    walks.walked)


def _subjects(view: View, shas: list[str]) -> dict[str, str]:
    """``commit -> subject`` of the commits a problem names (one ``git log --no-walk``)."""
    if not shas:
        return {}
    status, out, _ = run_git(view.repo, "log", "--stdin", "--no-walk=unsorted", "-z", "--format=%H %s",
                             stdin=("\n".join(shas) + "\n").encode(), check=False)
    rows = out.decode("utf-8", "replace").split("\0") if status == 0 else []
    return {sha: subject for sha, _, subject in (row.partition(" ") for row in rows) if sha}


_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class _Present:
    """The named objects that exist: asked of Git (one ``cat-file``) only when a problem must say so."""

    def __init__(self, view: View, shas: list[str]) -> None:
        self.view = view
        self.shas = shas
        self.found: set[str] | None = None

    def __contains__(self, sha: object) -> bool:
        if self.found is None:
            self.found = _exists(self.view, self.shas)
        return sha in self.found


def _exists(view: View, shas: list[str]) -> set[str]:
    unique = sorted({s for s in shas if _OBJECT_ID.fullmatch(s)})  # a record's "commit" is PR-free but hand-editable
    if not unique:
        return set()
    _, out, _ = run_git(view.repo, "cat-file", "--batch-check", stdin=("\n".join(unique) + "\n").encode())
    return {line.split()[0] for line in out_lines(out) if line and not line.endswith("missing")}


def _signed_since(view: View) -> str | None:
    """The newest commit (first-parent) that changed the ``signedCommits`` line of govops.yaml."""
    status, out, _ = run_git(view.repo, "log", "--first-parent", "--format=%H", "-G", "signedCommits",
                          view.sha, "--", view.git_path("govops.yaml"), check=False)
    shas = out.decode().split() if status == 0 else []
    return shas[0] if shas else None


def _check_signatures(view: View, report: VerifyReport) -> None:
    since = _signed_since(view)
    args = ["log", "--first-parent", "--format=%H%x00%G?%x00%s", view.sha]
    if since:
        status, parents, _ = run_git(view.repo, "rev-parse", "--verify", "--quiet", f"{since}^", check=False)
        if status == 0:
            args.append("^" + parents.decode().strip())
    _, out, _ = run_git(view.repo, *args, "--")
    count = 0
    for line in out_lines(out):
        sha, sig, subject = (line.split("\0") + ["", ""])[:3]
        count += 1
        if sig in GOOD_SIGNATURES:
            continue
        text = _SIGNATURE_TEXT.get(sig, f"has signature status {sig!r}")
        severity = "warning" if sig in ("X", "Y") else "error"
        report.problems.append(Problem("signature", sha, f"commit {sha[:12]} ({subject}) {text}; "
                                       "govops.yaml requires signed commits", severity))
    report.checked["signed_commits"] = count


def verify(
    root: Path, *, ref: str | None = None, strict: bool = False, every_signature: bool = False, deep: bool = False,
    started: Started | None = None,
) -> VerifyReport:
    """Check the trail of ``ref`` (default ``main``, else ``HEAD``); problems are collected, not raised.

    A shallow clone cannot prove anything about history it does not have: that is an
    ``InputError`` (exit 2) telling how much to fetch. ``strict`` makes missing evidence an error.
    ``started``: ``engine.audit.gitjobs.prestart(root, ref)``'s answer, when the caller ran it
    before importing this module (the walk is then under way); it is closed here.
    """
    root = Path(root).resolve()
    if started is not None and started.root != root:
        started.jobs.close()
        started = None
    with GitDir(*started.dirs) if started is not None else open_git(root) as repo:
        walks = started.jobs if started is not None else Jobs(repo.git_dir)
        notes: Later | None = None
        read: Later | None = None
        try:
            if started is not None:
                resolved, guess = started.resolved, started.pathspecs
            else:
                resolved = main_ref(repo, ref)
                guess = start_walk(walks, resolved[1], _prefix(repo, root), DEFAULT_SPEC_DIRS)
            # beside the parse of govops.yaml (git waits release the GIL); prestart began it before the imports
            notes = started.notes if started is not None else Later(read_notes, repo)
            view = open_view(repo, root, ref, light=True, resolved=resolved)
            shallow = shallow_info(repo)
            if shallow is not None:
                raise InputError(shallow.hint(
                    f"`govops verify` needs the whole history of {view.ref} (every rolled-out commit back to the "
                    "first ledger note) to prove it was not rewritten"))
            report = VerifyReport(ref=view.ref, commit=view.sha)
            from engine.audit.chain import entries_of
            from engine.audit.ledger import NOTES_REF

            if guess != view.spec_pathspecs():  # govops.yaml names other spec directories: walk those
                walks.close()
                start_walk(walks, view.sha, view.prefix, view.spec_dirs)
            # the notes refs' checks start the moment the notes are read, while the history is parsed here
            read = Later(_checks_once_read, notes, view, every_signature)
            history = _history(view, walks)
            declared = view.config is not None and view.config.ledger is not None
            ledger_start = Later(_ledger_start, view, history) if declared else None  # beside the records' checks
            refs, states, ledger_checks = read.result()
            entries = entries_of(states[NOTES_REF])
            reachable = history.reachable
            named = [e.commit for e in entries] + [str(r.get("commit")) for e in entries for r in e.records
                                                   if _is_rollout(r) and r.get("commit")]
            present = _Present(view, named)
            report.checked["noted_commits"] = len(entries)
            report.checked["rollout_records"] = sum(1 for e in entries for r in e.records if _is_rollout(r))
            desired_cache: dict[str, Any] = {}
            trees: list[tuple[str, dict[str, Any]]] = []
            for entry in entries:
                _check_entry(view, entry, reachable, present, desired_cache, report, strict, load_desired,
                             None if deep else trees)
            _check_trees(view, trees, report, history)
            if view.config is not None and view.config.signed_commits:
                _check_signatures(view, report)
            _check_ledger(view, entries, states, report, strict, ledger_checks, history, refs, ledger_start,
                          every=every_signature)
            _sweep_shapes(entries, report, signed=declared and bool(view.config.ledger.allowed_signers))
        finally:
            walks.close()
            for pending in (notes, read):
                if pending is not None:
                    pending.join()  # (when something failed before its result was wanted)
    report.checked["digests_compared"] = sum(1 for v in desired_cache.values() if not isinstance(v, str))
    _check_serving(root, report, load_desired)
    return report


def load_desired(root: Path, commit: str) -> Any:
    """``engine.rollout.desired.load_desired``, imported when a record must be rebuilt (``--deep``, old records).

    A record that names its spec trees is checked by tree id, so an intact trail never
    pays for the spec model.
    """
    from engine.rollout.desired import load_desired as load

    return load(root, commit)


def _checks_once_read(notes: Later, view: View, every: bool) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """The notes' ``(refs, states)`` and their checks (``_start_ledger_checks``), started once the notes are read.

    Runs on a thread, so the checks' git starts while the main thread parses the history.
    """
    refs, states = notes.result()
    return refs, states, _start_ledger_checks(view, states, refs, every)


def _check_trees(view: View, trees: list[tuple[str, dict[str, Any]]], report: VerifyReport,
                 history: _History | None = None) -> None:
    """Each record's ``specs_tree`` (spec directory -> tree id) against Git: the walk's trees (``_spec_trees``).

    A record written by govops names the trees its desired-state digest was computed from;
    with the chain and the signature holding the digest, equal trees prove the specs were
    not changed under it. ``--deep`` rebuilds every desired state instead (slow). Without
    ``history`` every tree is looked up (one ``cat-file``).
    """
    names = [f"{commit}:{view.git_path(d)}" for commit, rec in trees for d in rec["specs_tree"]]
    actual = _spec_trees(view, history, names) if history is not None else _object_ids(view, names)
    for commit, rec in trees:
        for d, tree in rec["specs_tree"].items():
            got = actual.get(f"{commit}:{view.git_path(d)}")
            if got != tree:
                report.problems.append(Problem(
                    "digest", commit, f"the rollout record of {commit[:12]} was computed from {d}/ tree "
                    f"{str(tree)[:12]} but Git has {str(got)[:12]} at that commit: the specs were changed under the "
                    "record"))
    report.checked["spec_trees_compared"] = len(names)


def _object_ids(view: View, names: list[str]) -> dict[str, str | None]:
    unique = sorted({n for n in names if "\n" not in n})
    if not unique:
        return {}
    _, out, _ = run_git(view.repo, "cat-file", "--batch-check=%(objectname)", stdin=("\n".join(unique) + "\n").encode())
    result: dict[str, str | None] = {}
    for name, line in zip(unique, out_lines(out), strict=False):
        result[name] = None if line.endswith(" missing") else line.strip()
    return result


def _spec_trees(view: View, history: _History, names: list[str]) -> dict[str, str | None]:
    """The object id at each ``commit:<path>`` (``None``: no such path), as ``_object_ids`` gives it.

    A path the walk printed trees for (a spec directory) is read from the walk: the tree
    the last change of that path on the commit's first-parent chain left (``--root``: a path
    the root commit does not add is absent there), each commit visited once per path. Anything
    else (another path, a change that leaves no tree there, a chain that leaves the walk) is
    looked up in Git, in one ``cat-file`` call.
    """
    found: dict[str, str | None] = {}
    rest: list[str] = []
    known: dict[str, dict[str, Any]] = {}  # path -> commit -> id, filled as the chains are followed
    for name in names:
        commit, _, path = name.partition(":")
        if not path or path not in history.walked or commit not in history.first:
            rest.append(name)
            continue
        got = _tree_on_chain(history, path, commit, known.setdefault(path, {}))
        if got is _UNKNOWN:
            rest.append(name)
        else:
            found[name] = got
    if rest:
        found.update(_object_ids(view, rest))
    return found


_UNKNOWN: Any = object()


def _tree_on_chain(history: _History, path: str, commit: str, at: dict[str, Any]) -> Any:
    """The id at ``path`` in ``commit`` from the walk (``None``: absent), or ``_UNKNOWN``; ``at`` caches it."""
    mark = f"\0{path}\0"
    chain: list[str] = []
    sha: str | None = commit
    value: Any = None  # past the root: the path was never added
    while sha is not None:
        if sha in at:
            value = at[sha]
            break
        chain.append(sha)
        touched = history.changed.get(sha)
        if touched is not None and mark in touched:
            value = _raw_new_id(touched, path)
            break
        if sha not in history.first:
            value = _UNKNOWN
            break
        sha = history.first[sha]
    for seen in chain:
        at[seen] = value
    return value


def _raw_new_id(touched: str, path: str) -> Any:
    """The id the raw changes of ``path`` leave: a tree's id, ``None`` when deleted, else ``_UNKNOWN``.

    A path that changed type is two changes (``D`` of the old, ``A`` of the new): what is added wins.
    """
    items = touched[1:-1].split("\0")
    value: Any = _UNKNOWN
    for header, name in zip(items[::2], items[1::2], strict=False):
        if name != path:
            continue
        fields = header.lstrip("\n").split(" ")
        if len(fields) != 5 or not fields[0].startswith(":"):
            return _UNKNOWN
        mode, new, status = fields[1], fields[3], fields[4]
        if mode == "000000" and status == "D":
            value = None if value is _UNKNOWN else value
        elif mode == "040000" and _OBJECT_ID.fullmatch(new) and value in (_UNKNOWN, None):
            value = new
        else:
            return _UNKNOWN
    return value


def _check_ledger(view: View, entries: list[LedgerEntry], states: dict[str, Any], report: VerifyReport, strict: bool,
                  started: dict[str, Any], history: _History, refs: dict[str, str],
                  ledger_start: Later | None = None, *, every: bool = False) -> None:
    """Chain, signatures (``started`` by ``_start_ledger_checks``), signer eras, coverage and evidence links."""
    from engine.audit.chain import ANCHOR_PREFIX, check_chain, check_evidence_switch, check_signatures
    from engine.audit.ledger import EVIDENCE_REF, NOTES_REF
    from engine.audit.signer_eras import check_eras, era_signers, eras_of

    ledger = view.config.ledger if view.config is not None else None
    declared = ledger is not None
    allowed = list(ledger.allowed_signers) if ledger is not None else []
    eras = (eras_of(view.repo, view.prefix, states[NOTES_REF], history.position, history.config_commits)
            if allowed else [])
    for name in (NOTES_REF, EVIDENCE_REF):
        state = states[name]
        findings = check_chain(state, required=declared)
        anchors, signatures = started[name]
        if anchors is not None:
            findings += anchors.result()
        if name == NOTES_REF:
            findings += check_evidence_switch(state)
        if name == NOTES_REF and allowed:
            findings += check_eras(view.repo, state, eras, allowed)
        if every and allowed and state.tip is not None:  # (not started early: judged by each commit's era)
            findings += check_signatures(view.repo, state, allowed, every=True, era_signers=era_signers(
                states[NOTES_REF], eras, evidence=name == EVIDENCE_REF) if eras else None)
            report.checked["ledger_signatures"] = report.checked.get("ledger_signatures", 0) + 1
        if name == EVIDENCE_REF:  # (the rollout ref's bad lines are reported per note by _check_entry)
            report.problems.extend(Problem("ledger", line.commit, f"the {state.ref} note on {line.commit[:12]} has a "
                                           f"line {line.number} that is {line.error}", record=line.digest)
                                   for line in state.lines if line.record is None)
        if signatures is not None:
            findings += signatures.result()
            report.checked["ledger_signatures"] = report.checked.get("ledger_signatures", 0) + 1
        for f in findings:
            report.problems.append(Problem(f.check, f.commit, f.message, f.severity, f.record))
    anchored = sorted(name for name in refs if name.startswith(ANCHOR_PREFIX))
    if anchored and not allowed:  # signed and anchored once: the tip's govops.yaml cannot switch that off
        what = "lists no ledger.allowedSigners" if declared else "declares no ledger"
        report.problems.append(Problem(
            "ledger", view.sha, f"{len(anchored)} ledger anchor tag(s) ({anchored[0]}, …) show the ledger was "
            f"signed, but govops.yaml at {view.ref} {what}: the ledger's protection was removed, so no record or "
            "signature can be trusted"))
    elif declared and not allowed:
        report.problems.append(Problem("signature", view.sha, "govops.yaml declares the ledger but lists no "
                                       "ledger.allowedSigners: notes commits cannot be checked", "warning"))
    report.checked["evidence_records"] = sum(1 for _ in states[EVIDENCE_REF].records())
    replaced = [name for name in refs if name.startswith("refs/replace/")]
    if replaced:
        report.problems.append(Problem("replace", view.sha, f"{len(replaced)} refs/replace/* ref(s) exist "
                                       "here; govops reads objects as stored and ignores them (and info/grafts)",
                                       "warning"))
    _check_coverage(view, entries, report, strict, declared, history, ledger_start)
    _check_evidence_links(view, states[NOTES_REF], states[EVIDENCE_REF], report)


def _ledger_start(view: View, history: _History) -> str | None:
    """The oldest first-parent commit whose govops.yaml change added or removed a ``ledger:`` line.

    ``git log -G`` over only the commits that changed govops.yaml (``--no-walk``), not a
    third walk of the whole history.
    """
    if not history.config_commits:
        return None
    status, out, _ = run_git(view.repo, "log", "--stdin", "--no-walk=unsorted", "--first-parent",
                             "--diff-merges=first-parent", "-s", "--format=%H", "-G", "^ledger:", "--",
                             view.git_path("govops.yaml"), stdin=("\n".join(history.config_commits) + "\n").encode(),
                             check=False)
    shas = out.decode().split() if status == 0 else []
    return shas[-1] if shas else None


def _check_coverage(view: View, entries: list[LedgerEntry], report: VerifyReport, strict: bool,
                    declared: bool, history: _History, ledger_start: Later | None = None) -> None:
    """Every spec-changing first-parent commit since the ledger started has a rollout record.

    ``ledger_start``: ``_ledger_start`` already started on a thread (its answer is waited for here).
    """
    rolled = {e.commit for e in entries if any(_is_rollout(r) for r in e.records)}
    line, pos = history.first_parent, history.position
    _check_on_line(view, sorted(sha for sha in rolled if sha in history.reachable and sha not in pos), report)
    if not declared and not strict:
        return
    covered = set(rolled)
    # a record covers only the first-parent commits strictly after the previous rolled-out commit, up to its own:
    # its window runs from its commit's place on the line to the next older rolled-out commit's (or the root)
    on_line = sorted(pos[sha] for sha in rolled if sha in pos)
    window = {line[p]: (p, q) for p, q in zip(on_line, [*on_line[1:], len(line) - 1], strict=False)}
    for e in entries:
        if e.commit not in window:
            continue
        low, high = window[e.commit]
        for r in e.records:
            if _is_rollout(r) and isinstance(r.get("covers"), list):
                covered.update(c for c in map(str, r["covers"]) if low <= pos.get(c, -1) <= high)
    start = (ledger_start.result() if ledger_start is not None else _ledger_start(view, history)) if declared else None
    order = history.spec_commits
    if start is None:
        on_branch = [sha for sha in order if sha in rolled]
        if not on_branch:
            if order:
                report.problems.append(Problem(
                    "missing-record", view.sha, f"{len(order)} first-parent commit(s) on {view.ref} changed specs "
                    f"but there is no rollout record at all: {FULL_NOTES_REF} is missing or empty (deleted?)"))
            return
        start = on_branch[-1]
        since_start = order[: order.index(start)]
    else:
        since_start = [sha for sha in order if pos[sha] < pos.get(start, 0)]  # strictly after the start
    missing = [sha for sha in since_start if sha not in covered]
    report.checked["spec_commits_covered"] = len(since_start) - len(missing)
    _per_commit(view, report, "missing-record", missing, lambda named: (
        f"commit {named} changed specs on {view.ref} after the ledger started ({start[:12]}) but has no rollout "
        f"record in {FULL_NOTES_REF}: its note was removed, or the notes ref was deleted or rolled back"))


def _per_commit(view: View, report: VerifyReport, check: str, shas: list[str], text: Any) -> None:
    """One problem per commit; ``text`` words it from ``"<short id> (<subject>)"`` (subjects: one git call)."""
    subjects = _subjects(view, shas)
    for sha in shas:
        report.problems.append(Problem(check, sha, text(f"{sha[:12]} ({subjects.get(sha, '')})")))


def _check_on_line(view: View, off_line: list[str], report: VerifyReport) -> None:
    """Rolled-out commits are on the branch's first-parent line: the states it served, in order.

    Every rollout is of the branch's tip, and a merge keeps the branch as its first parent,
    so a rolled-out commit reached only through a second parent means the line was replaced:
    e.g. an unrelated history pushed as a fast-forward whose merge takes the old branch as its
    second parent, so the commits checked for missing records are the new line's, not the old.
    """
    _per_commit(view, report, "first-parent", off_line, lambda named: (
        f"rolled-out commit {named} is reachable from {view.ref} only through a merge's second parent: the "
        "branch's first-parent line was replaced (history rewritten, or a fast-forward onto a branch that merged "
        "it; merge with --no-ff)"))


def _check_evidence_links(view: View, rollouts: Any, evidence: Any, report: VerifyReport) -> None:
    """The PR evidence each rollout cites exists, is unchanged, and judged the spec blobs rolled out."""
    from engine.audit.chain import evidence_copy_findings

    by_digest = {line.digest: line for line in evidence.lines}
    wanted: list[str] = []
    pairs: list[tuple[str, str, str, str]] = []  # (commit the blob is read at, path, expected blob, what)
    for line, rec in evidence.records():
        specs = rec.get("specs") if isinstance(rec.get("specs"), dict) else {}
        for path, blob in specs.items():
            pairs.append((line.commit, str(path), str(blob), f"evidence record on PR head {line.commit[:12]}"))
    for line, rec in rollouts.records():
        if not _is_rollout(rec):
            continue
        body = rec.get("evidence") if isinstance(rec.get("evidence"), dict) else {}
        source = body.get("source") if isinstance(body.get("source"), dict) else None
        if isinstance(rec.get("evidence_missing"), dict):
            waiver = rec["evidence_missing"]
            report.problems.append(Problem("evidence", line.commit, f"{line.commit[:12]} was rolled out without PR "
                                           f"evidence ({waiver.get('flag')} by {waiver.get('allowed_by')})",
                                           "warning", line.digest))
        if source is None:
            continue
        cited = by_digest.get(str(source.get("record")))
        for f in evidence_copy_findings(line, rec, cited):
            report.problems.append(Problem(f.check, f.commit, f.message, f.severity, f.record))
        if cited is None or cited.record is None:
            continue
        specs = cited.record.get("specs") if isinstance(cited.record.get("specs"), dict) else {}
        for path, blob in specs.items():
            pairs.append((line.commit, str(path), str(blob), f"rollout of {line.commit[:12]}"))
    for commit, path, _, _ in pairs:
        wanted.append(f"{commit}:{path}")
    actual = _blob_ids(view, wanted)
    for commit, path, blob, what in pairs:
        got = actual.get(f"{commit}:{path}")
        expected = None if blob in ("None", "") else blob
        if got != expected:
            report.problems.append(Problem(
                "digest", commit, f"{what}: {path} is blob {str(got)[:12]} at {commit[:12]} but the evidence "
                f"names blob {str(expected)[:12]}: the specs judged are not the specs in Git"))
    report.checked["evidence_blobs_compared"] = len(pairs)


def _blob_ids(view: View, names: list[str]) -> dict[str, str | None]:
    unique = sorted({n for n in names if "\n" not in n})
    if not unique:
        return {}
    _, out, _ = run_git(view.repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                     stdin=("\n".join(unique) + "\n").encode())
    result: dict[str, str | None] = {}
    for name, line in zip(unique, out_lines(out), strict=False):
        parts = line.split()
        result[name] = parts[0] if len(parts) == 2 and parts[1] == "blob" else None
    return result


def _check_serving(root: Path, report: VerifyReport, load_desired: Any) -> None:
    """Re-hash the local serving directory against the desired state of its last rollout."""
    base = None
    if any(name.upper() == "GOVOPS_SERVING_DIR" for name in os.environ):  # the settings model only when it is set
        from engine.spec.settings import get_settings

        base = get_settings().serving_dir
    if not (Path(base) if base else root / ".govops" / "serving").joinpath("state.json").is_file():
        return  # nothing served here (and the serving stage's imports are not paid for)
    from engine.mlserver.local_serving import ServingPaths, read_json
    from engine.rollout.serving import rehash_served

    paths = ServingPaths.for_repo(root)
    state = read_json(paths.state)
    if not paths.repository.is_dir() or not isinstance(state, dict):
        return
    commit = str(state.get("commit") or "")
    desired = None
    if commit:
        try:
            desired = load_desired(root, commit)
        except GovopsError:
            report.problems.append(Problem("serving", commit, f"{paths.state} names commit {commit[:12]}, which is "
                                           "not in this repository: the served files cannot be checked against Git"))
    bad = rehash_served(paths, desired)
    report.checked["served_versions_rehashed"] = sum(1 for n in paths.repository.iterdir() if n.is_dir()
                                                      for v in n.iterdir() if v.is_dir())
    for m in bad:
        report.problems.append(Problem("serving", commit or "-", f"served file {m.message()}"))


def _is_rollout(record: dict[str, Any]) -> bool:
    """``evidence.is_rollout``, with the kind every govops rollout record has answered first (thousands per run)."""
    return record.get("kind") == ROLLOUT_V1 or ev.is_rollout(record)


def _where(sha: str, present: Container[str]) -> str:
    return ("it no longer exists in this repository" if sha not in present
            else "it exists but is not on the branch")


def _check_entry(
    view: View,
    entry: LedgerEntry,
    reachable: set[str],
    present: Container[str],
    cache: dict[str, Any],
    report: VerifyReport,
    strict: bool,
    load_desired: Any,
    trees: list[tuple[str, dict[str, Any]]] | None = None,
) -> None:
    for bad in entry.invalid:
        report.problems.append(Problem("ledger", entry.commit,
                                       f"the ledger note on {entry.commit[:12]} has a line {bad['line']} that is "
                                       f"{bad['error']}"))
    if entry.commit not in reachable:
        report.problems.append(Problem("reachable", entry.commit,
                                       f"commit {entry.commit[:12]} carries a ledger note but is not reachable from "
                                       f"{view.ref}: history was rewritten ({_where(entry.commit, present)})"))
    for record in entry.records:
        try:
            _check_record(view, entry, record, reachable, present, cache, report, strict, load_desired, trees)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:  # a shape no check expects
            _malformed(entry, record, report, f"{type(exc).__name__}: {exc}")


def _check_record(view: View, entry: LedgerEntry, record: dict[str, Any], reachable: set[str],
                  present: Container[str], cache: dict[str, Any], report: VerifyReport, strict: bool,
                  load_desired: Any, trees: list[tuple[str, dict[str, Any]]] | None) -> None:
    if not _is_rollout(record):
        return
    commit = str(record.get("commit") or entry.commit)
    if commit != entry.commit and commit not in reachable:
        report.problems.append(Problem("reachable", commit,
                                       f"rolled-out commit {commit[:12]} is not reachable from {view.ref}: "
                                       f"history was rewritten ({_where(commit, present)})"))
    if commit not in reachable:
        return
    if trees is not None and isinstance(record.get("specs_tree"), dict) and record["specs_tree"]:
        trees.append((commit, record))  # the signed record names the spec trees: compared in one batch
        return
    state = cache.get(commit)
    if state is None:
        try:
            state = load_desired(view.root, commit)
        except GovopsError as exc:
            state = exc.render()
        cache[commit] = state
    if isinstance(state, str):
        report.problems.append(Problem("digest", commit, f"cannot rebuild the desired state at "
                                       f"{commit[:12]}: {state}"))
        return
    digest = record.get("digest")
    if not digest:
        report.problems.append(Problem("digest", commit, f"the rollout record of {commit[:12]} has no "
                                       "desired-state digest", "error" if strict else "warning"))
    elif digest != state.digest:
        report.problems.append(Problem("digest", commit,
                                       f"the rollout record of {commit[:12]} says desired state {digest[:12]} "
                                       f"but the specs at that commit give {state.digest[:12]}: the specs or the "
                                       "note were changed after the rollout"))
    if record.get("outcome") == "succeeded":
        _check_artifacts(commit, record, state, report, strict)


def _malformed(entry: LedgerEntry, record: dict[str, Any], report: VerifyReport, why: str | None = None) -> bool:
    """A record with a field of the wrong shape (``evidence.shape_problem``) is a ``ledger`` problem.

    Anyone can write a note line (T-w8): a ``"changes": 5`` is a finding naming the note and the
    record, never a crash of the checks. ``why``: what a check tripped over (the shape is then
    always reported). Without it the shape is looked at only when asked for (``_sweep_shapes``).
    """
    problem = ev.shape_problem(record) or why
    if problem is None:
        return False
    seq = record.get("seq")
    which = f"record seq {seq}" if isinstance(seq, int) else "a record"
    message = (f"the ledger note on {entry.commit[:12]} has {which} that is malformed ({problem}): it was not "
               "written by govops")
    if not any(p.message == message for p in report.problems):
        report.problems.append(Problem("ledger", entry.commit, message))
    return True


def _sweep_shapes(entries: list[LedgerEntry], report: VerifyReport, signed: bool) -> None:
    """Name every malformed record, unless a good signature covers an intact ledger.

    The CI identity writes only records of govops' shapes, so when the ledger is signed and
    no check failed, every record is the CI's: the sweep (about 10 µs a record) is skipped.
    """
    if signed and not any(p.severity == "error" for p in report.problems):
        return
    for entry in entries:
        for record in entry.records:
            _malformed(entry, record, report)


def _check_artifacts(commit: str, record: dict[str, Any], state: Any, report: VerifyReport, strict: bool) -> None:
    changes = record.get("changes")  # (a list: ``_malformed`` left other shapes out)
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict) or change.get("action") not in ("load", "replace"):
            continue
        model, version = str(change.get("model")), str(change.get("version"))
        desired = state.models.get(model)
        wanted = desired.version(version) if desired else None
        if wanted is None:
            continue
        validated: dict[str, str] = {}
        for result in ev.validation_for(record, model):
            validated.update(ev.artifact_digests(result))
        seen = validated.get(wanted.artifact_uri)
        report.checked["artifacts"] = report.checked.get("artifacts", 0) + 1
        if seen is None:
            report.problems.append(Problem(
                "artifact", commit,
                f"{model} {version} was deployed at {commit[:12]} but no validation result in its note read "
                f"{wanted.artifact_uri} (missing evidence)", "error" if strict else "warning"))
        elif seen != wanted.sha256:
            report.problems.append(Problem(
                "artifact", commit,
                f"{model} {version} was deployed at {commit[:12]} with sha256 {str(wanted.sha256)[:12]} but "
                f"validation read {seen[:12]}: the deployed artifact is not the one validated"))


def render_text(report: VerifyReport) -> str:
    """Problems first, then what was checked."""
    out = []
    for p in report.problems:
        out.append(f"{p.severity}: {p.check}: {p.message}\n")
    checked = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.checked.items())
    offending = ", ".join(c[:12] for c in report.offending_commits())
    verdict = "ok" if report.ok else f"FAILED: offending commit(s) {offending}"
    out.append(f"verify {report.ref} ({report.commit[:12]}): {verdict} ({checked})\n")
    return "".join(out)
