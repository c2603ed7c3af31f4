"""Red-team round 4 against the trail (2026-12-06), each way past it held by a test.

A1: with a key added later, a tag made for the forged tip hid the rewrite from the newest-anchor
check: every commit of a notes ref's history must now keep every line its parents held. A2: the
CI's signed commit of the *other* notes ref is no anchor of this one. B1/B3: a ref whose name holds
U+2028 no longer adds a row of its own choosing to git's output. D1/D2: names that are not UTF-8
are no crash. A3: a flood of tags is one warning, judged in bounded time.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from engine.audit.ledger import LedgerError
from engine.change.plumbing import out_lines
from tests.audit.test_signer_eras import _second_change
from tests.audit.test_trail_tamper import Trail, _verify, build_trail
from tests.audit.test_verify_redteam_round3 import _mallory, _rechain, _records, _write_notes
from tests.helpers.audit_helpers import IRIS, govops

needs_ssh = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes")


def test_git_output_is_split_on_newlines_only() -> None:
    assert out_lines(b"a\xe2\x80\xa8refs/notes/govops\x00x\nb\x85c\n") == ["a\u2028refs/notes/govops\x00x", "b\udc85c"]
    assert out_lines(b"") == [] and out_lines(b"one") == ["one"] and out_lines(b"\n") == [""]


@pytest.fixture
def keyed(tmp_path: Path) -> Trail:
    from tests.audit.test_signer_eras import _add_signer

    trail = build_trail(tmp_path)
    trail.shas["addkey"] = _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    return trail


@needs_ssh
@pytest.mark.slow
def test_a_tag_on_the_forged_tip_does_not_hide_the_rewrite(keyed: Trail) -> None:
    trail, merge = keyed, keyed.shas["merge"]
    rolls = [r for _, r in _records(trail)]
    first = {**rolls[0], "commit": trail.shas["addkey"], "covers": [], "changes": []}
    first.pop("evidence", None)
    _mallory(rolls[0])
    new = _rechain([first, *rolls])
    notes: dict[str, list] = {}
    for r in new:
        notes.setdefault(r["commit"], []).append(r)
    _write_notes(trail, "govops", notes, trail.other_key, new[-1])
    tip = trail.git("rev-parse", "refs/notes/govops")
    trail.git("update-ref", f"refs/tags/govops-ledger/govops/seq-{new[-1]['seq']:06d}", tip)  # "the newest anchor"
    code, doc = _verify(trail, "--all-signatures")
    assert code == 1
    [rewrite] = [p for p in doc["problems"] if p["check"] == "rewrite"]
    assert rewrite["commit"] == merge and "record seq 1 is not the record published" in rewrite["message"]
    assert "anchor tag refs/tags/govops-ledger/govops/seq-000001" in rewrite["message"]
    with pytest.raises(LedgerError, match="an earlier record was rewritten"):  # the CI never signs on top of it
        _second_change(trail, trail.ci_key)


@needs_ssh
@pytest.mark.slow
def test_a_commit_of_the_other_notes_ref_is_no_anchor(keyed: Trail) -> None:
    trail = keyed
    evidence_commit = trail.git("rev-parse", "refs/tags/govops-ledger/govops-evidence/seq-000001")
    trail.git("update-ref", "refs/tags/govops-ledger/govops/seq-000002", evidence_commit)  # signed, announces seq 1?
    trail.git("update-ref", "refs/tags/govops-ledger/govops/seq-000001-x", evidence_commit)
    code, doc = _verify(trail)
    assert code == 0, doc["problems"]
    [warning] = [p for p in doc["problems"] if p["check"] == "anchor"]
    assert warning["severity"] == "warning"
    assert warning["message"].startswith("2 tag(s) under refs/tags/govops-ledger/govops/ are not anchors")
    _second_change(trail, trail.ci_key)  # not blocked: the CI's own seq-000002 tag replaces the local one
    code, doc = _verify(trail)
    assert code == 0 and [p["check"] for p in doc["problems"]] == ["anchor"]  # only the odd name is left


@needs_ssh
@pytest.mark.slow
def test_ref_names_with_line_separators_or_bad_bytes_change_nothing(keyed: Trail) -> None:
    trail = keyed
    baseline = _verify(trail)
    assert baseline[0] == 0
    old_tip = trail.git("rev-parse", "refs/notes/govops-evidence")
    trail.git("update-ref", "refs/tags/x\u2028refs/notes/govops-evidence", trail.shas["initial"])  # a fake row
    trail.git("update-ref", "refs/tags/govops-ledger/govops/x\u2028refs/notes/govops", trail.shas["initial"])
    with open(os.path.join(os.fsencode(trail.path), b".git/refs/tags/govops-ledger/govops/\xff"), "w") as fh:
        fh.write(old_tip + "\n")  # a tag name that is not UTF-8
    code, doc = _verify(trail, "--all-signatures")
    assert code == 0, doc["problems"]
    assert doc["checked"] == baseline[1]["checked"] | {"ledger_signatures": doc["checked"]["ledger_signatures"]}
    for args in (("audit", IRIS), ("report", "--format", "json", "--since", "2026-01-01")):
        res = govops("-C", str(trail.path), *args)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    _second_change(trail, trail.ci_key)  # the CI's append reads the tags too


@needs_ssh
@pytest.mark.slow
def test_a_flood_of_tags_is_one_warning(keyed: Trail) -> None:
    trail = keyed
    tip = trail.git("rev-parse", "refs/notes/govops")
    refs = "".join(f"create refs/tags/govops-ledger/govops/seq-{900000 + i:06d} {tip}\n" for i in range(300))
    trail.git("update-ref", "--stdin", stdin=refs)
    code, doc = _verify(trail)
    assert code == 0
    [warning] = [p for p in doc["problems"] if p["check"] == "anchor"]
    assert warning["message"].startswith("300 tag(s) under") and "announces record seq 1" in warning["message"]


@needs_ssh
@pytest.mark.slow
def test_a_pack_file_name_that_is_not_utf8_is_no_crash(keyed: Trail) -> None:
    trail = keyed
    (trail.path / "policies" / "packs").mkdir(parents=True, exist_ok=True)
    with open(os.path.join(os.fsencode(trail.path), b"policies/packs/\xff.yaml"), "w") as fh:
        fh.write("name: x\n")
    trail.commit("odd pack name", "2026-03-01T08:00:00+00:00")
    res = govops("-C", str(trail.path), "report", "--pack", "eu-ai-act", IRIS)
    assert res.returncode == 2 and "no regulation pack 'eu-ai-act'" in res.stderr
    assert json.loads(govops("-C", str(trail.path), "verify", "--format", "json").stdout)["problems"] == []
