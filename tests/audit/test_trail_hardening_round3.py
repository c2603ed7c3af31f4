"""Red team round 3 (issue #17, T-w8/T-w10): a hand-written note is a finding, never a crash or a stall.

Anyone who can push a notes ref can write any line, at any path of the notes tree. Each case
writes one such note, unsigned, the way anyone can, and checks that ``verify`` names it and that
``audit``, ``report``, ``explain`` and ``ledger show`` (and the rollout's ``find_evidence``) go
on without an internal error:

- F8: a field of the wrong shape (``"changes": 5``, ``evidence.links.argo = 5``): ``verify``
  reports a ``ledger`` problem naming the note and the record; the readers leave the record
  out as malformed (``evidence.shape_problem``, applied by ``ledger.parse_note``);
- F13: a 100,000-deep JSON line (RecursionError in ``json.loads``) in either notes ref;
- F3/F6: a blob at a notes-tree path git does not read as a note (``abcd/…``, a newline):
  ``audit`` reads only the notes ``git notes list`` lists, as verify does;
- F10: many notes in one unsigned notes commit: ``check_signatures`` groups the unsigned lines
  by note once (it scanned them again per note: 16k notes 7.6 s, 32k 36 s).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.audit.evidence import shape_problem
from engine.audit.ledger import canonical, line_digest, parse_note
from engine.audit.trail import TrailConfig, note_object
from tests.audit.test_trail_tamper import Trail, build_trail
from tests.helpers.audit_helpers import IRIS, PROJECT, govops

ROLLOUT = "govops.rollout/v1"
DEEP = '{"a":' * 100_000 + "1" + "}" * 100_000
_signed = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes")


# --- fast: the shape of a record, the paths of notes ------------------------------------------------------


@pytest.mark.parametrize(("record", "says"), [
    ({"changes": 5}, "changes is a number, not a list"),
    ({"changes": [[1]]}, "changes[0] is a list, not an object"),
    ({"changes": [{"model": IRIS, "version": [1]}]}, "changes[0].version is a list"),
    ({"commit": 5}, "commit is a number, not a string"),
    ({"kind": [ROLLOUT]}, "kind is a list, not a string"),
    ({"recorded": {}}, "recorded is an object, not a string"),
    ({"digest": 5}, "digest is a number, not a string"),
    ({"evidence": [1]}, "evidence is a list, not an object"),
    ({"evidence": {"validation": "x"}}, "evidence.validation is a string, not a list"),
    ({"evidence": {"validation": [1]}}, "evidence.validation[0] is a number, not an object"),
    ({"evidence": {"validation": [{"inputs": 5}]}}, "evidence.validation[0].inputs is a number, not a list"),
    ({"evidence": {"validation": [{"inputs": [{"uri": [1]}]}]}}, "evidence.validation[0].inputs[0].uri is a list"),
    ({"evidence": {"validation": [{"metrics": 5}]}}, "evidence.validation[0].metrics is a number, not a list"),
    ({"evidence": {"policy_decisions": [{"result": 5}]}}, "evidence.policy_decisions[0].result is a number"),
    ({"evidence": {"policy_decisions": [{"result": {"deny": 5}}]}}, "result.deny is a number, not a list"),
    ({"evidence": {"links": {"argo": 5}}}, "evidence.links.argo is a number, not a list"),
    ({"evidence": {"links": {"argo": [[1]]}}}, "evidence.links.argo[0] is a list, not a string"),
    ({"evidence": {"links": {"argo_runs": [5]}}}, "evidence.links.argo_runs[0] is a number, not an object"),
    ({"evidence": {"context": {"approvals": [1]}}}, "evidence.context.approvals[0] is a number, not an object"),
    ({"evidence": {"context": {"approvals": [{"approver": []}]}}}, "approvals[0].approver is a list"),
    ({"evidence": {"context": {"reviewers": 5}}}, "evidence.context.reviewers is a number, not a list"),
    ({"evidence": {"source": 5}}, "evidence.source is a number, not an object"),
    ({"evidence_missing": []}, "evidence_missing is a list, not an object"),
    ({"specs_tree": {"specs": {}}}, "specs_tree has an entry 'specs'"),
    ({"specs_tree": {"a\nb": "0" * 40}}, "specs_tree has an entry"),
    ({"covers": 5}, "covers is a number, not a list"),
])
def test_a_field_of_the_wrong_shape_is_named(record: dict[str, Any], says: str) -> None:
    problem = shape_problem({"kind": ROLLOUT, "seq": 2, **record})
    assert problem is not None and says in problem, problem


def test_records_govops_writes_have_no_shape_problem() -> None:
    from engine.audit.ledger import build_record

    record = build_record(target="local", ref="main", commit="a" * 40, digest="sha256:x", previous_digest=None,
                          result={"outcome": "succeeded", "changes": [{"action": "load", "model": IRIS,
                                                                      "version": "1.1.0", "role": "champion"}]},
                          evidence={"validation": [{"check": "fit", "model": IRIS, "version": "1.1.0",
                                                    "status": "pass", "summary": "ok", "metrics": [
                                                        {"name": "f1", "scope": "overall", "value": 0.9}],
                                                    "inputs": [{"role": "candidate_model", "uri": "x",
                                                                "sha256": "y"}]}],
                                    "policy_decisions": [{"decision_id": "d", "model": IRIS, "input": {"a": [1]},
                                                          "result": {"deny": [], "warn": [{"rule": "r"}]}}],
                                    "context": {"author": "kim", "approvals": [{"approver": "lee", "group": None}],
                                                "reviewers": ["lee"], "labels": ["x"], "pr_number": 12},
                                    "links": {"ci_run": None, "argo": ["https://a"], "argo_runs": [{"url": "u"}]},
                                    "source": {"ref": "refs/notes/govops-evidence", "head": "b" * 40,
                                               "record": "sha256:z", "seq": 1, "mapped_by": "merge"},
                                    "pr": 12, "ok": True, "statuses": [], "files": {"a.json": "0"}})
    record.update(seq=1, prev=None, specs_tree={"specs": "c" * 40}, covers=["d" * 40])
    assert shape_problem(record) is None
    assert shape_problem({"kind": "govops.pr-evidence/v1", "specs": {"specs/a.yaml": None}, "pr": 3}) is None


def test_parse_note_keeps_deep_and_malformed_lines_as_invalid() -> None:
    good = canonical({"kind": ROLLOUT, "seq": 1, "commit": "a" * 40, "changes": []})
    bad = json.dumps({"kind": ROLLOUT, "seq": 2, "commit": "a" * 40, "changes": 5})
    entry = parse_note("a" * 40, "\n".join([good, DEEP, bad]) + "\n")
    assert [r["seq"] for r in entry.records] == [1]
    errors = {bad["line"]: bad["error"] for bad in entry.invalid}
    assert errors[2] == "not valid JSON: nested too deeply"
    assert errors[3] == "a malformed record: changes is a number, not a list"


@pytest.mark.parametrize(("path", "obj"), [
    ("ab" + "c" * 38, "ab" + "c" * 38),
    ("ab/" + "c" * 38, "ab" + "c" * 38),
    ("ab/cd/" + "e" * 36, "abcd" + "e" * 36),
    ("AB/" + "C" * 38, "ab" + "c" * 38),  # git reads hex in either case; its notes list prints lower case
    ("abcd/" + "e" * 36, None),  # F3: a four-digit fan-out directory is no note to git
    ("ab/c\n" + "d" * 36, None),  # F6
    ("x\ny", None),
    ("ab/" + "g" * 38, None),
    ("ab/" + "c" * 37, None),
])
def test_only_git_fan_out_paths_are_notes(path: str, obj: str | None) -> None:
    assert note_object(path) == obj


def test_a_govops_yaml_with_a_5000_digit_number_is_unreadable_not_a_crash() -> None:
    from engine.change.gitread import config_from_bytes

    raw = (PROJECT / "govops.yaml").read_bytes() + b"\nextra: " + b"9" * 5000 + b"\n"
    assert TrailConfig.read(raw) is None
    config, diags = config_from_bytes(raw, "govops.yaml")
    assert config is None and diags


# --- slow: real signed trails ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    return build_trail(tmp_path_factory.mktemp("round3") / "base")


@pytest.fixture
def trail(base: Trail, tmp_path: Path) -> Trail:
    """A copy of the module's trail (keys beside it, as ``build_trail`` leaves them)."""
    shutil.copytree(base.path.parent, tmp_path / "t")
    copy = Trail(tmp_path / "t" / "repo")
    copy.ci_key, copy.other_key = tmp_path / "t" / "ci_key", tmp_path / "t" / "other_key"
    copy.shas = dict(base.shas)
    copy.git("config", "user.signingkey", str(copy.ci_key))
    return copy


def _run(h: Trail, *args: str) -> subprocess.CompletedProcess[str]:
    res = govops("-C", str(h.path), *args)
    assert res.returncode in (0, 1), f"govops {' '.join(args)} -> {res.returncode}: {res.stderr[-800:]}"
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr[-800:]
    return res


def _verify(h: Trail) -> list[dict[str, Any]]:
    res = _run(h, "verify", "--format", "json")
    assert res.returncode == 1
    return [p for p in json.loads(res.stdout)["problems"] if p["severity"] == "error"]


def _append(h: Trail, record: dict[str, Any] | str, commit: str | None = None, ref: str = "govops") -> None:
    """One unsigned line appended to a note, as anyone can (``git notes append``)."""
    line = record if isinstance(record, str) else json.dumps(record)
    h.sign_with(None)
    h.git("notes", "--ref", ref, "append", "-m", line, commit or h.shas["merge"])


def _next(h: Trail, **fields: Any) -> dict[str, Any]:
    first = json.loads(h.note(h.shas["merge"]).splitlines()[0])
    return {"kind": ROLLOUT, "seq": 2, "prev": line_digest(canonical(first)), "commit": h.shas["merge"], **fields}


@_signed
@pytest.mark.slow
def test_a_field_of_the_wrong_shape_is_a_ledger_finding_and_left_out_by_the_readers(trail: Trail) -> None:
    merge = trail.shas["merge"]
    _append(trail, _next(trail, outcome="succeeded", changes=5))
    ledger = [p for p in _verify(trail) if p["check"] == "ledger"]
    assert any(p["commit"] == merge and "record seq 2" in p["message"] and "malformed (changes is a number, not a "
               "list)" in p["message"] for p in ledger), ledger
    _run(trail, "verify", "--all-signatures", "--strict", "--deep")

    _append(trail, _next(trail, seq=3, recorded="2026-01-11T00:00:00Z", outcome="succeeded",
                         changes=[{"action": "load", "model": IRIS, "version": "1.1.0"}],
                         evidence={"links": {"argo": 5}}))
    audit = _run(trail, "audit", IRIS)
    assert "a malformed record: evidence.links.argo is a number, not a list" in audit.stderr + audit.stdout
    report = json.loads(_run(trail, "report", "--format", "json").stdout)
    errors = [bad["error"] for bad in report["invalid_notes"]]
    assert "a malformed record: changes is a number, not a list" in errors
    assert "a malformed record: evidence.links.argo is a number, not a list" in errors
    for args in (["report"], ["explain", merge, IRIS], ["ledger", "show"], ["docs", IRIS, "--format", "json"]):
        govops_ok = govops("-C", str(trail.path), *args)
        assert govops_ok.returncode != 3 and "Traceback" not in govops_ok.stderr, (args, govops_ok.stderr[-800:])


@_signed
@pytest.mark.slow
def test_a_100000_deep_json_line_is_a_finding_for_every_reader(trail: Trail) -> None:
    merge, head = trail.shas["merge"], trail.shas["head"]
    deep = trail.path.parent / "deep.json"
    deep.write_text(DEEP + "\n")
    trail.sign_with(None)
    trail.git("notes", "--ref", "govops", "append", "-F", str(deep), merge)
    trail.git("notes", "--ref", "govops-evidence", "append", "-F", str(deep), head)
    messages = [p["message"] for p in _verify(trail) if p["check"] == "ledger"]
    assert sum("nested too deeply" in m for m in messages) == 2, messages
    for args in (["audit", IRIS], ["report", "--format", "json"], ["ledger", "show"], ["ledger", "show", "--evidence"]):
        _run(trail, *args)
    explain = govops("-C", str(trail.path), "explain", merge, IRIS)
    assert explain.returncode != 3 and "Traceback" not in explain.stderr, explain.stderr[-800:]
    # the CI's next rollout looks the evidence up, and appends after the chain's head
    code = ("import sys, pathlib; from engine.audit.pr_evidence import find_evidence; "
            "from engine.audit.ledger import chain_head; from engine.change.gitread import open_repo; "
            f"root = pathlib.Path({str(trail.path)!r}); found = find_evidence(root, {merge!r}); "
            "repo = open_repo(root).__enter__(); print(found is not None, chain_head(repo)[0], "
            "chain_head(repo, 'govops-evidence')[0])")
    res = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-800:]
    assert res.stdout.split() == ["True", "1", "1"]


def _git(h: Trail, *args: str, inp: bytes | None = None) -> str:
    res = subprocess.run(["git", *args], cwd=h.path, input=inp, capture_output=True, check=True)
    return res.stdout.decode().strip()


def _add_tree_entry(h: Trail, entry: bytes) -> None:
    """A notes commit (unsigned) whose tree holds one more entry beside the notes (``git mktree -z``)."""
    tree = _git(h, "rev-parse", "refs/notes/govops^{tree}")
    entries = subprocess.run(["git", "ls-tree", "-z", tree], cwd=h.path, capture_output=True, check=True).stdout
    new_tree = _git(h, "mktree", "-z", inp=entries + entry + b"\0")
    new = _git(h, "commit-tree", new_tree, "-p", _git(h, "rev-parse", "refs/notes/govops"), "-m", "x")
    _git(h, "update-ref", "refs/notes/govops", new)


@_signed
@pytest.mark.slow
def test_a_blob_at_a_path_git_does_not_read_as_a_note_is_not_read_by_audit(trail: Trail) -> None:
    target = trail.git("rev-parse", "main~1")  # a commit on main with no note: the forged rollout would name it
    [real] = [json.loads(x) for x in trail.note(trail.shas["merge"]).splitlines() if x.startswith("{")]
    forged = {**real, "commit": target, "recorded": "2026-02-02T12:00:00Z"}
    forged["evidence"]["context"]["approvals"] = [{"approver": "mallory", "group": "risk"}]
    forged["evidence"]["context"]["reviewers"] = ["mallory"]
    blob = _git(trail, "hash-object", "-w", "--stdin", inp=(canonical(forged) + "\n").encode())
    sub = _git(trail, "mktree", inp=f"100644 blob {blob}\t{target[4:]}\n".encode())
    _add_tree_entry(trail, f"040000 tree {sub}\t{target[:4]}".encode())  # F3: abcd/<rest>
    _add_tree_entry(trail, f"100644 blob {blob}\tx\ny".encode())  # F6: a newline in the name
    assert len(trail.git("notes", "--ref", "govops", "list").splitlines()) == 1
    assert any(p["check"] == "signature" for p in _verify(trail))
    audit = _run(trail, "audit", IRIS)
    assert "mallory" not in audit.stdout and "2026-02-02" not in audit.stdout, audit.stdout
    doc = json.loads(_run(trail, "audit", IRIS, "--format", "json").stdout)
    assert [e["commit"] for e in doc["events"] if e["kind"] == "rollout"] == [trail.shas["merge"]]


@_signed
@pytest.mark.slow
def test_every_note_of_an_unsigned_notes_commit_is_blamed_with_its_own_records(trail: Trail) -> None:
    """The grouping that made ``check_signatures`` linear keeps each note's own count (F10)."""
    import hashlib

    blob = _git(trail, "hash-object", "-w", "--stdin", inp=b'{"x":1}\n{"x":2}\n')
    names = sorted(hashlib.sha1(f"fake{i}".encode()).hexdigest() for i in range(300))
    old = _git(trail, "ls-tree", "refs/notes/govops")
    tree = _git(trail, "mktree", inp=(old + "\n" + "".join(f"100644 blob {blob}\t{n}\n" for n in names)).encode())
    _git(trail, "update-ref", "refs/notes/govops", _git(trail, "commit-tree", tree, "-p", "refs/notes/govops",
                                                        "-m", "x"))
    blamed = {p["commit"]: p["message"] for p in _verify(trail) if p["check"] == "signature"}
    assert set(names) <= set(blamed)
    assert all("2 record(s) on it are covered by no good signature" in blamed[n] for n in names)
