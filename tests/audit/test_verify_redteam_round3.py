"""Red-team round 3 against the trail (2026-12-06), each way past it held by a test.

F1/F1b: a key added later rewrote an old record by renumbering the ledger or moving a note, so the
signer eras saw nothing: the newest anchor's records must still be in the tip (``rewrite``).
F1c: a "re-rollout" of an old merge citing new evidence (``evidence``). F2/F5/F7/F12: the audit
views and ``explain`` must mark what ``verify`` rejects (a non-canonical line, a working tree
without ``ledger:``, a lone surrogate, signers dropped from govops.yaml). F4: a repeated seq off
the first-parent line is no crash. F9: a tag anyone can create is not an anchor.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.audit.ledger import canonical, line_digest
from tests.audit.test_signer_eras import _add_signer, _drop_signer, _second_change
from tests.audit.test_trail_tamper import Trail, _verify, build_trail
from tests.helpers.audit_helpers import IRIS, govops

pytestmark = [pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes"),
              pytest.mark.slow]


def _records(trail: Trail, ref: str = "govops") -> list[tuple[str, dict[str, Any]]]:
    out = [(sha, json.loads(line)) for sha in trail.noted(ref) for line in trail.note(sha, ref).splitlines()
           if line.startswith("{")]
    return sorted(out, key=lambda x: x[1].get("seq", 0))


def _rechain(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prev, out = None, []
    for i, r in enumerate(recs, 1):
        r = {**r, "seq": i, "prev": prev}
        prev = line_digest(canonical(r))
        out.append(r)
    return out


def _write_notes(trail: Trail, ref: str, notes: dict[str, list[dict[str, Any]]], key: Path,
                 announce: dict[str, Any]) -> None:
    """Replace the notes tree of ``ref`` in one commit on its tip, signed by ``key`` (anchors stay in history)."""
    entries = []
    for commit, recs in notes.items():
        blob = trail.git("hash-object", "-w", "--stdin", stdin="".join(canonical(r) + "\n" for r in recs))
        entries.append(f"100644 blob {blob}\t{commit}")
    tree = trail.git("mktree", stdin="\n".join(entries) + "\n")
    msg = (f"govops: record\n\nGovops-Commit: {announce['commit']}\nGovops-Record: "
           f"{line_digest(canonical(announce))}\nGovops-Seq: {announce['seq']}\n")
    trail.sign_with(key)
    new = trail.git("commit-tree", "-S", tree, "-p", trail.git("rev-parse", f"refs/notes/{ref}"), "-m", msg)
    trail.git("update-ref", f"refs/notes/{ref}", new)


def _mallory(rec: dict[str, Any]) -> None:
    rec["evidence"]["context"]["approvals"] = [{"approver": "mallory", "group": "risk"}]
    rec["evidence"]["context"]["reviewers"] = ["mallory"]


def _forge_evidence(trail: Trail) -> dict[str, str]:
    """Every PR evidence record names mallory, re-chained and signed with the key added later: old -> new digest."""
    ev = [r for _, r in _records(trail, "govops-evidence")]
    old = [line_digest(canonical(r)) for r in ev]
    for r in ev:
        _mallory(r)
    ev = _rechain(ev)
    _write_notes(trail, "govops-evidence", {r["commit"]: [r] for r in ev}, trail.other_key, ev[-1])
    return dict(zip(old, [line_digest(canonical(r)) for r in ev], strict=True))


def _errors(doc: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [p for p in doc["problems"] if p["check"] == check and p["severity"] == "error"]


def _audit_line(trail: Trail, commit: str) -> str:
    audit = govops("-C", str(trail.path), "audit", IRIS)
    assert audit.returncode == 0, audit.stderr
    return next(x for x in audit.stdout.splitlines() if commit[:12] in x and "rollout" in x)


@pytest.fixture
def keyed(tmp_path: Path) -> Trail:
    """build_trail, then a governed change on main adds the attacker's ``other_key`` beside the CI key."""
    trail = build_trail(tmp_path)
    trail.shas["addkey"] = _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    return trail


def test_renumbering_the_ledger_under_a_key_added_later_is_a_rewrite(keyed: Trail) -> None:
    trail, merge = keyed, keyed.shas["merge"]
    trail.shas["merge13"] = _second_change(trail, trail.ci_key)
    moved = _forge_evidence(trail)
    rolls = [r for _, r in _records(trail)]
    first = {**rolls[0], "commit": trail.shas["addkey"], "covers": [], "changes": []}
    first.pop("evidence", None)
    for r in rolls:
        r["evidence"]["source"]["record"] = moved[r["evidence"]["source"]["record"]]
        if r["commit"] == merge:
            _mallory(r)
    new = _rechain([first, *rolls])  # a new seq 1 in the tip's era: the eras alone saw nothing
    notes: dict[str, list[dict[str, Any]]] = {}
    for r in new:
        notes.setdefault(r["commit"], []).append(r)
    _write_notes(trail, "govops", notes, trail.other_key, new[-1])
    for extra in ((), ("--all-signatures", "--strict", "--deep")):
        code, doc = _verify(trail, *extra)
        assert code == 1
        rewrites = _errors(doc, "rewrite")
        assert {p["commit"] for p in rewrites} >= {merge, trail.shas["merge13"]}
        assert all("is not the record published in notes commit" in p["message"] for p in rewrites)
    assert "UNVERIFIED" in _audit_line(trail, merge)


def test_moving_a_note_to_another_commit_is_a_rewrite(keyed: Trail) -> None:
    trail, merge, addkey = keyed, keyed.shas["merge"], keyed.shas["addkey"]
    moved = _forge_evidence(trail)
    [(_, rec)] = _records(trail)
    rec["evidence"]["source"]["record"] = moved[rec["evidence"]["source"]["record"]]
    _mallory(rec)
    rec.update(commit=addkey, covers=[addkey, merge])
    [rec] = _rechain([rec])
    _write_notes(trail, "govops", {addkey: [rec]}, trail.other_key, rec)
    code, doc = _verify(trail)
    assert code == 1
    [gone] = [p for p in _errors(doc, "rewrite") if p["commit"] == merge]
    assert "record seq 1 is not the record published" in gone["message"]
    assert f"(seq 1 is now a record on {addkey[:12]})" in gone["message"]


def test_a_re_rollout_citing_other_evidence_is_found_and_marked(keyed: Trail) -> None:
    trail, merge = keyed, keyed.shas["merge"]
    _second_change(trail, trail.other_key)
    _drop_signer(trail, "govops-ci ", date="2026-04-01T08:00:00+00:00")  # the rotation is complete
    ev = _records(trail, "govops-evidence")
    e12 = next(r for _, r in ev if r["pr"] == 12)
    forged = json.loads(json.dumps(e12))
    _mallory(forged)
    forged.update(seq=ev[-1][1]["seq"] + 1, prev=line_digest(canonical(ev[-1][1])))
    notes: dict[str, list[dict[str, Any]]] = {}
    for c, r in [*ev, (e12["commit"], forged)]:
        notes.setdefault(c, []).append(r)
    _write_notes(trail, "govops-evidence", notes, trail.other_key, forged)  # append-only: every CI line kept
    rolls = _records(trail)
    again = json.loads(json.dumps(next(r for c, r in rolls if c == merge)))
    again["evidence"]["source"]["record"] = line_digest(canonical(forged))
    again["evidence"]["context"] = forged["evidence"]["context"]
    again.update(seq=rolls[-1][1]["seq"] + 1, prev=line_digest(canonical(rolls[-1][1])))
    notes = {}
    for c, r in [*rolls, (merge, again)]:
        notes.setdefault(c, []).append(r)
    _write_notes(trail, "govops", notes, trail.other_key, again)
    for extra in ((), ("--all-signatures",)):
        code, doc = _verify(trail, *extra)
        assert code == 1
        [switch] = _errors(doc, "evidence")
        assert switch["commit"] == merge and "first rollout record (seq 1)" in switch["message"]
    report = govops("-C", str(trail.path), "report", "--format", "json", "--since", "2026-01-01")
    change = {c["commit"]: c for c in json.loads(report.stdout)["changes"]}[merge]
    assert "the evidence a merge was rolled out with does not change" in (change["unverified"] or "")


def test_a_hand_written_line_in_another_json_form_is_marked_everywhere(keyed: Trail) -> None:
    trail, merge = keyed, keyed.shas["merge"]
    [(_, rec)] = _records(trail)
    _mallory(rec)
    trail.sign_with(None)
    trail.git("notes", "--ref", "govops", "add", "-f", "-m", json.dumps(rec), merge)  # ", " and ": ": not canonical
    assert "UNVERIFIED" in _audit_line(trail, merge)
    explain = govops("-C", str(trail.path), "explain", merge)
    assert explain.returncode == 1 and "UNVERIFIED rollout record" in explain.stderr
    # explain judges by main's govops.yaml in Git, not by a working tree that dropped `ledger:`
    cfg = (trail.path / "govops.yaml").read_text()
    (trail.path / "govops.yaml").write_text(cfg.split("ledger:")[0])
    explain = govops("-C", str(trail.path), "explain", merge)
    assert explain.returncode == 1 and "UNVERIFIED rollout record" in explain.stderr


def test_a_lone_surrogate_in_a_record_is_marked_not_a_crash(keyed: Trail) -> None:
    trail, merge = keyed, keyed.shas["merge"]
    [(_, rec)] = _records(trail)
    text = canonical(rec).replace('"lee.lead"', '"\\ud800"', 1)
    trail.sign_with(None)
    trail.git("notes", "--ref", "govops", "add", "-f", "-m", text, merge)
    assert "UNVERIFIED" in _audit_line(trail, merge)
    report = govops("-C", str(trail.path), "report", "--format", "json", "--since", "2026-01-01")
    assert report.returncode == 0 and "Traceback" not in report.stderr
    assert _verify(trail)[0] == 1


def test_dropping_the_signers_marks_every_record_in_the_audit(keyed: Trail) -> None:
    trail, merge = keyed, keyed.shas["merge"]
    cfg = (trail.path / "govops.yaml").read_text()
    (trail.path / "govops.yaml").write_text(cfg.split("  allowedSigners:")[0] + "  allowedSigners: []\n")
    trail.commit("empty the signers", "2026-03-01T08:00:00+00:00")
    trail.rewrite_note(merge, '"approver":"lee.lead"', '"approver":"mallory"')
    assert _verify(trail)[0] == 1
    assert "UNVERIFIED" in _audit_line(trail, merge)
    report = govops("-C", str(trail.path), "report", "--format", "json", "--since", "2026-01-01")
    change = {c["commit"]: c for c in json.loads(report.stdout)["changes"]}[merge]
    assert "its protection was removed" in change["unverified"]


def test_a_repeated_seq_off_the_first_parent_line_is_a_finding(keyed: Trail) -> None:
    trail = keyed
    _drop_signer(trail, "govops-ci-2 ", date="2026-03-01T08:00:00+00:00")  # govops.yaml changed twice on main
    [(_, rec)] = _records(trail)
    trail.sign_with(None)
    trail.git("notes", "--ref", "govops", "append", "-m", canonical({**rec, "commit": trail.shas["head"]}),
              trail.shas["head"])  # seq 1 again, on the PR head: off the first-parent line
    code, doc = _verify(trail)
    assert code == 1 and any("the chain forked" in p["message"] for p in doc["problems"])
    assert govops("-C", str(trail.path), "audit", IRIS).returncode == 0


def test_a_tag_anyone_can_create_is_not_an_anchor(keyed: Trail) -> None:
    trail = keyed
    tip = trail.git("rev-parse", "refs/notes/govops")
    trail.git("update-ref", "refs/tags/govops-ledger/govops/seq-999999", tip)  # a real CI commit, a wrong seq
    code, doc = _verify(trail)
    assert code == 0
    [warning] = [p for p in doc["problems"] if p["check"] == "anchor"]
    assert warning["severity"] == "warning" and "announces record seq 1" in warning["message"]
    _second_change(trail, trail.ci_key)  # the CI still appends
    assert _verify(trail)[0] == 0
    # a rollback past a genuine anchor is still found, and named where it is
    trail.git("update-ref", "refs/notes/govops", tip)
    code, doc = _verify(trail)
    assert code == 1
    [rollback] = _errors(doc, "rollback")
    assert "seq-000002" in rollback["message"] and "not in the history of the ref" in rollback["message"]
