"""``govops explain``: a recorded decision re-evaluated with the recorded policies and input (issue #17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audit.test_trail_tamper import Trail, run_two_jobs
from tests.helpers.audit_helpers import IRIS, govops

pytestmark = pytest.mark.slow

OPA_FIELDS = {"decision_id", "path", "input", "result", "bundles", "timestamp", "labels"}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trail, dict[str, str]]:
    return run_two_jobs(tmp_path_factory.mktemp("explain"))


def test_explain_reevaluates_the_recorded_decision(shipped: tuple[Trail, dict[str, str]]) -> None:
    repo, shas = shipped
    res = govops("-C", str(repo.path), "explain", shas["merge"], IRIS)
    assert res.returncode == 0, res.stderr
    first = res.stdout.splitlines()[0]
    assert first.startswith(f"{IRIS}: ") and "rollout record on" in first and shas["base"][:12] in first
    assert "re-evaluated with the recorded input: same result" in res.stdout
    # the rules that fired carry message, spec line and data; the others are listed as evaluated and passed
    for line in res.stdout.splitlines():
        if line.startswith(("  deny ", "  warn ")) and " at specs/" in line:
            assert "specs/lab/iris-species.yaml:" in line
    assert "evaluated and passed (" in res.stdout and "GOV-" in res.stdout


def test_explain_json_is_the_opa_decision_log_entry(shipped: tuple[Trail, dict[str, str]]) -> None:
    repo, shas = shipped
    res = govops("-C", str(repo.path), "explain", "--format", "json", shas["head"])
    assert res.returncode == 0, res.stderr
    [line] = res.stdout.splitlines()
    entry = json.loads(line)
    assert set(entry) == OPA_FIELDS
    assert entry["path"] == "govops/main" and entry["bundles"]["govops"]["revision"]
    assert entry["labels"]["model"] == IRIS and entry["labels"]["pr"] == 12 and entry["labels"]["head"] == shas["head"]
    assert isinstance(entry["input"], dict) and set(entry["result"]) >= {"deny", "warn"}


def test_explain_refuses_an_edited_input(shipped: tuple[Trail, dict[str, str]], tmp_path: Path) -> None:
    repo, shas = shipped
    clone = tmp_path / "c"
    repo.git("clone", "-q", str(repo.path), str(clone))
    c = Trail(clone)
    c.git("fetch", "-q", "origin", "+refs/notes/*:refs/notes/*")
    c.rewrite_note(shas["merge"], '"pr_number":12', '"pr_number":99')
    res = govops("-C", str(clone), "explain", shas["merge"], IRIS)
    assert res.returncode == 1
    assert "does not match its recorded digest" in res.stderr


def test_explain_without_a_record_is_exit_2(shipped: tuple[Trail, dict[str, str]]) -> None:
    repo, shas = shipped
    res = govops("-C", str(repo.path), "explain", shas["base"])
    assert res.returncode == 2 and "no policy decision is recorded" in res.stderr
    res = govops("-C", str(repo.path), "explain", "--", "-nope")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_explain_a_denied_change_names_each_rule_its_line_and_data(shipped: tuple[Trail, dict[str, str]],
                                                                     tmp_path: Path) -> None:
    repo, _ = shipped
    clone = tmp_path / "c"
    repo.git("clone", "-q", str(repo.path), str(clone))
    c = Trail(clone)
    c.git("fetch", "-q", "origin", "+refs/notes/*:refs/notes/*")  # as the CI's report job does, with its key
    for k in ("gpg.format", "user.signingkey"):
        c.git("config", k, repo.git("config", k))
    c.git("checkout", "-q", "-b", "bad")
    sha = "02ba885d1a93adad5996f40e2f6a0fefd28235c376729ab573c6f0b6c87839f9"
    c.edit("specs/lab/iris-species.yaml", f"sha256: {sha}", f"sha256: 1{sha[1:]}")
    head = c.commit("Edit a released artifact", "2026-02-01T09:00:00+00:00")
    out = tmp_path / "out"
    res = govops("-C", str(clone), "pr-check", "--base", "main", "--head", head, "--author", "kim.ds",
                 "--no-validate", "--dry-run", "--out", str(out))
    assert res.returncode == 1, res.stderr
    assert govops("-C", str(clone), "ledger", "record-pr", str(out)).returncode == 0
    res = govops("-C", str(clone), "explain", head, IRIS)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"{IRIS}: DENIED")
    assert "deny GOV-ART-004 at specs/lab/iris-species.yaml:40:7: version 1.1.0 is released" in res.stdout
    assert (f'path spec.versions[1].artifact = {{"sha256": "1{sha[1:]}", '
            '"uri": "artifacts/models/lab/iris-species/1.1.0/model.joblib"}') in res.stdout
    assert "GOV-ART-004" not in res.stdout.split("evaluated and passed")[1]
