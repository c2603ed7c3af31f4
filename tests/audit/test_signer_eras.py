"""Each rollout record is judged by the signers allowed when it was written (issue #17; red team s7).

A key added to ``ledger.allowedSigners`` later must not be able to re-sign an older record,
and a key rotated out must not make the records it signed in its own time fail. Real git,
real SSH keys; the unit tests of the era cut use a hand-made ``RefState``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.audit.chain import Line, RefState
from engine.audit.signer_eras import signer_lists, write_eras
from tests.audit.test_trail_tamper import Trail, _evidence, _rollout, _verify, build_trail
from tests.helpers.audit_helpers import IRIS, govops

needs_ssh = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes")


def _state(records: list[tuple[str, int]]) -> RefState:
    state = RefState("refs/notes/govops", "f" * 40)
    for i, (commit, seq) in enumerate(records):
        rec = {"kind": "govops.rollout/v1", "seq": seq, "commit": commit}
        state.lines.append(Line(commit, 1, json.dumps(rec), f"sha256:{i}", rec))
    return state


def test_an_era_is_the_govops_yaml_of_the_newest_commit_rolled_out_so_far() -> None:
    # first-parent line, newest first: c5 (tip) c4 c3 c2 c1; govops.yaml changed at c4 and c1
    position = {f"c{i}": 5 - i for i in range(1, 6)}
    configs = ["c4", "c1"]
    state = _state([("c2", 1), ("c3", 2), ("c4", 3), ("c2", 4), ("c5", 5)])
    # seq 4 re-rolls out the old c2 after c4: it was written under c4's govops.yaml, not c1's
    assert write_eras(state, position, configs) == [("c1", 1, 2), ("c4", 3, 5)]
    # a record whose commit is off the line does not move the era; before any govops.yaml: None
    state = _state([("elsewhere", 1), ("c1", 2), ("c4", 3)])
    assert write_eras(state, {**position, "c0": 5}, configs) == [("c1", 2, 2), ("c4", 3, 3)]
    assert write_eras(_state([("c0", 1)]), {**position, "c0": 5}, configs) == [(None, 1, 1)]


@needs_ssh
@pytest.mark.slow
def test_signer_lists_reads_each_govops_yaml_and_marks_an_unreadable_one(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    (trail.path / "govops.yaml").write_text("tiers: [unclosed\n")
    broken = trail.commit("break govops.yaml", "2026-02-01T08:00:00+00:00")
    trail.git("rm", "-q", "govops.yaml")
    gone = trail.commit("remove govops.yaml", "2026-02-02T08:00:00+00:00")
    from engine.change.gitread import open_repo

    with open_repo(trail.path) as repo:
        lists = signer_lists(repo, "", [trail.shas["initial"], broken, gone])
    assert lists[trail.shas["initial"]] == tuple(trail.allowed)  # type: ignore[attr-defined]
    assert lists[broken] is None and lists[gone] == ()


def _add_signer(trail: Trail, key: Path, *, replace: bool, date: str) -> str:
    """A governed change on main: ``key`` joins (or replaces) the CI key in ledger.allowedSigners."""
    pub = (key.parent / f"{key.name}.pub").read_text().strip()
    cfg = (trail.path / "govops.yaml").read_text()
    old = trail.allowed[0]  # type: ignore[attr-defined]
    new = f"govops-ci-2 {pub}"
    cfg = cfg.replace(f'    - "{old}"\n', ("" if replace else f'    - "{old}"\n') + f'    - "{new}"\n')
    (trail.path / "govops.yaml").write_text(cfg)
    trail.allowed = ([] if replace else [old]) + [new]  # type: ignore[attr-defined]
    return trail.commit("Rotate the ledger's CI key" if replace else "Add a second CI key", date)


def _second_change(trail: Trail, signer: Path, *, message: str = "") -> str:
    """PR #13 (iris canary weight) merged and rolled out, its notes signed with ``signer`` (``message``: merge body)."""
    trail.sign_with(signer)
    trail.git("checkout", "-q", "-b", "kim/more")
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.1.0 # promoted")
    head = trail.commit("Annotate the champion", "2026-03-01T09:00:00+00:00")
    _evidence(trail, head, trail.git("rev-parse", "main"), pr=13)
    trail.git("checkout", "-q", "main")
    trail.git("merge", "-q", "--no-ff", "kim/more", "-m", "Merge pull request #13 from kim/more" + message,
              who=("GitHub", "noreply@github.com"), date="2026-03-02T09:00:00+00:00")
    merge = trail.git("rev-parse", "HEAD")
    _rollout(trail, merge, "2026-03-02T12:00:00Z")
    return merge


def _resign_with(trail: Trail, key: Path) -> None:
    key_before = trail.ci_key
    trail.ci_key = key
    try:
        trail.resign_tip()
    finally:
        trail.ci_key = key_before


@needs_ssh
@pytest.mark.slow
def test_a_key_added_later_cannot_re_sign_an_older_record(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    assert _verify(trail)[0] == 0
    merge = trail.shas["merge"]
    trail.rewrite_note(merge, '"approver":"lee.lead"', '"approver":"mallory"')
    _resign_with(trail, trail.other_key)  # the new key is allowed at the tip
    code, doc = _verify(trail)
    assert code == 1
    [finding] = [p for p in doc["problems"] if p["check"] == "signer"]
    assert finding["commit"] == merge and finding["severity"] == "error"
    assert "record seq 1" in finding["message"] and "1 allowed signer(s)" in finding["message"]
    assert "is signed by a key that is not in govops.yaml's ledger.allowedSigners" in finding["message"]
    assert f"govops.yaml at {trail.shas['initial'][:12]}" in finding["message"]
    assert _verify(trail, "--all-signatures")[0] == 1
    # the audit and the report mark the re-signed record instead of presenting it as evidence
    audit = govops("-C", str(trail.path), "audit", IRIS)
    assert audit.returncode == 0, audit.stderr
    line = next(x for x in audit.stdout.splitlines() if merge[:12] in x and "rollout" in x)
    assert "UNVERIFIED" in line
    report = govops("-C", str(trail.path), "report", "--format", "json", "--since", "2026-01-01")
    changes = {c["commit"]: c for c in json.loads(report.stdout)["changes"]}
    assert "covered by no signature of a key allowed then" in changes[merge]["unverified"]


@needs_ssh
@pytest.mark.slow
def test_an_old_record_changed_on_top_of_a_good_old_signature_is_named(tmp_path: Path) -> None:
    """The era's last record still carries its CI signature, but an earlier record was rewritten after."""
    trail = build_trail(tmp_path)
    merge = trail.shas["merge"]
    second = _second_change(trail, trail.ci_key)  # seq 2, same era as seq 1
    _add_signer(trail, trail.other_key, replace=False, date="2026-04-01T08:00:00+00:00")
    trail.rewrite_note(merge, '"approver":"lee.lead"', '"approver":"mallory"')
    _resign_with(trail, trail.other_key)
    code, doc = _verify(trail)
    assert code == 1
    [finding] = [p for p in doc["problems"] if p["check"] == "signer"]
    assert finding["commit"] == merge and "record seq 1 on" in finding["message"]
    assert "is not the record that notes commit" in finding["message"] and second != merge
    assert any(p["check"] == "chain" for p in doc["problems"])  # seq 2 names the old digest of seq 1


@needs_ssh
@pytest.mark.slow
@pytest.mark.parametrize("rotate", [False, True], ids=["added", "rotated"])
def test_a_new_key_signs_the_records_of_its_own_era(tmp_path: Path, rotate: bool) -> None:
    trail = build_trail(tmp_path)
    _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    _second_change(trail, trail.other_key)  # the CI signs with the new key: both tips now carry it
    if rotate:  # the second step of a rotation: the old key leaves the list
        _drop_signer(trail, "govops-ci ", date="2026-04-01T08:00:00+00:00")
    code, doc = _verify(trail)
    assert code == 0, doc["problems"]
    # every notes commit judged by the list of its era: the rotated-out key signed era 1 in good standing
    code, doc = _verify(trail, "--all-signatures")
    assert code == 0, doc["problems"]
    assert doc["checked"]["ledger_signatures"] == 2


def _drop_signer(trail: Trail, principal: str, *, date: str) -> str:
    cfg = (trail.path / "govops.yaml").read_text()
    kept = [line for line in cfg.splitlines(keepends=True) if not line.startswith(f'    - "{principal}')]
    (trail.path / "govops.yaml").write_text("".join(kept))
    trail.allowed = [a for a in trail.allowed if not a.startswith(principal)]  # type: ignore[attr-defined]
    return trail.commit("Retire the old CI key", date)


@needs_ssh
@pytest.mark.slow
def test_a_one_step_key_replacement_is_refused_by_the_writer_with_the_way_out(tmp_path: Path) -> None:
    from engine.audit.ledger import LedgerError

    trail = build_trail(tmp_path)
    _add_signer(trail, trail.other_key, replace=True, date="2026-02-01T08:00:00+00:00")
    with pytest.raises(LedgerError, match="add the new key beside the old one first"):
        _second_change(trail, trail.other_key)


@needs_ssh
@pytest.mark.slow
def test_a_rotated_out_key_cannot_sign_the_tip(tmp_path: Path) -> None:
    trail = build_trail(tmp_path)
    _add_signer(trail, trail.other_key, replace=False, date="2026-02-01T08:00:00+00:00")
    _second_change(trail, trail.other_key)
    _drop_signer(trail, "govops-ci ", date="2026-04-01T08:00:00+00:00")
    old_key = tmp_path / "ci_key"
    trail.rewrite_note(trail.shas["merge"], '"approver":"lee.lead"', '"approver":"mallory"')
    _resign_with(trail, old_key)  # the old CI key, retired from the list, signs the tip
    for extra in ((), ("--all-signatures",)):
        code, doc = _verify(trail, *extra)
        assert code == 1
        assert any(p["check"] == "signature" and "not in govops.yaml's ledger.allowedSigners" in p["message"]
                   for p in doc["problems"]), doc["problems"]
