"""``govops verify``: the trail's integrity on real repositories with real ledger notes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers.audit_helpers import History, build_history, govops, rollout_note

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget


def _verify(h: History, *extra: str) -> tuple[int, dict]:
    res = govops("-C", str(h.path), "verify", "--format", "json", *extra)
    assert "Traceback" not in res.stderr
    return res.returncode, (json.loads(res.stdout) if res.stdout.strip() else {"stderr": res.stderr})


def test_intact_trail_passes(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    code, doc = _verify(h)
    assert code == 0, doc
    assert doc["ok"] is True and doc["problems"] == []
    assert {"noted_commits": 1, "rollout_records": 1, "artifacts": 1, "digests_compared": 1}.items() \
        <= doc["checked"].items()
    text = govops("-C", str(h.path), "verify").stdout
    assert text.startswith("verify main (") and ": ok (" in text


def test_rewritten_history_fails_naming_the_commit(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    # rewrite main from the merge on: the noted merge commit is no longer on the branch
    h.git("reset", "-q", "--hard", h.shas["initial"])
    h.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    h.edit("specs/lab/iris-species.yaml", "    challengers:\n      - {version: 1.1.0, mode: canary, weight: 20}\n",
           "")
    h.commit("Promote iris 1.1.0 (rewritten)", "2026-01-10T09:00:00+00:00")
    h.git("branch", "-D", "kim/promote")
    code, doc = _verify(h)
    assert code == 1
    assert doc["offending_commits"] == [h.shas["merge"]]
    assert "history was rewritten (it exists but is not on the branch)" in doc["problems"][0]["message"]
    text = govops("-C", str(h.path), "verify")
    assert text.returncode == 1 and f"offending commit(s) {h.shas['merge'][:12]}" in text.stdout


def test_digest_that_does_not_match_the_specs_fails(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    rollout_note(h.path, h.shas["move"], "2026-02-01T10:00:00Z", digest_override="0" * 64)
    code, doc = _verify(h)
    assert code == 1
    [problem] = doc["problems"]
    assert problem["check"] == "digest" and problem["commit"] == h.shas["move"]
    assert "says desired state 000000000000" in problem["message"]


def test_deployed_artifact_not_the_one_validated_fails(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    rollout_note(h.path, h.shas["move"], "2026-02-01T10:00:00Z", sha_override="f" * 64)
    code, doc = _verify(h)
    assert code == 1
    [problem] = doc["problems"]
    assert problem["check"] == "artifact" and problem["commit"] == h.shas["move"]
    assert "lab/iris-species 1.1.0" in problem["message"] and "validation read ffffffffffff" in problem["message"]


def test_note_that_is_not_json_fails(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    h.git("notes", "--ref", "govops", "append", "-m", "garbage{", h.shas["other"])
    code, doc = _verify(h)
    assert code == 1
    assert doc["problems"][0]["check"] == "ledger" and doc["problems"][0]["commit"] == h.shas["other"]
    assert "not valid JSON" in doc["problems"][0]["message"]


def test_missing_evidence_is_a_warning_unless_strict(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    from engine.audit.ledger import append_record, build_record
    from engine.rollout.desired import load_desired

    state = load_desired(h.path, h.shas["move"])
    append_record(h.path, h.shas["move"], build_record(
        target="local", ref="main", commit=h.shas["move"], digest=state.digest, previous_digest=None,
        result={"outcome": "succeeded", "changes": [{"action": "load", "model": "lab/iris-species",
                                                     "version": "1.1.0"}]}, evidence=None))
    code, doc = _verify(h)
    assert code == 0
    assert doc["problems"][0]["severity"] == "warning" and "missing evidence" in doc["problems"][0]["message"]
    code, doc = _verify(h, "--strict")
    assert code == 1 and h.shas["move"] in doc["offending_commits"]
    # strict also wants a rollout record for every later spec change on main (here: none were rolled out)
    missing = {p["commit"] for p in doc["problems"] if p["check"] == "missing-record"}
    assert missing == {h.shas["other"], h.shas["shutdown"], h.shas["revert"]}


def test_shallow_clone_cannot_be_verified(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    clone = tmp_path / "clone"
    h.git("clone", "-q", "--depth", "1", f"file://{h.path}", str(clone))
    res = govops("-C", str(clone), "verify")
    assert res.returncode == 2
    assert "shallow clone" in res.stderr and "needs the whole history of main" in res.stderr


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed (needed to sign commits)")
def test_signed_commits_required(tmp_path: Path) -> None:
    h = build_history(tmp_path / "repo")
    key = tmp_path / "key"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"kim@example.com namespaces=\"git\" {(tmp_path / 'key.pub').read_text().strip()}\n")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("gpg.ssh.allowedSignersFile", str(allowed))):
        h.git("config", k, v)
    h.edit("govops.yaml", "secrets:\n", "signedCommits: true\nsecrets:\n")
    h.git("add", "-A")
    h.git("commit", "-q", "-S", "-m", "Require signed commits", date="2026-04-01T09:00:00+00:00")
    signed = h.git("rev-parse", "HEAD")
    code, doc = _verify(h)
    assert code == 0, doc
    assert doc["checked"]["signed_commits"] == 1
    h.edit("specs/lab/iris.yaml", "tags: [herbarium]", "tags: [herbarium, flowers]")
    unsigned = h.commit("Tag iris (unsigned)", "2026-04-02T09:00:00+00:00")
    code, doc = _verify(h)
    assert code == 1
    assert doc["offending_commits"] == [unsigned]
    assert "is not signed" in doc["problems"][0]["message"] and signed not in doc["offending_commits"]
