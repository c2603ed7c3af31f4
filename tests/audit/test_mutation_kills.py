"""Tests that kill mutants of ``engine.audit.chain`` and ``engine.audit.verify`` (issue 22, ``make mutate``).

The chain checks are pure functions of the lines read from a notes ref, so these tests build
the lines by hand and assert the exact findings (check, commit, message, record, severity) a
tampered ledger must produce.
"""

from __future__ import annotations

import pytest

from engine.audit.chain import Finding, Line, RefState, check_chain, entries_of, record_digests_by_commit
from engine.audit.ledger import line_digest

A, B, C = "a" * 40, "b" * 40, "c" * 40
REF = "refs/notes/govops"


def line(commit: str, number: int, record: dict | None, text: str | None = None, error: str | None = None) -> Line:
    raw = text if text is not None else str(record)
    return Line(commit, number, raw, line_digest(raw), record, error)


def chained(*commits: str) -> list[Line]:
    """One record per commit, seq 1..n, each naming its predecessor's digest."""
    out: list[Line] = []
    prev = None
    for seq, commit in enumerate(commits, 1):
        rec = {"seq": seq, "prev": prev, "commit": commit}
        out.append(line(commit, 1, rec, text=f'{{"seq": {seq}, "c": "{commit[:4]}"}}'))
        prev = out[-1].digest
    return out


def test_an_intact_chain_has_no_findings() -> None:
    assert check_chain(RefState(REF, "tip", chained(A, B, C)), required=True) == []


def test_a_removed_record_is_a_gap_named_by_the_record_after_it() -> None:
    lines = chained(A, B, C)
    del lines[1]
    [finding] = check_chain(RefState(REF, "tip", lines), required=True)
    assert finding == Finding(
        "chain", C, f"{REF} record seq 2 is missing (the record after it is on {C[:12]}): a record or a whole "
        "note was removed", lines[1].digest)


def test_an_edited_record_breaks_the_next_link() -> None:
    lines = chained(A, B)
    edited = line(A, 1, {"seq": 1, "prev": None, "commit": A}, text='{"seq": 1, "edited": true}')
    [finding] = check_chain(RefState(REF, "tip", [edited, lines[1]]), required=False)
    assert finding.check == "chain" and finding.commit == A and finding.record == edited.digest
    assert finding.message == (
        f"{REF} record seq 2 on {B[:12]} names previous record {lines[0].digest[:19]} but record seq 1 on "
        f"{A[:12]} has digest {edited.digest[:19]}: record seq 1 was edited after it was written")
    assert finding.severity == "error"


def test_a_copied_record_is_a_fork() -> None:
    lines = chained(A, B)
    copy = line(C, 1, dict(lines[1].record or {}, commit=C), text=lines[1].text)
    findings = check_chain(RefState(REF, "tip", [*lines, copy]), required=True)
    assert [f.check for f in findings] == ["chain"]
    assert findings[0].commit == C
    assert findings[0].message == (f"{REF} has 2 records with seq 2 (on {B[:12]}, {C[:12]}): the chain forked "
                                   "(a record was inserted or copied)")


def test_an_unchained_record_is_an_error_only_when_required() -> None:
    rec = line(A, 3, {"outcome": "succeeded"})
    [required] = check_chain(RefState(REF, "tip", [rec]), required=True)
    [optional] = check_chain(RefState(REF, "tip", [rec]), required=False)
    assert required.severity == "error" and optional.severity == "warning"
    assert required.message == (f"the {REF} record on {A[:12]} (line 3) is not chained (no seq/prev): written "
                                 "by hand or by an old govops")
    assert required.record == rec.digest and required.commit == A
    boolean_seq = line(A, 1, {"seq": True, "prev": None})
    assert [f.severity for f in check_chain(RefState(REF, "tip", [boolean_seq]), required=True)] == ["error"]


def test_a_commit_field_naming_another_commit_is_found() -> None:
    rec = line(A, 1, {"seq": 1, "prev": None, "commit": B})
    [finding] = check_chain(RefState(REF, "tip", [rec]), required=True)
    assert finding.check == "commit-field" and finding.commit == A and finding.record == rec.digest
    assert finding.message == (f"the {REF} note on {A[:12]} holds a record whose commit field says {B[:12]}: "
                               "the note was copied or the field rewritten")


def test_entries_and_digests_group_lines_by_commit() -> None:
    good = chained(A, B)
    bad = Line(A, 2, "not json", line_digest("not json"), None, "not valid JSON: x")
    state = RefState(REF, "tip", [good[0], bad, good[1]])
    entries = {e.commit: e for e in entries_of(state)}
    assert entries[A].records == [good[0].record]
    assert entries[A].invalid == [{"line": 2, "text": "not json", "error": "not valid JSON: x"}]
    assert entries[B].records == [good[1].record] and entries[B].invalid == []
    assert record_digests_by_commit(state) == {A: [good[0].digest, bad.digest], B: [good[1].digest]}


@pytest.mark.parametrize("missing_first", [True])
def test_a_missing_first_record_is_reported(missing_first: bool) -> None:
    lines = chained(A, B)[1:]
    [finding] = check_chain(RefState(REF, "tip", lines), required=True)
    assert "record seq 1 is missing" in finding.message and finding.commit == B


# --- verify, in this process (the CLI tests run it in a subprocess, where mutmut cannot map tests) ----

from pathlib import Path  # noqa: E402

from engine.audit.verify import Problem, VerifyReport, render_text, verify  # noqa: E402
from engine.spec.errors import InputError  # noqa: E402
from tests.helpers.audit_helpers import build_history, rollout_note  # noqa: E402


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    return build_history(tmp_path_factory.mktemp("verify") / "repo")


def copy_of(history, tmp_path: Path):
    import shutil

    from tests.helpers.audit_helpers import History

    dest = tmp_path / "repo"
    shutil.copytree(history.path, dest, symlinks=True)
    h = History(dest)
    h.shas.update(history.shas)
    return h


@pytest.mark.slow
def test_verify_an_intact_trail(history) -> None:
    report = verify(history.path)
    assert report.problems == [] and report.ok
    assert report.ref == "main" and report.commit == history.shas["revert"]
    assert {"noted_commits": 1, "rollout_records": 1, "artifacts": 1, "digests_compared": 1}.items() \
        <= report.checked.items()
    text = render_text(report)
    assert text.startswith(f"verify main ({history.shas['revert'][:12]}): ok (")
    assert "noted commits 1" in text and "rollout records 1" in text


@pytest.mark.slow
def test_verify_a_rewritten_history(history, tmp_path: Path) -> None:
    h = copy_of(history, tmp_path)
    h.git("reset", "-q", "--hard", h.shas["initial"])
    h.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    h.commit("Promote iris 1.1.0 (rewritten)", "2026-01-10T09:00:00+00:00")
    h.git("branch", "-D", "kim/promote")
    report = verify(h.path)
    assert not report.ok and report.offending_commits() == [h.shas["merge"]]
    assert report.problems[0].check == "reachable"
    assert "history was rewritten (it exists but is not on the branch)" in report.problems[0].message
    assert f"offending commit(s) {h.shas['merge'][:12]}" in render_text(report)


@pytest.mark.slow
def test_verify_a_digest_and_an_artifact_that_do_not_match(history, tmp_path: Path) -> None:
    h = copy_of(history, tmp_path)
    rollout_note(h.path, h.shas["move"], "2026-02-01T10:00:00Z", digest_override="0" * 64)
    [problem] = verify(h.path).problems
    assert (problem.check, problem.commit, problem.severity) == ("digest", h.shas["move"], "error")
    assert "says desired state 000000000000" in problem.message
    h2 = copy_of(history, tmp_path / "second")
    rollout_note(h2.path, h2.shas["move"], "2026-02-01T10:00:00Z", sha_override="f" * 64)
    [problem] = verify(h2.path).problems
    assert (problem.check, problem.commit) == ("artifact", h2.shas["move"])
    assert problem.message.startswith("lab/iris-species 1.1.0 was deployed at ")
    assert problem.message.endswith("but validation read ffffffffffff: the deployed artifact is not the one validated")


@pytest.mark.slow
def test_verify_a_note_that_is_not_json(history, tmp_path: Path) -> None:
    h = copy_of(history, tmp_path)
    h.git("notes", "--ref", "govops", "append", "-m", "garbage{", h.shas["other"])
    report = verify(h.path)
    assert not report.ok
    assert report.problems[0].check == "ledger" and report.problems[0].commit == h.shas["other"]
    assert "not valid JSON" in report.problems[0].message


@pytest.mark.slow
def test_verify_missing_evidence_is_a_warning_unless_strict(history, tmp_path: Path) -> None:
    from engine.audit.ledger import append_record, build_record
    from engine.rollout.desired import load_desired

    h = copy_of(history, tmp_path)
    state = load_desired(h.path, h.shas["move"])
    append_record(h.path, h.shas["move"], build_record(
        target="local", ref="main", commit=h.shas["move"], digest=state.digest, previous_digest=None,
        result={"outcome": "succeeded", "changes": [{"action": "load", "model": "lab/iris-species",
                                                     "version": "1.1.0"}]}, evidence=None))
    lenient = verify(h.path)
    assert lenient.ok and lenient.problems[0].severity == "warning"
    assert "missing evidence" in lenient.problems[0].message
    strict = verify(h.path, strict=True)
    assert not strict.ok and h.shas["move"] in strict.offending_commits()
    missing = {p.commit for p in strict.problems if p.check == "missing-record"}
    assert missing == {h.shas["other"], h.shas["shutdown"], h.shas["revert"]}


@pytest.mark.slow
def test_verify_refuses_a_shallow_clone(history, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    history.git("clone", "-q", "--depth", "1", f"file://{history.path}", str(clone))
    with pytest.raises(InputError) as caught:
        verify(clone)
    assert "shallow clone" in str(caught.value) and "needs the whole history of main" in str(caught.value)


def test_report_verdict_and_data() -> None:
    report = VerifyReport("main", "c" * 40, {"noted_commits": 2}, [
        Problem("chain", A, "m1", "warning"), Problem("digest", B, "m2"), Problem("history", A, "m3"),
        Problem("artifact", B, "m4", record="sha256:x")])
    assert not report.ok and report.offending_commits() == [B, A]
    data = report.to_data()
    assert data == {"ok": False, "ref": "main", "commit": "c" * 40, "checked": {"noted_commits": 2},
                    "offending_commits": [B, A], "problems": [p.to_data() for p in report.problems]}
    assert data["problems"][3] == {"check": "artifact", "commit": B, "severity": "error", "message": "m4",
                                   "record": "sha256:x"}
    assert render_text(report) == (
        "warning: chain: m1\nerror: digest: m2\nerror: history: m3\nerror: artifact: m4\n"
        f"verify main (cccccccccccc): FAILED: offending commit(s) {B[:12]}, {A[:12]} (noted commits 2)\n")
    only_warnings = VerifyReport("main", "c" * 40, {}, [Problem("chain", A, "m1", "warning")])
    assert only_warnings.ok and only_warnings.offending_commits() == []
    assert render_text(only_warnings).endswith("verify main (cccccccccccc): ok ()\n")
