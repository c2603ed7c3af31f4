"""engine.audit.ledger: rollout records as git notes (refs/notes/govops), evidence, push, tolerant reading."""

from __future__ import annotations

import json

import pytest

from engine.audit.ledger import append_record, canonical, line_digest, push_notes, read_evidence, read_ledger
from engine.cli import main
from engine.spec.errors import InputError
from tests.helpers.rollout_repo import commit, git, make_repo


def _plain(record: dict) -> dict:
    """A record without the chain fields the ledger adds."""
    return {k: v for k, v in record.items() if k not in ("seq", "prev", "ledger")}


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", models=("lab/iris-species",))


def test_records_are_appended_never_rewritten(repo):
    sha = git(repo, "rev-parse", "HEAD").strip()
    append_record(repo, sha, {"outcome": "failed", "n": 1})
    note_before = git(repo, "notes", "--ref", "govops", "show", sha)
    append_record(repo, sha, {"outcome": "succeeded", "n": 2})
    note_after = git(repo, "notes", "--ref", "govops", "show", sha)
    assert note_after.startswith(note_before.rstrip("\n"))
    [entry] = read_ledger(repo, "HEAD")
    assert [r["n"] for r in entry.records] == [1, 2] and entry.invalid == []
    assert [r["seq"] for r in entry.records] == [1, 2] and entry.records[0]["prev"] is None
    assert entry.records[1]["prev"] == line_digest(canonical(entry.records[0]))
    other = commit(repo, "next")
    append_record(repo, other, {"outcome": "succeeded", "n": 3})
    assert {e.commit: len(e.records) for e in read_ledger(repo)} == {sha: 2, other: 1}
    assert [_plain(r) for r in read_ledger(repo, "HEAD")[0].records] == [{"outcome": "succeeded", "n": 3}]


def test_notes_that_are_not_json_are_reported_not_crashed_on(repo, capsys):
    sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "notes", "--ref", "govops", "add", "-m", "written by hand, not JSON", sha)
    append_record(repo, sha, {"outcome": "succeeded"})
    [entry] = read_ledger(repo, sha)
    assert [_plain(r) for r in entry.records] == [{"outcome": "succeeded"}]
    assert entry.invalid[0]["line"] == 1 and "not valid JSON" in entry.invalid[0]["error"]
    assert main(["-C", str(repo), "ledger", "show", "HEAD"]) == 0
    captured = capsys.readouterr()
    assert "succeeded" in captured.out and "note line 1: not valid JSON" in captured.err


def test_ledger_show_without_notes_and_with_a_bad_ref(repo, capsys):
    assert main(["-C", str(repo), "ledger", "show", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["-C", str(repo), "ledger", "show", "no-such-ref"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_push_sends_notes_and_merges_a_concurrent_append(repo, tmp_path):
    assert push_notes(repo).startswith("no remote configured")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    sha = git(repo, "rev-parse", "HEAD").strip()
    append_record(repo, sha, {"by": "first"})
    assert push_notes(repo) == "pushed refs/notes/govops to origin"
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "fetch", "-q", "origin", "refs/notes/govops:refs/notes/govops")
    append_record(other, sha, {"by": "second"})
    push_notes(other)
    append_record(repo, sha, {"by": "third"})
    push_notes(repo)  # rejected at first, merged with cat_sort_uniq, pushed
    git(other, "fetch", "-q", "origin", "+refs/notes/govops:refs/notes/govops")
    assert sorted(r["by"] for r in read_ledger(other, sha)[0].records) == ["first", "second", "third"]


def test_read_evidence_collects_results_and_decisions(tmp_path):
    with pytest.raises(InputError):
        read_evidence(tmp_path / "missing")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "drift.json").write_text(json.dumps(
        {"check": "drift", "model": "a/b", "version": "1", "status": "fail", "summary": "psi too high",
         "metrics": [], "inputs": [], "huge_debug": "x" * 10}))
    (tmp_path / "policy.json").write_text(json.dumps([{"decision_id": "1", "result": {}}, {"other": 1}]))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)  # past the stack: skipped like broken
    ev = read_evidence(tmp_path)
    assert ev["validation"] == [{"check": "drift", "model": "a/b", "version": "1", "status": "fail",
                                 "summary": "psi too high", "metrics": [], "inputs": []}]
    assert ev["policy_decisions"] == [{"decision_id": "1", "result": {}}]
    assert set(ev["files"]) == {"a/b/drift.json", "policy.json", "broken.json", "deep.json"}


def test_read_evidence_understands_the_pr_check_report(tmp_path):
    """`govops pr-check --out DIR` nests decisions under `policy` and carries the approvals: both are kept."""
    context = {"author": "gus.ds", "approvals": [{"approver": "hana.lead", "group": None}], "pr_number": 12}
    (tmp_path / "pr-check.json").write_text(json.dumps({
        "version": 1, "ok": True, "context": context,
        "policy": {"ok": True, "violations": [], "decisions": [{"decision_id": "d-1", "path": "govops/main"}]}}))
    ev = read_evidence(tmp_path)
    assert ev["policy_decisions"] == [{"decision_id": "d-1", "path": "govops/main"}]
    assert ev["context"] == context


def test_a_rejected_push_appends_again_on_top_of_the_remote_chain(repo, tmp_path):
    """Two jobs append to the same notes ref at once: the later one re-chains its record, never forks."""
    from engine.audit.chain import check_chain, read_ref
    from engine.change.gitread import open_repo

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    sha = git(repo, "rev-parse", "HEAD").strip()
    first = append_record(repo, sha, {"by": "first"}, ref="govops-evidence")
    push_notes(repo, ref="govops-evidence", pending=[(sha, first)])
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "fetch", "-q", "origin", "refs/notes/govops-evidence:refs/notes/govops-evidence")
    second = append_record(other, sha, {"by": "second"}, ref="govops-evidence")
    push_notes(other, ref="govops-evidence", pending=[(sha, second)])
    third = append_record(repo, sha, {"by": "third"}, ref="govops-evidence")  # seq 2 locally: stale
    assert third["seq"] == 2
    pushed = push_notes(repo, ref="govops-evidence", pending=[(sha, third)])
    assert pushed == "pushed refs/notes/govops-evidence to origin"
    records = read_ledger(repo, sha, notes_ref="govops-evidence")[0].records
    assert [(r["by"], r["seq"]) for r in records] == [("first", 1), ("second", 2), ("third", 3)]
    with open_repo(repo) as r:
        assert check_chain(read_ref(r, "govops-evidence"), required=True) == []
