"""The integrity of the audit trail: the history the ledger points at is still there and consistent.

Audit stage (read side). Checks, for the branch ``main`` (or ``--ref``):

- every commit a ledger note was written for (and every ``commit`` a rollout record names)
  is reachable from the branch: history was not rewritten under the evidence;
- every rollout record's desired-state digest equals the digest of the specs at its commit
  (``engine.rollout.desired``'s own digest function);
- every artifact a rollout loaded has the sha256 that validation read (evidence in the note);
- where ``govops.yaml`` says ``signedCommits: true``, every commit that landed on the branch
  since then carries a good signature (``%G?``).

Notes that are not valid JSON are problems of the trail. Nothing here writes to the
repository, and a problem is reported with the commit it concerns, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import evidence as ev
from engine.errors import GovopsError, InputError
from engine.gitread import open_repo, run_git
from engine.ledger import LedgerEntry
from engine.trail import View, all_notes, open_view, shallow_info

GOOD_SIGNATURES = {"G", "U"}
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

    def to_data(self) -> dict[str, Any]:
        """JSON form."""
        return {"check": self.check, "commit": self.commit, "severity": self.severity, "message": self.message}


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


def _reachable(view: View) -> set[str]:
    _, out, _ = run_git(view.repo, "rev-list", view.sha)
    return set(out.decode().split())


def _exists(view: View, shas: list[str]) -> set[str]:
    unique = sorted(set(shas))
    if not unique:
        return set()
    _, out, _ = run_git(view.repo, "cat-file", "--batch-check", stdin=("\n".join(unique) + "\n").encode())
    return {line.split()[0] for line in out.decode().splitlines() if line and not line.endswith("missing")}


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
    for line in out.decode("utf-8", "replace").splitlines():
        sha, sig, subject = (line.split("\0") + ["", ""])[:3]
        count += 1
        if sig in GOOD_SIGNATURES:
            continue
        text = _SIGNATURE_TEXT.get(sig, f"has signature status {sig!r}")
        severity = "warning" if sig in ("X", "Y") else "error"
        report.problems.append(Problem("signature", sha, f"commit {sha[:12]} ({subject}) {text}; "
                                       "govops.yaml requires signed commits", severity))
    report.checked["signed_commits"] = count


def verify(root: Path, *, ref: str | None = None, strict: bool = False) -> VerifyReport:
    """Check the trail of ``ref`` (default ``main``, else ``HEAD``); problems are collected, not raised.

    A shallow clone cannot prove anything about history it does not have: that is an
    ``InputError`` (exit 2) telling how much to fetch. ``strict`` makes missing evidence an error.
    """
    from engine.rollout.desired import load_desired

    root = Path(root).resolve()
    with open_repo(root) as repo:
        view = open_view(repo, root, ref)
        shallow = shallow_info(repo)
        if shallow is not None:
            raise InputError(shallow.hint(
                f"`govops verify` needs the whole history of {view.ref} (every rolled-out commit back to the "
                "first ledger note) to prove it was not rewritten"))
        report = VerifyReport(ref=view.ref, commit=view.sha)
        entries = all_notes(repo)
        reachable = _reachable(view)
        named = [e.commit for e in entries] + [str(r.get("commit")) for e in entries for r in e.records
                                               if ev.is_rollout(r) and r.get("commit")]
        present = _exists(view, named)
        report.checked["noted_commits"] = len(entries)
        report.checked["rollout_records"] = sum(1 for e in entries for r in e.records if ev.is_rollout(r))
        desired_cache: dict[str, Any] = {}
        for entry in entries:
            _check_entry(view, entry, reachable, present, desired_cache, report, strict, load_desired)
        if view.config is not None and view.config.signed_commits:
            _check_signatures(view, report)
    report.checked["digests_compared"] = sum(1 for v in desired_cache.values() if not isinstance(v, str))
    return report


def _where(sha: str, present: set[str]) -> str:
    return ("it no longer exists in this repository" if sha not in present
            else "it exists but is not on the branch")


def _check_entry(
    view: View,
    entry: LedgerEntry,
    reachable: set[str],
    present: set[str],
    cache: dict[str, Any],
    report: VerifyReport,
    strict: bool,
    load_desired: Any,
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
        if not ev.is_rollout(record):
            continue
        commit = str(record.get("commit") or entry.commit)
        if commit != entry.commit and commit not in reachable:
            report.problems.append(Problem("reachable", commit,
                                           f"rolled-out commit {commit[:12]} is not reachable from {view.ref}: "
                                           f"history was rewritten ({_where(commit, present)})"))
        if commit not in reachable:
            continue
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
            continue
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


def _check_artifacts(commit: str, record: dict[str, Any], state: Any, report: VerifyReport, strict: bool) -> None:
    for change in record.get("changes") or []:
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
