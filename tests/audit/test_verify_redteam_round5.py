"""Red-team round 5 against the trail (2026-12-06), each way past it held by a test.

R5-1/R5-2: twenty bogus tags above every real seq stopped the anchor judging before the genuine
ones, so a rolled-back or wholly replaced notes ref passed: every misplaced tag is now judged (one
batched ``git log``). R5-3: a re-rollout citing the right evidence with an edited inline copy was
rejected by verify but shown by the audit views. R5-4/5/6: a 0x1e byte in a commit message or a
path cut git's output where it was split on that byte: it is read by position now.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.audit.ledger import LedgerError, canonical, line_digest
from tests.audit.test_signer_eras import _add_signer, _second_change
from tests.audit.test_trail_tamper import Trail, _evidence, _verify, build_trail
from tests.audit.test_verify_redteam_round3 import _mallory, _records, _write_notes
from tests.helpers.audit_helpers import IRIS, govops

pytestmark = [pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes"),
              pytest.mark.slow]


def _flood(trail: Trail, ref: str, sha: str, count: int = 25) -> None:
    refs = "".join(f"create refs/tags/govops-ledger/{ref}/seq-{900000 + i:06d} {sha}\n" for i in range(count))
    trail.git("update-ref", "--stdin", stdin=refs)


def test_a_flood_of_tags_does_not_hide_a_rollback(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    before = trail.git("rev-parse", "refs/notes/govops-evidence")
    _second_change(trail, trail.ci_key)  # evidence seq 2, rollout seq 2
    trail.git("update-ref", "refs/notes/govops-evidence", before)  # roll the evidence back past seq 2
    _flood(trail, "govops-evidence", before)
    for extra in ((), ("--all-signatures", "--strict")):
        code, doc = _verify(trail, *extra)
        assert code == 1
        [rollback] = [p for p in doc["problems"] if p["check"] == "rollback"]
        assert "govops-evidence/seq-000002" in rollback["message"]
    with pytest.raises(LedgerError, match="was rolled back"):  # and the CI refuses to append
        _evidence(trail, trail.shas["head"], trail.shas["initial"], pr=12)


def test_a_replaced_history_behind_a_flood_is_a_rollback_and_marked(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    [(merge, rec)] = _records(trail)
    _mallory(rec)
    blob = trail.git("hash-object", "-w", "--stdin", stdin=canonical(rec) + "\n")
    tree = trail.git("mktree", stdin=f"100644 blob {blob}\t{merge}\n")
    trail.sign_with(trail.other_key)
    msg = f"x\n\nGovops-Commit: {merge}\nGovops-Record: {line_digest(canonical(rec))}\nGovops-Seq: 1\n"
    root = trail.git("commit-tree", "-S", tree, "-m", msg)  # a new history, signed by a key allowed today
    trail.git("update-ref", "refs/notes/govops", root)
    _flood(trail, "govops", root)
    code, doc = _verify(trail, "--all-signatures")
    assert code == 1 and any(p["check"] == "rollback" for p in doc["problems"])
    audit = govops("-C", str(trail.path), "audit", IRIS)
    line = next(x for x in audit.stdout.splitlines() if merge[:12] in x and "rollout" in x)
    assert "UNVERIFIED" in line


def test_a_re_rollout_with_an_edited_copy_of_the_cited_evidence_is_marked(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    _second_change(trail, trail.other_key)  # the next rollout puts the ledger in the new key's era
    merge = trail.shas["merge"]
    rolls = _records(trail)
    again = json.loads(json.dumps(next(r for c, r in rolls if c == merge)))
    _mallory(again)  # the same cited evidence record, an edited inline copy
    again.update(seq=rolls[-1][1]["seq"] + 1, prev=line_digest(canonical(rolls[-1][1])))
    notes: dict[str, list] = {}
    for c, r in [*rolls, (merge, again)]:
        notes.setdefault(c, []).append(r)
    _write_notes(trail, "govops", notes, trail.other_key, again)
    code, doc = _verify(trail)
    assert code == 1 and any("context in the rollout record" in p["message"] for p in doc["problems"])
    report = govops("-C", str(trail.path), "report", "--format", "json", "--since", "2026-01-01")
    change = {c["commit"]: c for c in json.loads(report.stdout)["changes"]}[merge]
    assert "differ from the PR evidence note" in (change["unverified"] or "")


def test_a_record_separator_in_a_merge_message_hides_nothing(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    merge = _second_change(trail, trail.ci_key, message="\n\nAnnotate\x1e it")  # a PR title holding 0x1e
    assert _verify(trail)[0] == 0
    report = json.loads(govops("-C", str(trail.path), "report", "--format", "json").stdout)
    assert [(c["commit"], c["pr"]) for c in report["changes"] if c["pr"]] == [(trail.shas["merge"], 12), (merge, 13)]


def test_a_record_separator_in_a_notes_tip_message_is_refused_cleanly(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    tip = trail.git("rev-parse", "refs/notes/govops")
    tree = trail.git("rev-parse", f"{tip}^{{tree}}")
    trail.sign_with(None)
    forged = trail.git("commit-tree", tree, "-p", tip, "-m", f"x\x1e{tip} y")  # a fake commit id after 0x1e
    trail.git("update-ref", "refs/notes/govops", forged)
    code, doc = _verify(trail)
    assert code == 1 and [p["commit"] for p in doc["problems"] if p["check"] == "signature"] == [forged]
    with pytest.raises(LedgerError, match="is not signed"):
        _second_change(trail, trail.ci_key)


def test_a_deleted_path_holding_a_record_separator_is_no_crash(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    odd = trail.path / "specs" / "lab" / "x\x1e:"
    odd.write_text("junk\n")
    trail.commit("add a file", "2026-03-01T09:00:00+00:00")
    odd.unlink()
    trail.commit("remove it again", "2026-03-03T09:05:00+00:00")
    res = govops("-C", str(trail.path), "audit", "lab/no-such-model")
    assert res.returncode == 2 and "was never removed from specs in its history" in res.stderr
