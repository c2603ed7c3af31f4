"""Tests that kill mutants of ``engine.audit.chain`` and ``engine.audit.verify`` (issue 22, ``make mutate``).

The chain checks are pure functions of the lines read from a notes ref, so these tests build
the lines by hand and assert the exact findings (check, commit, message, record, severity) a
tampered ledger must produce.
"""

from __future__ import annotations

import pytest

from engine.audit.chain import Finding, Line, RefState, check_chain, entries_of, record_digests_by_commit
from engine.audit.ledger import canonical, line_digest

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


# --- verify's per-entry checks, on hand-built notes (exact problems) --------------------------------

from types import SimpleNamespace  # noqa: E402

from engine.audit.ledger import LedgerEntry  # noqa: E402
from engine.audit.verify import ROLLOUT_V1, _check_artifacts, _check_entry, _is_rollout, _where  # noqa: E402
from engine.spec.errors import GovopsError  # noqa: E402

DIGEST = "d" * 64
URI = "artifacts/lab/iris/1.1.0/model.skops"
SHA = "5" * 64
VIEW = SimpleNamespace(ref="main", root=Path("/repo"))


class Desired:
    def __init__(self, versions: dict[str, SimpleNamespace]) -> None:
        self.versions = versions

    def version(self, v: str):
        return self.versions.get(v)


STATE = SimpleNamespace(digest=DIGEST, models={"lab/iris": Desired({"1.1.0": SimpleNamespace(artifact_uri=URI,
                                                                                              sha256=SHA)})})


def rollout(commit: str | None = None, **changes: object) -> dict:
    record = {"kind": ROLLOUT_V1, "digest": DIGEST, "outcome": "succeeded",
              "changes": [{"action": "load", "model": "lab/iris", "version": "1.1.0"}],
              "evidence": {"validation": [{"model": "lab/iris", "inputs": [{"role": "model", "uri": URI,
                                                                             "sha256": SHA}]}]}}
    if commit is not None:
        record["commit"] = commit
    record.update(changes)
    return record


def check(entry: LedgerEntry, *, reachable: set[str] | None = None, present: set[str] | None = None,
          strict: bool = False, load=None, cache: dict | None = None, trees: list | None = None) -> VerifyReport:
    report = VerifyReport("main", A)
    loads: list[tuple] = []

    def load_desired(root, commit):
        loads.append((root, commit))
        return load(root, commit) if load else STATE

    _check_entry(VIEW, entry, {A, B} if reachable is None else reachable, present or set(),
                 {} if cache is None else cache, report, strict, load_desired, trees)
    report.checked["loads"] = len(loads)
    return report


def test_a_matching_rollout_has_no_problem() -> None:
    report = check(LedgerEntry(A, [rollout()]))
    assert report.problems == [] and report.checked == {"artifacts": 1, "loads": 1}


def test_invalid_note_lines_are_ledger_problems() -> None:
    entry = LedgerEntry(A, [], [{"line": 2, "text": "x", "error": "not valid JSON: y"}])
    [p] = check(entry).problems
    assert p == Problem("ledger", A, f"the ledger note on {A[:12]} has a line 2 that is not valid JSON: y")


def test_an_unreachable_noted_commit() -> None:
    [gone] = check(LedgerEntry(C, []), present=set()).problems
    assert gone == Problem("reachable", C, f"commit {C[:12]} carries a ledger note but is not reachable from main: "
                                           "history was rewritten (it no longer exists in this repository)")
    [there] = check(LedgerEntry(C, []), present={C}).problems
    assert there.message.endswith("(it exists but is not on the branch)")
    assert _where(C, {C}) == "it exists but is not on the branch"
    assert _where(C, set()) == "it no longer exists in this repository"


def test_an_unreachable_rolled_out_commit() -> None:
    report = check(LedgerEntry(A, [rollout(commit=C)]), present={C})
    assert report.problems == [Problem("reachable", C, f"rolled-out commit {C[:12]} is not reachable from main: "
                                                       "history was rewritten (it exists but is not on the branch)")]
    assert report.checked["loads"] == 0


def test_records_that_are_not_rollouts_are_skipped() -> None:
    assert _is_rollout({"kind": ROLLOUT_V1}) and _is_rollout({"kind": "govops.rollout/v2"})
    assert not _is_rollout({"kind": "govops.pr-check/v1"}) and not _is_rollout({})
    report = check(LedgerEntry(A, [{"kind": "govops.pr-check/v1", "commit": C}]))
    assert report.problems == [] and report.checked == {"loads": 0}


def test_a_digest_that_does_not_match() -> None:
    [p] = check(LedgerEntry(A, [rollout(digest="0" * 64)])).problems
    assert p == Problem("digest", A, f"the rollout record of {A[:12]} says desired state 000000000000 but the specs "
                                     "at that commit give dddddddddddd: the specs or the note were changed after "
                                     "the rollout")


def test_a_missing_digest_is_an_error_only_when_strict() -> None:
    [lenient] = check(LedgerEntry(A, [rollout(digest=None)])).problems
    assert lenient == Problem("digest", A, f"the rollout record of {A[:12]} has no desired-state digest", "warning")
    [strict] = check(LedgerEntry(A, [rollout(digest="")]), strict=True).problems
    assert strict.severity == "error"


def test_a_desired_state_that_cannot_be_rebuilt_is_loaded_once() -> None:
    def broken(root, commit):
        assert root == Path("/repo") and commit == A
        raise GovopsError("specs/x.yaml: bad")

    cache: dict = {}
    report = check(LedgerEntry(A, [rollout(), rollout()]), load=broken, cache=cache)
    message = f"cannot rebuild the desired state at {A[:12]}: {GovopsError('specs/x.yaml: bad').render()}"
    assert report.problems == [Problem("digest", A, message), Problem("digest", A, message)]
    assert report.checked["loads"] == 1 and cache == {A: GovopsError("specs/x.yaml: bad").render()}


def test_a_cached_state_is_reused() -> None:
    report = check(LedgerEntry(A, [rollout()]), cache={A: STATE})
    assert report.checked["loads"] == 0 and report.problems == []


def test_records_naming_spec_trees_are_compared_in_one_batch() -> None:
    trees: list = []
    record = rollout(specs_tree={"specs": "t" * 40})
    report = check(LedgerEntry(A, [record, rollout(specs_tree={})]), trees=trees)
    assert trees == [(A, record)]
    assert report.checked["loads"] == 1  # the one without trees is rebuilt
    assert check(LedgerEntry(A, [record]), trees=None).checked["loads"] == 1


def test_artifacts_are_only_checked_for_succeeded_rollouts() -> None:
    report = check(LedgerEntry(A, [rollout(outcome="failed", evidence={})]))
    assert report.problems == [] and "artifacts" not in report.checked


def test_an_artifact_without_validation_is_missing_evidence() -> None:
    report = VerifyReport("main", A)
    _check_artifacts(A, rollout(evidence={}), STATE, report, False)
    assert report.problems == [Problem(
        "artifact", A, f"lab/iris 1.1.0 was deployed at {A[:12]} but no validation result in its note read {URI} "
        "(missing evidence)", "warning")]
    strict = VerifyReport("main", A)
    _check_artifacts(A, rollout(evidence={}), STATE, strict, True)
    assert strict.problems[0].severity == "error" and strict.checked == {"artifacts": 1}


def test_an_artifact_other_than_the_validated_one() -> None:
    record = rollout()
    record["evidence"]["validation"].append({"model": "lab/iris", "inputs": [{"role": "reference_model", "uri": URI,
                                                                              "sha256": "e" * 64}]})
    report = VerifyReport("main", A)
    _check_artifacts(A, record, STATE, report, False)
    assert report.problems == [Problem(
        "artifact", A, f"lab/iris 1.1.0 was deployed at {A[:12]} with sha256 {SHA[:12]} but validation read "
        "eeeeeeeeeeee: the deployed artifact is not the one validated")]


def test_only_loads_and_replaces_of_known_versions_are_checked() -> None:
    changes = [{"action": "unload", "model": "lab/iris", "version": "1.1.0"}, "junk",
               {"action": "load", "model": "lab/other", "version": "1.1.0"},
               {"action": "load", "model": "lab/iris", "version": "9.9.9"},
               {"action": "replace", "model": "lab/iris", "version": "1.1.0"}]
    report = VerifyReport("main", A)
    _check_artifacts(A, rollout(changes=changes), STATE, report, False)
    assert report.problems == [] and report.checked == {"artifacts": 1}
    report = VerifyReport("main", A)
    _check_artifacts(A, rollout(changes=None), STATE, report, False)
    assert report.checked == {}
    other_model = rollout()
    other_model["evidence"]["validation"][0]["model"] = "lab/other"
    report = VerifyReport("main", A)
    _check_artifacts(A, other_model, STATE, report, False)
    assert report.problems[0].message.endswith("(missing evidence)")


# --- the ledger's signatures, in this process (real git, real ssh signatures) -----------------------

import json as _json  # noqa: E402
import shutil as _shutil  # noqa: E402

needs_ssh = pytest.mark.skipif(_shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes")


def _trail(tmp_path: Path):
    from tests.audit.test_trail_tamper import build_trail

    return build_trail(tmp_path)


def _tip(h) -> str:
    return h.git("rev-parse", "refs/notes/govops")


@pytest.mark.slow
@needs_ssh
@pytest.mark.parametrize("every", [False, True])
def test_an_unsigned_note_is_blamed_on_the_note_it_changed(tmp_path: Path, every: bool) -> None:
    h = _trail(tmp_path)
    assert verify(h.path, every_signature=every).problems == []
    text = _json.dumps({"kind": "govops.rollout/v1"})
    h.git("notes", "--ref", "govops", "append", "-m", text, h.shas["initial"])
    [sig] = [p for p in verify(h.path, every_signature=every).problems if p.check == "signature"]
    assert sig == Problem(
        "signature", h.shas["initial"],
        f"refs/notes/govops commit {_tip(h)[:12]} is not signed: the ledger was written by someone other than the "
        f"CI identity (the note on {h.shas['initial'][:12]} was changed; 1 record(s) on it are covered by no good "
        "signature)", "error", line_digest(text))


@pytest.mark.slow
@needs_ssh
def test_a_note_signed_by_another_key_is_found(tmp_path: Path) -> None:
    from engine.audit.ledger import append_record

    h = _trail(tmp_path)
    h.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.0.0")
    sha = h.commit("Back to 1.0.0", "2026-02-01T09:00:00+00:00")
    h.sign_with(h.other_key)
    append_record(h.path, sha, {"kind": "govops.rollout/v1", "commit": sha, "outcome": "succeeded"})
    [sig] = [p for p in verify(h.path).problems if p.check == "signature"]
    assert sig.commit == sha and sig.severity == "error" and sig.record is not None
    assert sig.message == (
        f"refs/notes/govops commit {_tip(h)[:12]} is signed by a key that is not in govops.yaml's "
        "ledger.allowedSigners: the ledger was written by someone other than the CI identity (the note on "
        f"{sha[:12]} was changed; 1 record(s) on it are covered by no good signature)")


@pytest.mark.slow
@needs_ssh
def test_a_signed_tip_announcing_a_record_that_is_gone(tmp_path: Path) -> None:
    h = _trail(tmp_path)
    merge = h.shas["merge"]
    old = h.note(merge).strip().splitlines()[-1]
    h.rewrite_note(merge, '"actor":"unknown"', '"actor":"mallory"')
    full = "refs/notes/govops"
    tree = h.git("rev-parse", f"{full}^{{tree}}")
    msg = f"forged\n\nGovops-Commit: {merge}\nGovops-Record: {line_digest(old)}\n"
    h.sign_with(h.ci_key)
    h.git("update-ref", full, h.git("commit-tree", "-S", tree, "-p", h.git("rev-parse", full), "-m", msg))
    sigs = [p for p in verify(h.path).problems if p.check == "signature"]
    assert Problem(
        "signature", merge, f"the signed tip {_tip(h)[:12]} of refs/notes/govops announces record "
        f"{line_digest(old)[:19]} on {merge[:12]}, which is not in the ledger: it was edited or removed", "error",
        line_digest(old)) in sigs


# --- integrity_marks: which records the audit and the report must not present as evidence -----------


def _marks(h, config: object = None) -> dict[str, str]:  # noqa: ANN001 - a Trail from test_trail_tamper
    from engine.audit.chain import integrity_marks
    from engine.change.gitread import open_repo
    from engine.spec.workspace import load_config

    if config is None:
        config, _, _ = load_config(h.path)
    with open_repo(h.path) as repo:
        return integrity_marks(repo, config)


@pytest.mark.slow
@needs_ssh
def test_integrity_marks_of_an_intact_trail_and_without_a_declared_ledger(tmp_path: Path) -> None:
    from types import SimpleNamespace

    h = _trail(tmp_path)
    assert _marks(h) == {}
    h.git("notes", "--ref", "govops", "append", "-m", _json.dumps({"kind": "govops.rollout/v1"}), h.shas["initial"])
    # anchors show the ledger was signed: a govops.yaml without a ledger (or none at all) vouches for nothing
    removed = _marks(h, SimpleNamespace())
    assert removed == _marks(h, SimpleNamespace(ledger=None)) and h.shas["initial"] in removed
    assert set(removed.values()) == {"the ledger was signed (anchor tags under refs/tags/govops-ledger/ exist) but "
                                     "govops.yaml here lists no ledger.allowedSigners: its protection was removed, "
                                     "so no record can be trusted"}
    # never signed (no anchors): nothing is marked where govops.yaml declares no ledger
    for tag in h.git("tag", "-l", "govops-ledger/*").split():
        h.git("tag", "-d", tag)
    assert _marks(h, SimpleNamespace()) == {} and _marks(h, SimpleNamespace(ledger=None)) == {}


@pytest.mark.slow
@needs_ssh
def test_integrity_marks_an_unsigned_record_with_why(tmp_path: Path) -> None:
    h = _trail(tmp_path)
    text = _json.dumps({"kind": "govops.rollout/v1"})
    h.git("notes", "--ref", "govops", "append", "-m", text, h.shas["initial"])
    why = (f"refs/notes/govops: the notes commit that added the record on {h.shas['initial'][:12]} is not signed by "
           "the CI identity (no good signature covers it)")
    # marked by the stored line's digest and by its canonical form's (what a reader of the parsed record looks up)
    assert _marks(h) == {line_digest(text): why, line_digest(canonical(_json.loads(text))): why}



@pytest.mark.slow
@needs_ssh
def test_integrity_marks_chain_errors_by_record_when_no_signer_is_declared(tmp_path: Path) -> None:
    from types import SimpleNamespace

    h = _trail(tmp_path)
    for tag in h.git("tag", "-l", "govops-ledger/*").split():  # never signed: no anchors
        h.git("tag", "-d", tag)
    unchained = canonical({"kind": "govops.rollout/v1"})
    late = canonical({"kind": "govops.rollout/v1", "seq": 5, "prev": "sha256:x"})
    h.git("notes", "--ref", "govops", "append", "-m", unchained, h.shas["head"])
    h.git("notes", "--ref", "govops", "append", "-m", late, h.shas["initial"])
    marks = _marks(h, SimpleNamespace(ledger=SimpleNamespace(allowed_signers=[])))
    # seq 2 and 3 are missing with no record after them (nothing to mark); seq 4's gap marks the record after it
    assert marks == {
        line_digest(unchained): f"the refs/notes/govops record on {h.shas['head'][:12]} (line 1) is not chained "
                                "(no seq/prev): written by hand or by an old govops",
        line_digest(late): f"refs/notes/govops record seqs 2 to 4 are missing (the record after them is on "
                           f"{h.shas['initial'][:12]}): a record or a whole note was removed",
    }


def test_chain_findings_after_an_unchained_record_a_two_record_gap_and_a_fork() -> None:
    loose = line(A, 1, {"outcome": "succeeded"})
    one = line(A, 2, {"seq": 1, "prev": None, "commit": A}, text='{"seq": 1}')
    four = line(B, 1, {"seq": 4, "prev": "sha256:x", "commit": B}, text='{"seq": 4}')
    fork1 = line(C, 1, {"seq": 5, "prev": four.digest, "commit": C}, text='{"seq": 5, "n": 1}')
    fork2 = line(C, 2, {"seq": 5, "prev": four.digest, "commit": C}, text='{"seq": 5, "n": 2}')
    findings = check_chain(RefState(REF, "tip", [loose, one, four, fork1, fork2]), required=False)
    assert findings == [
        Finding("chain", A, f"the {REF} record on {A[:12]} (line 1) is not chained (no seq/prev): written by hand "
                "or by an old govops", loose.digest, "warning"),
        Finding("chain", B, f"{REF} record seqs 2 to 3 are missing (the record after them is on {B[:12]}): a "
                "record or a whole note was removed", four.digest),
        Finding("chain", C, f"{REF} has 2 records with seq 5 (on {C[:12]}, {C[:12]}): the chain forked (a record "
                "was inserted or copied)", fork2.digest),
    ]


def test_an_invalid_line_is_shown_shortened_and_says_invalid_without_a_reason() -> None:
    text = "x" * 300
    state = RefState(REF, "tip", [Line(A, 4, text, line_digest(text), None, None)])
    [entry] = entries_of(state)
    assert entry.invalid == [{"line": 4, "text": "x" * 200, "error": "invalid"}]



def test_the_allowed_signers_file_is_private_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    from engine.audit.chain import allowed_signers_file

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with allowed_signers_file(["  a ssh-ed25519 AAAA  ", "", "b ssh-ed25519 BBBB"]) as path:
        assert os.path.dirname(path) == str(tmp_path)
        name = os.path.basename(path)
        assert name.startswith("govops-allowed-signers-") and len(name) == len("govops-allowed-signers-") + 16
        int(name.rsplit("-", 1)[1], 16)  # 8 random bytes in hex
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert Path(path).read_text() == "a ssh-ed25519 AAAA\nb ssh-ed25519 BBBB\n"
    assert not os.path.exists(path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))  # not a directory: /tmp is used
    with allowed_signers_file([]) as path:
        assert os.path.dirname(path) == "/tmp" and Path(path).read_text() == ""
        assert len(os.path.basename(path)) == len("govops-allowed-signers-") + 16  # not tempfile's fallback name


@pytest.mark.slow
@needs_ssh
def test_a_signed_tip_announcing_an_older_record_than_the_newest(tmp_path: Path) -> None:
    h = _trail(tmp_path)
    merge = h.shas["merge"]
    old = h.note(merge).strip().splitlines()[-1]
    seq = _json.loads(old)["seq"]
    added = _json.dumps({"kind": "govops.rollout/v1", "seq": seq + 1, "prev": line_digest(old), "commit": merge})
    h.git("notes", "--ref", "govops", "append", "-m", added, merge)
    full = "refs/notes/govops"
    tree = h.git("rev-parse", f"{full}^{{tree}}")
    msg = f"signed again\n\nGovops-Commit: {merge}\nGovops-Record: {line_digest(old)}\n"
    h.sign_with(h.ci_key)
    h.git("update-ref", full, h.git("commit-tree", "-S", tree, "-p", h.git("rev-parse", full), "-m", msg))
    assert Problem(
        "chain", merge, f"the signed tip {_tip(h)[:12]} of refs/notes/govops announces record seq {seq} but the "
        f"ledger's newest record is seq {seq + 1}: records were added without the CI identity", "error",
        line_digest(old)) in verify(h.path).problems


def test_a_single_missing_record_is_named_alone() -> None:
    one = line(A, 1, {"seq": 1, "prev": None, "commit": A}, text='{"seq": 1}')
    three = line(B, 1, {"seq": 3, "prev": "sha256:x", "commit": B}, text='{"seq": 3}')
    findings = check_chain(RefState(REF, "tip", [one, three]), required=True)
    assert findings == [Finding("chain", B, f"{REF} record seq 2 is missing (the record after it is on {B[:12]}): a "
                                "record or a whole note was removed", three.digest)]
