"""A change is judged by the base branch's rules, never by its own (issue #15, holes 3 and 6).

Each attack is made the way a PR author with push access and no approvals would: a branch
that switches clinical/readmission-triage 2.0.0 from shadow to a 10% canary (denied: it
needs two approvals incl. the risk group) *plus* an edit to the rules that would let it
pass if the head's rules judged it. Real Git repositories, real Rego.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.policy.check import run_check
from engine.spec.settings import Settings
from tests.helpers.pr_helpers import GitRepo, example_repo

TRIAGE = "specs/clinical/readmission-triage.yaml"
NOW = "2026-11-20T12:00:00+00:00"
WAIVER = """waivers:
  - rule: {rule}
    model: clinical/readmission-triage
    reason: the author says it is fine
    approver: rita.risk
    expires: "2027-06-01T00:00:00+00:00"
"""


def _canary(repo: GitRepo) -> None:
    repo.replace(TRIAGE, "- {version: 2.0.0, mode: shadow}", "- {version: 2.0.0, mode: canary, weight: 10}")


@pytest.fixture()
def repo(tmp_path: Path) -> GitRepo:
    r = example_repo(tmp_path / "gitops", policies=True)
    r.git("checkout", "-q", "-b", "feature")
    return r


def _check(repo: GitRepo, *extra: str) -> tuple[int, dict]:
    out = repo.path / "check.json"
    rc = main(["-C", str(repo.path), "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds",
               "--format", "json", "--out", str(out), *extra])
    return rc, json.loads(out.read_text())


def _denied(report: dict) -> set[str]:
    return {v["rule"] for v in report["violations"] if v["severity"] == "error"}


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVOPS_NOW", NOW)


def test_the_canary_alone_is_denied(repo: GitRepo) -> None:
    _canary(repo)
    repo.commit("canary")
    rc, report = _check(repo)
    assert rc == 1
    assert {"GOV-APP-001", "GOV-APP-002"} <= _denied(report)


def test_emptying_deny_in_the_head_policy_does_not_let_the_change_through(repo: GitRepo) -> None:
    _canary(repo)
    repo.replace("policies/main.rego", '"deny": [d | some d in raw_deny; not d in waived],', '"deny": [],')
    repo.commit("canary, and a policy that denies nothing")
    rc, report = _check(repo)
    assert rc == 1
    assert {"GOV-APP-001", "GOV-APP-002"} <= _denied(report)
    # the edit to the rules is itself judged by the base's rules: it needs the risk group
    assert "GOV-META-001" in _denied(report) or any("policies/" in v["message"] for v in report["violations"])


@pytest.mark.slow
def test_deleting_the_head_policies_does_not_let_the_change_through(repo: GitRepo) -> None:
    _canary(repo)
    repo.git("rm", "-q", "-r", "policies")
    repo.commit("canary, and no policies at all")
    rc, report = _check(repo)
    assert rc == 1
    assert {"GOV-APP-001", "GOV-APP-002"} <= _denied(report)


def test_adding_the_authors_friend_to_the_risk_group_in_the_head_config_does_not_count(repo: GitRepo) -> None:
    _canary(repo)
    repo.replace("govops.yaml", "risk: [rita.risk, omar.compliance]",
                 "risk: [rita.risk, omar.compliance, dana.ds, pal.friend]")
    repo.replace("govops.yaml", "approvals: {count: 2, groups: [risk]}", "approvals: {count: 0}")
    repo.commit("canary, and my friend in the risk group")
    rc, report = _check(repo, "--approved-by", "pal.friend", "--approved-by", "fay.lead")
    assert rc == 1
    assert "GOV-APP-002" in _denied(report)  # no risk-group approval: pal.friend is not in main's risk group


def test_a_waiver_typed_by_the_author_in_the_name_of_the_risk_group_does_not_count(repo: GitRepo) -> None:
    _canary(repo)
    repo.write("policies/waivers.yaml",
               WAIVER.format(rule="GOV-APP-001") + WAIVER.format(rule="GOV-APP-002").replace("waivers:\n", ""))
    repo.commit("canary, with waivers approved by rita.risk (says I)")
    rc, report = _check(repo)
    assert rc == 1
    assert {"GOV-APP-001", "GOV-APP-002"} <= _denied(report)
    pending = [v for v in report["violations"] if v["rule"] == "govops/waiver-not-approved"]
    assert len(pending) == 2
    assert pending[0]["file"] == "policies/waivers.yaml" and pending[0]["line"] in (2, 8)
    assert "names rita.risk as approver, who has not approved this change" in pending[0]["message"]


@pytest.mark.slow
def test_a_waiver_added_by_the_change_counts_once_its_approver_really_approved(repo: GitRepo) -> None:
    _canary(repo)
    repo.write("policies/waivers.yaml", WAIVER.format(rule="GOV-APP-001"))
    repo.commit("canary, with a waiver rita.risk agreed to")
    rc, report = _check(repo, "--approved-by", "rita.risk")  # one approval of the two the tier needs
    assert "GOV-APP-001" not in _denied(report)
    warned = [v for v in report["violations"] if v["rule"] == "GOV-APP-001"]
    assert warned and warned[0]["severity"] == "warning" and "waived until" in warned[0]["message"]
    assert not [v for v in report["violations"] if v["rule"] == "govops/waiver-not-approved"]


@pytest.mark.slow
def test_the_author_cannot_approve_their_own_waiver(repo: GitRepo) -> None:
    _canary(repo)
    repo.write("policies/waivers.yaml", WAIVER.format(rule="GOV-APP-001").replace("rita.risk", "dana.ds"))
    repo.commit("canary, waived by myself")
    rc, report = _check(repo, "--approved-by", "dana.ds")
    assert rc == 1
    assert "GOV-APP-001" in _denied(report)


def test_decision_records_name_the_base_commit_that_judged_them(repo: GitRepo) -> None:
    main_sha = repo.git("rev-parse", "main")
    _canary(repo)
    repo.replace("policies/main.rego", '"deny": [d | some d in raw_deny; not d in waived],', '"deny": [],')
    repo.commit("canary")
    outcome = run_check(repo.path, base="main", head="HEAD", context={"author": "dana.ds"},
                        settings=Settings(now=NOW))
    judged = {json.dumps(d["judged_by"], sort_keys=True) for d in outcome.decisions}
    assert len(judged) == 1
    by = json.loads(judged.pop())
    assert by["source"] == "base" and by["commit"] == main_sha
    assert by["policy_revision"] == main_sha  # the last commit that touched policies/ at the base
    assert all(d["result"]["deny"] for d in outcome.decisions if d["model"] == "clinical/readmission-triage")


def test_a_working_tree_check_is_judged_by_the_tree(repo: GitRepo) -> None:
    # the policy author's loop: no base, the edited library decides
    _canary(repo)
    repo.replace("policies/main.rego", '"deny": [d | some d in raw_deny; not d in waived],', '"deny": [],')
    outcome = run_check(repo.path, models=["clinical/readmission-triage"], settings=Settings(now=NOW))
    assert outcome.findings.ok
    assert outcome.decisions[0]["judged_by"]["source"] == "worktree"


def test_swapping_the_artifact_of_a_released_version_is_denied(repo: GitRepo) -> None:
    text = repo.read(TRIAGE)
    old = text.split("1.1.0/model.joblib\n", 1)[1].split("sha256: ", 1)[1].split("\n", 1)[0]
    repo.replace(TRIAGE, old, "ab" * 32)
    repo.commit("point 1.1.0 at other bytes")
    rc, report = _check(repo, "--approved-by", "rita.risk", "--approved-by", "omar.compliance",
                        "--approved-by", "fay.lead")
    assert rc == 1
    hits = [v for v in report["violations"] if v["rule"] == "GOV-ART-004"]
    assert len(hits) == 1
    assert hits[0]["file"] == TRIAGE
    assert "version 1.1.0 is released on main and immutable: its artifact (uri, sha256, format) changed" in (
        hits[0]["message"])
    assert repo.read(TRIAGE).splitlines()[hits[0]["line"] - 1].strip() == "artifact:"


def _uri_of(repo: GitRepo, version: str) -> str:
    return next(ln.split("uri: ", 1)[1] for ln in repo.read(TRIAGE).splitlines()
                if f"/{version}/model.joblib" in ln and "uri: " in ln)


# Edits the plan once read as "unchanged" (so no rule guarded by a change saw them): each must now
# be a change that needs the tier's approvals, and a released version's fields stay immutable.
BLIND_EDITS = {
    "champion uri pointed at another model, same digest": lambda r: r.replace(TRIAGE, _uri_of(r, "1.1.0"),
                                                                              _uri_of(r, "2.0.0")),
    "replicas to zero": lambda r: r.replace(TRIAGE, "replicas: 2", "replicas: 0"),
    "moved to another environment": lambda r: r.replace(TRIAGE, "environment: production", "environment: staging"),
    "released lineage rewritten": lambda r: r.replace(TRIAGE, "commit: ", "commit: 0", 2),
    "judged on its training data": lambda r: r.replace(TRIAGE, "evaluationData: {uri: artifacts/data/",
                                                       "evaluationData: {uri: artifacts/data/x", 1),
    "task switched": lambda r: r.replace(TRIAGE, "task: classification", "task: regression"),
    "fairness slices dropped": lambda r: r.replace(TRIAGE, "sliceColumns: [sex]", "sliceColumns: []"),
}


@pytest.mark.parametrize("edit", sorted(BLIND_EDITS))
@pytest.mark.slow
def test_no_edit_of_a_high_tier_model_reads_as_unchanged(repo: GitRepo, edit: str) -> None:
    BLIND_EDITS[edit](repo)
    repo.commit(edit)
    rc, report = _check(repo)
    assert rc in (1, 2), report  # 2 where the edited spec no longer lints (a file that is not there)
    if rc == 1:
        assert {"GOV-APP-001", "GOV-APP-002"} <= _denied(report)
    plan = json.loads(subprocess.run(
        [sys.executable, "-m", "engine.cli", "-C", str(repo.path), "plan", "--base", "main", "--head", "HEAD",
         "--format", "json"], capture_output=True, text=True).stdout)
    triage = [m for m in plan["models"] if m["model"] == "clinical/readmission-triage"]
    assert triage and triage[0]["change"] == "modified" and triage[0]["kinds"], plan["models"]


def test_an_invalid_config_at_the_base_fails_closed(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "main")
    repo.write("govops.yaml", "apiVersion: govops/v1\nkind: Governance\ntiers: 3\n")
    repo.commit("break main's config")
    repo.git("checkout", "-q", "feature")
    _canary(repo)
    repo.commit("canary")
    rc = main(["-C", str(repo.path), "check", "--base", "main", "--head", "HEAD"])
    assert rc == 2


@pytest.mark.slow
def test_editing_the_ci_workflow_needs_the_risk_group(repo: GitRepo) -> None:
    repo.write(".github/workflows/govops-pr.yml", "on: pull_request\njobs: {}\n")
    repo.write("CODEOWNERS", "* @dana.ds\n")
    repo.commit("no more gate, and I own everything")
    rc, report = _check(repo, "--approved-by", "fay.lead")
    assert rc == 1
    meta = [v for v in report["violations"] if v["rule"] == "GOV-META-001"]
    assert meta and meta[0]["file"] == ".github/workflows/govops-pr.yml"
    assert "['.github/workflows/govops-pr.yml', 'CODEOWNERS']" in meta[0]["message"] or (
        ".github/workflows/govops-pr.yml" in meta[0]["message"] and "CODEOWNERS" in meta[0]["message"])


@pytest.mark.slow
def test_text_output_never_passes_control_characters_from_the_change(repo: GitRepo) -> None:
    repo.write("specs/clinical/evil\x1b[2Jname.yaml", "apiVersion: govops/v1\nkind: Model\n")
    repo.commit("a file name that clears the reviewer's terminal")
    res = subprocess.run([sys.executable, "-m", "engine.cli", "-C", str(repo.path), "check", "--base", "main",
                          "--head", "HEAD", "--author", "dana.ds"], capture_output=True, text=True)
    assert res.returncode == 2
    assert "\x1b" not in res.stdout + res.stderr
    assert "specs/clinical/evil\\x1b[2Jname.yaml:" in res.stdout


def _lower_to_low(repo: GitRepo) -> None:
    repo.replace(TRIAGE, "  tier: high", "  tier: low")


def test_lowering_the_tier_in_the_same_change_keeps_the_left_tiers_approvals(repo: GitRepo) -> None:
    """High -> low plus a canary, approved by one tenant lead: low's one approval is there, high's are not."""
    _canary(repo)
    _lower_to_low(repo)
    repo.commit("canary, and the tier lowered so that one approval suffices")
    rc, report = _check(repo, "--approved-by", "fay.lead")
    assert rc == 1
    denied = _denied(report)
    assert "GOV-APP-001" not in denied  # the new tier (low) asks for one approval, and has it
    assert {"GOV-APP-003", "GOV-APP-004"} <= denied
    messages = {v["rule"]: v["message"] for v in report["violations"]}
    assert "moves the model from tier high to tier low" in messages["GOV-APP-003"]
    assert "2 approval(s)" in messages["GOV-APP-003"]
    assert "risk group" in messages["GOV-APP-004"]


def test_lowering_the_tier_with_the_left_tiers_approvals_is_not_held_back(repo: GitRepo) -> None:
    _canary(repo)
    _lower_to_low(repo)
    repo.commit("canary, tier lowered, approved as high demands")
    rc, report = _check(repo, "--approved-by", "fay.lead", "--approved-by", "rita.risk")
    denied = _denied(report)
    assert not {"GOV-APP-001", "GOV-APP-002", "GOV-APP-003", "GOV-APP-004"} & denied, report["violations"]
