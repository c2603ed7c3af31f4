"""``govops audit``: a model's timeline from a real Git history with real ledger notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.audit.timeline import audit_model, serving_at
from engine.audit.trail import parse_date, parse_log, pr_number
from tests.helpers.audit_helpers import IRIS, History, build_history, govops

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("audit") / "repo")


def _events(history: History, *extra: str) -> dict:
    res = govops("-C", str(history.path), "audit", IRIS, "--format", "json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_timeline_has_every_change_in_order_with_prs_approvers_and_plan(history: History) -> None:
    doc = _events(history)
    assert doc["model"] == IRIS
    kinds = [(e["kind"], e["commit"]) for e in doc["events"]]
    s = history.shas
    assert kinds == [
        ("created", s["initial"]), ("changed", s["merge"]), ("rollout", s["merge"]), ("moved", s["move"]),
        ("shutdown", s["shutdown"]), ("revert", s["revert"]),
    ]
    assert s["other"] not in {e["commit"] for e in doc["events"]}  # another model's change is not in the timeline
    merge = doc["events"][1]
    assert merge["pr"] == 12 and merge["merge"] is True
    assert merge["author"] == "GitHub <noreply@github.com>"
    assert merge["date"] == "2026-01-10T09:00:00+00:00"
    assert merge["approvers"] == ["lee.lead"]
    assert merge["plan"]["champion"] == {"from": "1.0.0", "to": "1.1.0"}
    assert "champion_change" in merge["plan"]["kinds"]
    assert [v["check"] for v in merge["admitted_by"]["validation"]][:2] == ["performance", "data_quality"]
    assert merge["admitted_by"]["policy_decisions"][0]["decision_id"] == "dec-1"
    assert merge["missing_evidence"] == []


def test_rename_is_followed_and_reported_as_a_move(history: History) -> None:
    doc = _events(history)
    move = next(e for e in doc["events"] if e["kind"] == "moved")
    assert move["file"] == "specs/lab/iris.yaml"
    assert move["previous_file"] == "specs/lab/iris-species.yaml"
    assert move["pr"] == 13  # squash-style subject "… (#13)"
    assert doc["files"] == ["specs/lab/iris-species.yaml", "specs/lab/iris.yaml"]


def test_rollout_shutdown_and_revert_events(history: History) -> None:
    doc = _events(history)
    rollout = next(e for e in doc["events"] if e["kind"] == "rollout")
    assert rollout["outcome"] == "succeeded" and rollout["target"] == "local"
    assert rollout["changes"] == [{"action": "load", "model": IRIS, "version": "1.1.0", "role": "champion"}]
    assert rollout["approvals"] == [{"approver": "lee.lead", "group": None}]
    shutdown = next(e for e in doc["events"] if e["kind"] == "shutdown")
    assert shutdown["automatic"] is True and shutdown["author"].startswith("govops-bot")
    assert shutdown["plan"]["champion"] == {"from": "1.1.0", "to": "1.0.0"}
    revert = doc["events"][-1]
    assert revert["reverts"] == history.shas["shutdown"]
    assert revert["plan"]["champion"] == {"from": "1.0.0", "to": "1.1.0"}


def test_since_and_until_filter_events(history: History) -> None:
    doc = _events(history, "--since", "2026-02-01", "--until", "2026-03-01T12:00:00Z")
    assert [e["kind"] for e in doc["events"]] == ["moved", "shutdown"]


def test_at_answers_version_approver_and_evidence(history: History) -> None:
    res = govops("-C", str(history.path), "audit", IRIS, "--at", "2026-01-15", "--format", "json")
    assert res.returncode == 0, res.stderr
    answer = json.loads(res.stdout)
    assert answer["serving"]["champion"] == "1.1.0"
    assert answer["serving"]["challengers"] == []
    assert answer["serving"]["versions"][0]["sha256"].startswith("02ba885d")
    assert answer["change"]["commit"] == history.shas["merge"] and answer["change"]["pr"] == 12
    assert answer["approved_by"] == ["lee.lead"]
    assert answer["rollout"]["outcome"] == "succeeded"
    assert {r["check"] for r in answer["evidence"]["validation"]} >= {"performance", "drift"}
    assert answer["missing_evidence"] == []
    text = govops("-C", str(history.path), "audit", IRIS, "--at", "2026-01-15").stdout
    assert "champion 1.1.0" in text and "approved by: lee.lead" in text and "policy decision dec-1" in text


def test_at_before_any_rollout_falls_back_to_history_and_says_evidence_is_missing(history: History) -> None:
    answer = serving_at(history.path, audit_model(history.path, IRIS), parse_date("2026-01-05", "--at"))
    assert answer["serving"]["champion"] == "1.0.0"
    assert answer["serving"]["challengers"] == [{"version": "1.1.0", "mode": "canary", "weight": 20.0}]
    assert answer["change"]["commit"] == history.shas["initial"]
    assert "no rollout record" in " ".join(answer["missing_evidence"])
    before = serving_at(history.path, audit_model(history.path, IRIS), parse_date("2025-12-01", "--at"))
    assert before["serving"] is None


def test_markdown_and_text_formats(history: History) -> None:
    md = govops("-C", str(history.path), "audit", IRIS, "--format", "md").stdout
    assert md.startswith("## Audit trail of `lab/iris-species`")
    assert "| 2026-01-10T09:00:00 | changed | `" + history.shas["merge"][:12] + "` | #12 |" in md
    text = govops("-C", str(history.path), "audit", IRIS).stdout
    assert "approved by: lee.lead" in text and "reverts " + history.shas["shutdown"][:12] in text


def test_model_that_never_existed_is_exit_2(history: History) -> None:
    res = govops("-C", str(history.path), "audit", "lab/iris-specie")
    assert res.returncode == 2
    assert "model 'lab/iris-specie' does not exist" in res.stderr
    assert "did you mean iris-species?" in res.stderr
    assert "Traceback" not in res.stderr
    bad = govops("-C", str(history.path), "audit", "--not-a-model")
    assert bad.returncode == 2
    bad_id = govops("-C", str(history.path), "audit", "Lab/Iris")
    assert bad_id.returncode == 2 and "is not a model id" in bad_id.stderr


def test_bad_date_is_exit_2(history: History) -> None:
    res = govops("-C", str(history.path), "audit", IRIS, "--since", "last tuesday")
    assert res.returncode == 2 and "--since 'last tuesday' is not a date" in res.stderr


def test_removed_model_is_still_audited(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    h.git("rm", "-q", "specs/beverages/wine-cultivar.yaml")
    gone = h.commit("Retire the wine model (#20)", "2026-04-01T09:00:00+00:00")
    doc = json.loads(govops("-C", str(h.path), "audit", "beverages/wine-cultivar", "--format", "json").stdout)
    assert [e["kind"] for e in doc["events"]] == ["created", "removed"]
    assert doc["events"][-1]["commit"] == gone and doc["events"][-1]["pr"] == 20
    assert doc["events"][-1]["plan"]["change"] == "removed"


def test_missing_notes_are_missing_evidence_not_a_crash(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    h.git("update-ref", "-d", "refs/notes/govops")
    res = govops("-C", str(h.path), "audit", IRIS, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert "rollout" not in [e["kind"] for e in doc["events"]]
    merge = next(e for e in doc["events"] if e["commit"] == h.shas["merge"])
    assert merge["missing_evidence"] == ["no rollout record (ledger note)"]
    assert merge["approvers"] == ["lee.lead"]  # still known from the merge commit's trailer
    answer = json.loads(govops("-C", str(h.path), "audit", IRIS, "--at", "2026-01-15", "--format", "json").stdout)
    assert answer["serving"]["champion"] == "1.1.0"
    assert answer["basis"].startswith("git history only")


def test_note_that_is_not_json_is_a_warning(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    h.git("notes", "--ref", "govops", "append", "-m", "{not json, \"model\": \"lab/iris-species\"", h.shas["merge"])
    res = govops("-C", str(h.path), "audit", IRIS, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert any("is not valid JSON" in w and h.shas["merge"][:12] in w for w in doc["warnings"])
    assert "warning: ledger note on " + h.shas["merge"][:12] in res.stderr
    assert next(e for e in doc["events"] if e["kind"] == "rollout")["outcome"] == "succeeded"  # valid lines kept


def test_shallow_clone_says_how_much_history_is_needed(tmp_path: Path, history: History) -> None:
    clone = tmp_path / "shallow"
    h = History(tmp_path)
    h.git("clone", "-q", "--depth", "2", f"file://{history.path}", str(clone))
    res = govops("-C", str(clone), "audit", IRIS)
    assert res.returncode == 2
    assert "shallow clone" in res.stderr and "history here starts at 2026-03-01" in res.stderr
    assert "back to the commit that created the spec" in res.stderr
    assert "git fetch --deepen" in res.stderr or "--unshallow" in res.stderr


def test_log_parser_and_pr_numbers() -> None:
    assert pr_number("Merge pull request #12 from kim/promote") == 12
    assert pr_number("Promote iris (#345)") == 345
    assert pr_number("Promote iris #345 later") is None
    out = (b"\x1e" + b"\0".join([b"a" * 40, b"p" * 40, b"Kim", b"k@x", b"2026-01-01T00:00:00+00:00", b"Kim", b"k@x",
                                 b"2026-01-01T00:00:00+00:00", b"N", b"subj (#3)",
                                 b"This reverts commit " + b"b" * 40 + b".\n", b"{\"kind\": \"govops.rollout/v1\"}\n",
                                 b"\n:100644 100644 " + b"1" * 40 + b" " + b"2" * 40 + b" R090", b"old.yaml",
                                 b"new.yaml", b""]))
    [c] = parse_log(out)
    assert c.pr_number == 3 and c.reverts == "b" * 40
    assert c.note is not None and c.note.records == [{"kind": "govops.rollout/v1"}]
    assert c.changes[0].status == "R" and c.changes[0].old_path == "old.yaml" and c.changes[0].path == "new.yaml"


def test_shutdown_merged_from_the_bot_branch_is_a_shutdown(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    h.git("checkout", "-q", "-b", "govops/shutdown/lab-iris-species-20260401T0300")
    h.edit("specs/lab/iris.yaml", "champion: 1.1.0", "champion: 1.0.0")
    h.git("add", "-A")
    h.git("commit", "-q", "-m", "govops: automatic shutdown of lab/iris-species (health 0.210 < 0.4)\n\n"
          "Govops-Action: shutdown\nGovops-Model: lab/iris-species\n", who=("govops-bot", "govops-bot@example.com"),
          date="2026-04-01T03:00:00+00:00")
    h.git("checkout", "-q", "main")
    h.git("merge", "-q", "--no-ff", "govops/shutdown/lab-iris-species-20260401T0300", "-m",
          "Merge pull request #31 from acme/govops/shutdown/lab-iris-species-20260401T0300",
          who=("Kim DS", "kim@example.com"), date="2026-04-01T08:00:00+00:00")
    merged = h.git("rev-parse", "HEAD")
    doc = json.loads(govops("-C", str(h.path), "audit", IRIS, "--format", "json").stdout)
    last = doc["events"][-1]
    assert last["commit"] == merged and last["kind"] == "shutdown" and last["automatic"] is True
    assert last["pr"] == 31 and last["author"] == "Kim DS <kim@example.com>"
    assert last["plan"]["champion"] == {"from": "1.1.0", "to": "1.0.0"}
