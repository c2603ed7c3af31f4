"""A trail an auditor can trust (issue #17): every rewrite of the ledger makes ``govops verify`` exit 1.

Real git, real SSH signatures (``ssh-keygen -t ed25519``), real ``git verify`` through
``gpg.ssh.allowedSignersFile``. The trail: ``govops.yaml`` declares the ledger and the CI
key; a PR's evidence is a signed note on its head (``refs/notes/govops-evidence``); the
merge is rolled out with the evidence found through the merge and recorded, signed and
chained, in ``refs/notes/govops``. Each test changes one thing the way an attacker with
push access would and checks that ``verify`` names it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.audit_helpers import IRIS, PROJECT, History, govops

pytestmark = [pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes"),
              pytest.mark.slow]  # real Git histories signed with real keys: over the fast set's budget


def _key(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return (path.parent / f"{path.name}.pub").read_text().strip()


class Trail(History):
    """A repository with a declared, signed ledger."""

    ci_key: Path
    other_key: Path

    def sign_with(self, key: Path | None) -> None:
        if key is None:
            self.git("config", "--unset", "user.signingkey", check=False)
        else:
            self.git("config", "user.signingkey", str(key))

    def note(self, sha: str, ref: str = "govops") -> str:
        return self.git("notes", "--ref", ref, "show", sha)

    def rewrite_note(self, sha: str, old: str, new: str, ref: str = "govops") -> None:
        """Edit a note the way anyone with push access can (``git notes add -f``): an unsigned notes commit."""
        text = self.note(sha, ref)
        assert old in text, f"{old!r} not in the note"
        self.git("notes", "--ref", ref, "add", "-f", "-m", text.replace(old, new), sha)

    def resign_tip(self, ref: str = "govops") -> None:
        """Sign the current notes tree with the CI key as if the CI had written it (a stolen key, or a bug)."""
        full = f"refs/notes/{ref}"
        tree = self.git("rev-parse", f"{full}^{{tree}}")
        newest = max((json.loads(line) for sha in self.noted(ref) for line in self.note(sha, ref).splitlines()
                      if line.startswith("{")), key=lambda r: r.get("seq", 0))
        from engine.audit.ledger import canonical, line_digest

        msg = f"resigned\n\nGovops-Commit: {newest['commit']}\nGovops-Record: {line_digest(canonical(newest))}\n"
        self.sign_with(self.ci_key)
        new = self.git("commit-tree", "-S", tree, "-p", self.git("rev-parse", full), "-m", msg)
        self.git("update-ref", full, new)

    def noted(self, ref: str = "govops") -> list[str]:
        return [line.split()[1] for line in self.git("notes", "--ref", ref, "list").splitlines()]


def _evidence(h: Trail, head: str, base: str, *, pr: int, status: str = "pass") -> dict[str, Any]:
    """Record a PR check's evidence on ``head`` as the reporting job does (signed, chained)."""
    from engine.audit.ledger import EVIDENCE_REF, append_record
    from engine.audit.pr_evidence import KIND, spec_blobs
    from engine.change.gitread import open_repo
    from engine.rollout.desired import load_desired

    state = load_desired(h.path, head)
    wanted = next(v for v in state.models[IRIS].versions if v.role == "champion")
    with open_repo(h.path) as repo:
        specs = spec_blobs(repo, base, head)
    record = {
        "kind": KIND, "commit": head, "head": head, "base": base, "pr": pr, "ok": status == "pass", "specs": specs,
        "evidence": {
            "validation": [{"check": c, "model": IRIS, "version": wanted.version, "status": status,
                            "summary": f"{c}: {status}", "metrics": [],
                            "inputs": [{"role": "candidate_model", "uri": wanted.artifact_uri,
                                        "sha256": wanted.sha256},
                                       {"role": "reference_data", "uri": "artifacts/data/iris.csv",
                                        "sha256": "d" * 64}]}
                           for c in ("performance", "drift")],
            "policy_decisions": [{"decision_id": f"dec-{pr}", "path": "govops/main", "model": IRIS,
                                  "input": {"model": IRIS}, "result": {"deny": [], "warn": []},
                                  "bundles": {"govops": {"revision": base}}, "timestamp": "2026-01-09T10:00:00Z",
                                  "labels": {"pr": pr}, "revision": base}],
            "context": {"author": "kim.ds", "approvals": [{"approver": "lee.lead", "group": "risk"}],
                        "reviewers": ["lee.lead"], "pr_number": pr},
            "links": {"ci_run": f"https://github.example/acme/models/actions/runs/{pr}00",
                      "argo": [f"https://argo.example/workflows/govops/pr-{pr}"]},
        },
    }
    return append_record(h.path, head, record, ref=EVIDENCE_REF, allowed_signers=h.allowed)


def _rollout(h: Trail, commit: str, recorded: str, *, allow_missing: bool = False) -> dict[str, Any]:
    """Record the rollout of ``commit`` with the evidence found through the merge (as ``govops rollout`` does)."""
    from engine.audit.ledger import append_record, build_record
    from engine.audit.pr_evidence import find_evidence, spec_trees
    from engine.commands.rollout import covered_commits
    from engine.rollout.desired import load_desired

    state = load_desired(h.path, commit)
    found = find_evidence(h.path, commit)
    assert found is not None or allow_missing, "no PR evidence found through the merge"
    record = build_record(target="local", ref="main", commit=commit, digest=state.digest, previous_digest=None,
                          result={"outcome": "succeeded", "changes": [{"action": "load", "model": IRIS,
                                                                       "version": "1.1.0", "role": "champion"}]},
                          evidence=found.for_rollout() if found else None)
    record["recorded"] = recorded
    record["covers"] = covered_commits(h.path, commit)
    record["specs_tree"] = spec_trees(h.path, commit)
    if found is None:
        record["evidence_missing"] = {"allowed_by": "ci", "flag": "--allow-missing-evidence", "reason": "test"}
    return append_record(h.path, commit, record, allowed_signers=h.allowed)


def build_trail(tmp_path: Path, *, declare: bool = True) -> Trail:
    """initial (ledger declared) → PR #12 (iris 1.1.0 champion) merged --no-ff and rolled out, evidence signed."""
    path = tmp_path / "repo"
    path.mkdir(parents=True)
    shutil.copy(PROJECT / "govops.yaml", path / "govops.yaml")
    shutil.copytree(PROJECT / "specs", path / "specs")
    shutil.copytree(PROJECT / "artifacts", path / "artifacts")
    h = Trail(path)
    h.ci_key, h.other_key = tmp_path / "ci_key", tmp_path / "other_key"
    ci_pub = _key(h.ci_key)
    _key(h.other_key)
    h.allowed = [f"govops-ci {ci_pub}"] if declare else None  # type: ignore[attr-defined]
    if declare:
        with (path / "govops.yaml").open("a") as fh:
            fh.write(f"ledger:\n  allowedSigners:\n    - \"govops-ci {ci_pub}\"\n")
    h.git("init", "-q", "-b", "main")
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(h.ci_key)), ("commit.gpgsign", "false")):
        h.git("config", k, v)
    h.shas["initial"] = h.commit("Initial GitOps content", "2026-01-01T09:00:00+00:00")
    h.git("checkout", "-q", "-b", "kim/promote")
    h.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    h.edit("specs/lab/iris-species.yaml", "    challengers:\n      - {version: 1.1.0, mode: canary, weight: 20}\n", "")
    h.shas["head"] = h.commit("Promote iris 1.1.0", "2026-01-09T09:00:00+00:00")
    _evidence(h, h.shas["head"], h.shas["initial"], pr=12)
    h.git("checkout", "-q", "main")
    h.git("merge", "-q", "--no-ff", "kim/promote", "-m", "Merge pull request #12 from kim/promote",
          who=("GitHub", "noreply@github.com"), date="2026-01-10T09:00:00+00:00")
    h.shas["merge"] = h.git("rev-parse", "HEAD")
    _rollout(h, h.shas["merge"], "2026-01-10T12:00:00Z")
    return h


def _verify(h: Trail, *extra: str) -> tuple[int, dict[str, Any]]:
    res = govops("-C", str(h.path), "verify", "--format", "json", *extra)
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, (json.loads(res.stdout) if res.stdout.strip() else {"stderr": res.stderr})


def _problems(doc: dict[str, Any], check: str | None = None) -> list[dict[str, Any]]:
    return [p for p in doc.get("problems", []) if p["severity"] == "error" and (check is None or p["check"] == check)]


@pytest.fixture
def trail(tmp_path: Path) -> Trail:
    return build_trail(tmp_path)


def test_untouched_trail_verifies_and_carries_the_pr_evidence(trail: Trail) -> None:
    code, doc = _verify(trail)
    assert code == 0, doc
    assert doc["checked"]["ledger_signatures"] == 2 and doc["checked"]["evidence_records"] == 1
    assert doc["checked"]["spec_trees_compared"] == 1
    assert _verify(trail, "--deep", "--all-signatures")[0] == 0
    assert doc["checked"]["spec_commits_covered"] == 1
    [record] = [json.loads(x) for x in trail.note(trail.shas["merge"]).splitlines()]
    assert record["seq"] == 1 and record["prev"] is None and record["commit"] == trail.shas["merge"]
    source = record["evidence"]["source"]
    assert source["head"] == trail.shas["head"] and source["mapped_by"] == "merge commit's second parent"
    assert record["evidence"]["context"]["approvals"] == [{"approver": "lee.lead", "group": "risk"}]
    # the notes commits are signed by the CI key, checked by git's own ssh-keygen path
    text = govops("-C", str(trail.path), "verify")
    assert text.returncode == 0 and ": ok (" in text.stdout


def test_removed_note_is_found(trail: Trail) -> None:
    trail.git("notes", "--ref", "govops", "remove", trail.shas["merge"])
    code, doc = _verify(trail)
    assert code == 1
    [missing] = _problems(doc, "missing-record")
    assert missing["commit"] == trail.shas["merge"] and "has no rollout record" in missing["message"]
    assert any("is not signed" in p["message"] for p in _problems(doc, "signature"))


@pytest.mark.parametrize("strict", [False, True])
def test_deleted_notes_ref_is_found(trail: Trail, strict: bool) -> None:
    trail.git("update-ref", "-d", "refs/notes/govops")
    code, doc = _verify(trail, *(["--strict"] if strict else []))
    assert code == 1
    [missing] = _problems(doc, "missing-record")
    assert missing["commit"] == trail.shas["merge"] and "notes ref was deleted" in missing["message"]


def test_deleted_notes_ref_without_a_declared_ledger_fails_strict(tmp_path: Path) -> None:
    h = build_trail(tmp_path, declare=False)
    assert _verify(h)[0] == 0
    h.git("update-ref", "-d", "refs/notes/govops")
    code, doc = _verify(h, "--strict")
    assert code == 1
    assert "there is no rollout record at all" in _problems(doc, "missing-record")[0]["message"]


@pytest.mark.parametrize(("old", "new", "what"), [
    ('"approver":"lee.lead"', '"approver":"mallory"', "context"),
    ('"status":"pass"', '"status":"fail"', "validation"),
])
def test_edited_rollout_note_is_found(trail: Trail, old: str, new: str, what: str) -> None:
    trail.rewrite_note(trail.shas["merge"], old, new)
    code, doc = _verify(trail)
    assert code == 1
    sig = _problems(doc, "signature")
    assert sig and sig[0]["commit"] == trail.shas["merge"] and "is not signed" in sig[0]["message"]
    # even if the edit were signed, the copy no longer matches the PR evidence it cites
    trail.resign_tip()
    code, doc = _verify(trail)
    assert code == 1 and not _problems(doc, "signature")
    [diff] = _problems(doc, "evidence")
    assert diff["commit"] == trail.shas["merge"] and f"the {what}" in diff["message"]


def test_edited_artifact_sha256_is_found(trail: Trail) -> None:
    from engine.rollout.desired import load_desired

    sha = load_desired(trail.path, trail.shas["merge"]).models[IRIS].version("1.1.0").sha256  # type: ignore[union-attr]
    assert sha
    trail.rewrite_note(trail.shas["merge"], sha, "f" * 64)
    trail.resign_tip()
    code, doc = _verify(trail)
    assert code == 1
    [copied] = _problems(doc, "evidence")
    assert copied["commit"] == trail.shas["merge"] and "the validation in the rollout record" in copied["message"]
    code, doc = _verify(trail, "--deep")
    assert code == 1
    [artifact] = _problems(doc, "artifact")
    assert artifact["commit"] == trail.shas["merge"] and "validation read ffffffffffff" in artifact["message"]


def test_edited_evidence_note_is_found(trail: Trail) -> None:
    trail.rewrite_note(trail.shas["head"], '"status":"pass"', '"status":"fail"', ref="govops-evidence")
    code, doc = _verify(trail)
    assert code == 1
    assert any("refs/notes/govops-evidence commit" in p["message"] for p in _problems(doc, "signature"))
    [cited] = _problems(doc, "evidence")
    assert cited["commit"] == trail.shas["merge"] and "the evidence note was removed or edited" in cited["message"]


def test_amended_rolled_out_commit_with_a_copied_note_is_found(trail: Trail) -> None:
    merge = trail.shas["merge"]
    text = trail.note(merge)
    trail.git("commit", "-q", "--amend", "-m", "Merge pull request #12 (amended)", date="2026-01-10T09:30:00+00:00")
    amended = trail.git("rev-parse", "HEAD")
    trail.git("notes", "--ref", "govops", "remove", merge)
    # the copy without editing: the record still names the old commit
    trail.git("notes", "--ref", "govops", "add", "-m", text, amended)
    code, doc = _verify(trail)
    assert code == 1
    [field] = _problems(doc, "commit-field")
    assert field["commit"] == amended and merge[:12] in field["message"]
    # the copy with the commit field rewritten: the chain's signed tip no longer names this record
    trail.git("notes", "--ref", "govops", "add", "-f", "-m", text.replace(merge, amended), amended)
    code, doc = _verify(trail)
    assert code == 1 and not _problems(doc, "commit-field")
    assert any(p["commit"] == amended for p in _problems(doc, "signature"))
    # (a thief of the CI key could re-sign this; signatures protect against everyone else)


def test_forged_all_pass_note_is_found_and_marked_in_the_audit(trail: Trail) -> None:
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.0.0")
    forged_on = trail.commit("Back to 1.0.0 (#13)", "2026-02-01T09:00:00+00:00")
    from engine.audit.ledger import append_record, build_record, chain_head
    from engine.change.gitread import open_repo
    from engine.rollout.desired import load_desired

    with open_repo(trail.path) as repo:
        assert chain_head(repo)[0] == 1
    trail.sign_with(None)  # the forger has no CI key
    record = build_record(target="local", ref="main", commit=forged_on,
                          digest=load_desired(trail.path, forged_on).digest, previous_digest=None,
                          result={"outcome": "succeeded", "changes": []},
                          evidence={"validation": [{"check": "performance", "model": IRIS, "version": "1.0.0",
                                                    "status": "pass", "summary": "forged"}],
                                    "policy_decisions": [], "context": {"approvals": [{"approver": "lee.lead"}]}})
    record["recorded"] = "2026-02-01T10:00:00Z"
    append_record(trail.path, forged_on, record)  # chained correctly: the forger can compute digests too
    code, doc = _verify(trail)
    assert code == 1
    [sig] = _problems(doc, "signature")
    assert sig["commit"] == forged_on and "is not signed" in sig["message"]
    audit = govops("-C", str(trail.path), "audit", IRIS)
    assert audit.returncode == 0, audit.stderr
    forged_line = next(line for line in audit.stdout.splitlines() if forged_on[:12] in line and "rollout" in line)
    assert "UNVERIFIED" in forged_line
    report = govops("-C", str(trail.path), "report", "--format", "json", "--since", "2026-01-01")
    assert report.returncode == 0, report.stderr
    changes = {c["commit"]: c for c in json.loads(report.stdout)["changes"]}
    assert "is not signed" in changes[forged_on]["unverified"]
    assert changes[trail.shas["merge"]]["unverified"] is None
    assert changes[trail.shas["merge"]]["reviewers"] == ["lee.lead"]
    assert changes[trail.shas["merge"]]["argo"] == ["https://argo.example/workflows/govops/pr-12"]
    html = govops("-C", str(trail.path), "report", "--since", "2026-01-01").stdout
    assert "UNVERIFIED: " in html and "https://github.example/acme/models/actions/runs/1200" in html


def test_unsigned_note_is_found(trail: Trail) -> None:
    trail.git("notes", "--ref", "govops", "append", "-m", json.dumps({"kind": "govops.rollout/v1"}),
              trail.shas["initial"])
    code, doc = _verify(trail)
    assert code == 1
    assert any("is not signed" in p["message"] for p in _problems(doc, "signature"))


def test_note_signed_by_a_key_not_allowed_is_found(trail: Trail) -> None:
    from engine.audit.ledger import append_record

    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.0.0")
    sha = trail.commit("Back to 1.0.0", "2026-02-01T09:00:00+00:00")
    trail.sign_with(trail.other_key)
    append_record(trail.path, sha, {"kind": "govops.rollout/v1", "commit": sha, "outcome": "succeeded"})
    code, doc = _verify(trail)
    assert code == 1
    [sig] = _problems(doc, "signature")
    assert sig["commit"] == sha and "not in govops.yaml's ledger.allowedSigners" in sig["message"]
    # and the CI identity refuses to sign on top of it
    trail.sign_with(trail.ci_key)
    from engine.audit.ledger import LedgerError

    with pytest.raises(LedgerError, match="refusing to append"):
        append_record(trail.path, sha, {"kind": "govops.rollout/v1", "commit": sha}, allowed_signers=trail.allowed)


def test_chain_with_a_removed_middle_record_is_found(trail: Trail) -> None:
    shas = []
    for i, champion in enumerate(("1.0.0", "1.1.0")):
        trail.edit("specs/lab/iris-species.yaml", f"champion: {'1.1.0' if champion == '1.0.0' else '1.0.0'}",
                   f"champion: {champion}")
        sha = trail.commit(f"Champion {champion}", f"2026-02-0{i + 1}T09:00:00+00:00")
        _rollout(trail, sha, f"2026-02-0{i + 1}T10:00:00Z", allow_missing=True)
        shas.append(sha)
    code, doc = _verify(trail)
    assert code == 0, doc
    middle, last = shas
    trail.git("notes", "--ref", "govops", "remove", middle)
    trail.resign_tip()  # the chain holds the removal even where the signature was stolen
    code, doc = _verify(trail)
    assert code == 1
    gap = [p for p in _problems(doc, "chain") if "seq 2 is missing" in p["message"]]
    assert gap and gap[0]["commit"] == last
    assert {p["commit"] for p in _problems(doc, "missing-record")} == {middle}


def test_edited_middle_record_breaks_the_chain(trail: Trail) -> None:
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.1.0", "champion: 1.0.0")
    sha = trail.commit("Back to 1.0.0", "2026-02-01T09:00:00+00:00")
    _rollout(trail, sha, "2026-02-01T10:00:00Z", allow_missing=True)
    trail.rewrite_note(trail.shas["merge"], '"outcome":"succeeded"', '"outcome":"failed"')
    trail.resign_tip()
    code, doc = _verify(trail)
    assert code == 1
    [broken] = _problems(doc, "chain")
    assert broken["commit"] == trail.shas["merge"] and "record seq 1 was edited" in broken["message"]


def _pr_branch(h: Trail, name: str, champion: str, date: str, old: str = "1.1.0") -> str:
    h.git("checkout", "-q", "-b", name)
    h.edit("specs/lab/iris-species.yaml", f"champion: {old}", f"champion: {champion}")
    h.edit("specs/lab/iris-species.yaml", "tags: [", "tags: [pr-" + name.split("/")[-1] + ", ")
    head = h.commit(f"PR {name}", date)
    h.git("checkout", "-q", "main")
    return head


@pytest.mark.parametrize("how", ["squash", "rebase"])
def test_squash_and_rebase_merges_carry_the_evidence(trail: Trail, how: str) -> None:
    head = _pr_branch(trail, "kim/back", "1.0.0", "2026-02-01T09:00:00+00:00")
    _evidence(trail, head, trail.shas["merge"], pr=13)
    if how == "squash":
        trail.git("merge", "-q", "--squash", "kim/back")
        merged = trail.commit("Back to 1.0.0 (#13)", "2026-02-02T09:00:00+00:00", who=("GitHub", "noreply@github.com"))
    else:
        trail.git("cherry-pick", head, date="2026-02-02T09:00:00+00:00")
        merged = trail.git("rev-parse", "HEAD")
    assert merged != head and len(trail.git("rev-list", "--parents", "-n", "1", merged).split()) == 2
    record = _rollout(trail, merged, "2026-02-02T10:00:00Z")
    assert record["evidence"]["source"]["head"] == head
    assert "squash or rebase" in record["evidence"]["source"]["mapped_by"]
    assert record["evidence"]["pr"] == 13
    code, doc = _verify(trail)
    assert code == 0, doc
    # a PR head changed after its check: the merged blobs are not the judged ones, no evidence is found
    late = _pr_branch(trail, "kim/late", "1.1.0", "2026-02-03T09:00:00+00:00", old="1.0.0")
    _evidence(trail, late, merged, pr=14)
    trail.git("merge", "-q", "--squash", "kim/late")
    trail.edit("specs/lab/iris-species.yaml", "tags: [", "tags: [sneaked-in, ")
    squashed = trail.commit("Late (#14)", "2026-02-04T09:00:00+00:00")
    from engine.audit.pr_evidence import find_evidence

    assert find_evidence(trail.path, squashed) is None
    res = govops("-C", str(trail.path), "rollout", "--ref", squashed, "--target", "kubernetes", "--out",
                 str(trail.path.parent / "manifests"))
    assert res.returncode == 1 and "no PR evidence note" in res.stderr and "--allow-missing-evidence" in res.stderr
    # the override is possible, and it is itself recorded (signed, chained)
    import os

    _fake_kubectl(trail.path.parent / "bin")
    res = subprocess.run([*_govops_cmd(), "-C", str(trail.path), "rollout", "--ref", squashed, "--target",
                          "kubernetes", "--apply", "--out", str(trail.path.parent / "manifests"),
                          "--allow-missing-evidence"],
                         env={**os.environ, "PATH": f"{trail.path.parent / 'bin'}:{os.environ['PATH']}",
                              "PYTHONPATH": str(PROJECT), "GITHUB_ACTOR": "ops.lead"},
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    [record] = [json.loads(x) for x in trail.note(squashed).splitlines()]
    assert record["evidence"] is None and record["evidence_missing"]["allowed_by"] == "ops.lead"
    assert record["evidence_missing"]["flag"] == "--allow-missing-evidence"
    code, doc = _verify(trail)
    assert code == 0, doc
    assert any(p["check"] == "evidence" and "without PR evidence (--allow-missing-evidence by ops.lead)"
               in p["message"] for p in doc["problems"])


def test_served_bytes_are_rehashed(trail: Trail, tmp_path: Path) -> None:
    from engine.mlserver.local_serving import ServingPaths, write_json
    from engine.rollout.desired import load_desired
    from engine.rollout.materialise import stage_version

    paths = ServingPaths.for_repo(trail.path)
    paths.ensure()
    state = load_desired(trail.path, trail.shas["merge"])
    version = state.models[IRIS].version("1.1.0")
    assert version is not None
    folder = stage_version(version, trail.path, paths.staging)
    dest = paths.version_dir(version.mlserver_name, "1.1.0")
    dest.parent.mkdir(parents=True)
    folder.rename(dest)
    write_json(paths.state, {"commit": trail.shas["merge"], "digest": state.digest, "models": {}})
    assert _verify(trail)[0] == 0
    served = dest / str(version.settings["parameters"]["uri"])
    other = next(p for p in (trail.path / "artifacts").rglob("*.joblib") if p.read_bytes() != served.read_bytes())
    shutil.copyfile(other, served)
    code, doc = _verify(trail)
    assert code == 1
    [bad] = _problems(doc, "serving")
    assert str(served) in bad["message"] and "does not match the sha256 the specs pin" in bad["message"]
    res = govops("-C", str(trail.path), "serve")
    assert res.returncode == 1 and "refusing to serve" in res.stderr and str(served) in res.stderr
    # a rollout no longer says "in sync": the swapped file is named and its version replaced
    res = govops("-C", str(trail.path), "rollout", "--ref", trail.shas["merge"], "--dry-run")
    assert str(served) in res.stderr and "it will be replaced" in res.stderr
    assert any("replace" in line and IRIS in line and "1.1.0" in line for line in res.stdout.splitlines())


# --- the shipped workflows, simulated: a PR job and a rollout job, with only Git between them ---------------


def _fake_kubectl(bin_dir: Path) -> None:
    bin_dir.mkdir()
    script = bin_dir / "kubectl"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)


def _clone(origin: Path, dest: Path, ci_key: Path) -> Trail:
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True, capture_output=True)
    h = Trail(dest)
    h.git("fetch", "-q", "origin", "+refs/notes/*:refs/notes/*", check=False)  # as the workflows do
    for k, v in (("gpg.format", "ssh"), ("user.signingkey", str(ci_key)), ("user.name", "govops[bot]"),
                 ("user.email", "govops@example.com")):
        h.git("config", k, v)
    return h


def run_two_jobs(tmp_path: Path) -> tuple[Trail, dict[str, str]]:
    """Seed an origin, run the PR job in one clone, merge, run the rollout job in another; a fresh clone."""
    seed = build_trail(tmp_path / "seed")
    shutil.copytree(PROJECT / "policies", seed.path / "policies")
    seed.git("checkout", "-q", "main")
    seed.git("reset", "-q", "--hard", seed.shas["initial"])
    seed.git("update-ref", "-d", "refs/notes/govops")
    seed.git("update-ref", "-d", "refs/notes/govops-evidence")
    seed.git("branch", "-D", "kim/promote")
    seed.git("add", "-A")
    seed.git("commit", "-q", "--amend", "--no-edit", date="2026-01-01T09:00:00+00:00")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    seed.git("push", "-q", str(origin), "main")
    base = seed.git("rev-parse", "HEAD")

    # the author's branch
    author = _clone(origin, tmp_path / "author", seed.ci_key)
    author.git("checkout", "-q", "-b", "kim/promote")
    author.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    author.edit("specs/lab/iris-species.yaml", "    challengers:\n      - {version: 1.1.0, mode: canary, weight: 20}\n",
                "")
    head = author.commit("Promote iris 1.1.0", "2026-01-09T09:00:00+00:00")
    author.git("push", "-q", "origin", "kim/promote")

    # job 1: the PR check and its reporting step (posts statuses, records the evidence note, pushes it)
    pr_job = _clone(origin, tmp_path / "pr-job", seed.ci_key)
    pr_job.git("fetch", "-q", "origin", "kim/promote")
    out = tmp_path / "pr-out"
    res = govops("-C", str(pr_job.path), "pr-check", "--base", base, "--head", head, "--author", "kim.ds",
                 "--approved-by", "lee.lead:risk", "--pr-number", "12", "--no-validate", "--dry-run", "--out",
                 str(out))
    assert res.returncode in (0, 1), res.stderr
    res = govops("-C", str(pr_job.path), "ledger", "record-pr", str(out), "--push")
    assert res.returncode == 0, res.stderr
    assert "recorded the PR evidence in refs/notes/govops-evidence" in res.stdout and "pushed" in res.stdout

    # the merge button (GitHub): a merge commit on main; no notes, no artifacts
    author.git("checkout", "-q", "main")
    author.git("pull", "-q", "origin", "main")
    author.git("merge", "-q", "--no-ff", "kim/promote", "-m", "Merge pull request #12 from kim/promote",
               date="2026-01-10T09:00:00+00:00")
    merge = author.git("rev-parse", "HEAD")
    author.git("push", "-q", "origin", "main")

    # job 2: the rollout on the merge, in a clean clone, exactly the shipped workflow's command
    rollout_job = _clone(origin, tmp_path / "rollout-job", seed.ci_key)
    _fake_kubectl(tmp_path / "bin")
    import os

    env_path = f"{tmp_path / 'bin'}:{os.environ['PATH']}"
    res = subprocess.run([*_govops_cmd(), "-C", str(rollout_job.path), "rollout", "--target", "kubernetes",
                          "--apply", "--out", str(tmp_path / "manifests"), "--push"],
                         env={**os.environ, "PATH": env_path, "PYTHONPATH": str(PROJECT)}, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "recorded in refs/notes/govops" in res.stdout

    auditor = _clone(origin, tmp_path / "auditor", seed.ci_key)
    return auditor, {"base": base, "head": head, "merge": merge}


def _govops_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "engine.cli"]


@pytest.mark.slow
def test_two_job_simulation_of_the_shipped_workflows_ends_with_evidence_in_the_ledger(tmp_path: Path) -> None:
    auditor, shas = run_two_jobs(tmp_path)
    [record] = [json.loads(x) for x in auditor.note(shas["merge"]).splitlines()]
    assert record["evidence"]["source"]["head"] == shas["head"]
    assert record["evidence"]["context"]["approvals"] == [{"approver": "lee.lead", "group": "risk"}]
    [decision] = record["evidence"]["policy_decisions"]
    assert {"decision_id", "path", "input", "result", "bundles", "timestamp", "labels"} <= decision.keys()
    assert decision["labels"]["pr"] == 12 and decision["labels"]["model"] == IRIS
    code, doc = _verify(auditor)
    assert code == 0, doc
    audit = govops("-C", str(auditor.path), "audit", IRIS)
    assert audit.returncode == 0, audit.stderr
    assert "PR #12" in audit.stdout and "reviewers: lee.lead" in audit.stdout
    assert "UNVERIFIED" not in audit.stdout and "approved by: lee.lead" in audit.stdout


# --- red-team findings on the trail (each failed on the code before its fix) --------------------------------


def _second_rollout(h: Trail) -> str:
    """PR #13 (back to 1.0.0) with signed evidence, merged and rolled out: the ledger's seq 2."""
    head = _pr_branch(h, "kim/back", "1.0.0", "2026-02-01T09:00:00+00:00")
    _evidence(h, head, h.shas["merge"], pr=13)
    h.git("merge", "-q", "--no-ff", "kim/back", "-m", "Merge pull request #13 from kim/back",
          who=("GitHub", "noreply@github.com"), date="2026-02-02T09:00:00+00:00")
    merge = h.git("rev-parse", "HEAD")
    _rollout(h, merge, "2026-02-02T10:00:00Z")
    return merge


@pytest.mark.parametrize("how", ["rollback", "delete"])
def test_rolled_back_notes_ref_cannot_be_laundered_by_the_next_rollout(trail: Trail, how: str) -> None:
    """#1: a force-push of refs/notes/govops to an older signed commit (or its deletion) shows for ever."""
    from engine.audit.ledger import LedgerError

    merge13 = _second_rollout(trail)
    assert trail.git("tag", "-l", "govops-ledger/govops/*").split() == ["govops-ledger/govops/seq-000001",
                                                                         "govops-ledger/govops/seq-000002"]
    assert _verify(trail, "--strict")[0] == 0
    if how == "rollback":
        trail.git("update-ref", "refs/notes/govops", "refs/notes/govops~1")
    else:
        trail.git("update-ref", "-d", "refs/notes/govops")
    code, doc = _verify(trail, "--strict")
    assert code == 1
    [rolled] = _problems(doc, "rollback")
    assert "seq-000002" in rolled["message"] and "records were erased" in rolled["message"]
    # the CI identity refuses to sign a new record on top of the rolled-back ledger
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    sha = trail.commit("Champion 1.1.0 again", "2026-03-01T09:00:00+00:00")
    with pytest.raises(LedgerError, match="rolled back"):
        _rollout(trail, sha, "2026-03-01T10:00:00Z", allow_missing=True)
    assert merge13 not in trail.noted()


def test_covers_only_counts_commits_since_the_previous_rollout(trail: Trail) -> None:
    """#1: a record's ``covers`` cannot vouch for a commit before the previous rolled-out commit."""
    from engine.audit.ledger import append_record, build_record

    _second_rollout(trail)
    trail.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    sha = trail.commit("Champion 1.1.0 again", "2026-03-01T09:00:00+00:00")
    record = build_record(target="local", ref="main", commit=sha, digest="x", previous_digest=None,
                          result={"outcome": "succeeded", "changes": []}, evidence=None)
    record["covers"] = [sha, trail.shas["merge"]]  # PR #12 was rolled out before PR #13: not this record's
    append_record(trail.path, sha, record, allowed_signers=trail.allowed)
    trail.git("notes", "--ref", "govops", "remove", trail.shas["merge"])
    trail.resign_tip()  # a stolen key: the chain and the coverage still hold
    code, doc = _verify(trail)
    assert code == 1
    assert trail.shas["merge"] in {p["commit"] for p in _problems(doc, "missing-record")}


def _forge(h: Trail, ref: str, commit: str, record: dict[str, Any], *, first: bool = False,
           message: str = "forged") -> str:
    """An attacker without the key: a chained record on ``commit``'s note, an unsigned notes commit."""
    from engine.audit.ledger import canonical, chain_head, line_digest
    from engine.change.gitread import open_repo

    with open_repo(h.path) as repo:
        seq, prev = chain_head(repo, ref)
    line = canonical({**record, "seq": seq + 1, "prev": prev, "ledger": f"refs/notes/{ref}", "commit": commit})
    old = h.git("notes", "--ref", ref, "show", commit, check=False)
    old = old + "\n" if old else ""
    text = (line + "\n" + old) if first else (old + line + "\n")
    full = f"refs/notes/{ref}"
    tip = h.git("rev-parse", full)
    h.git("notes", "--ref", ref, "add", "-f", "-m", text.rstrip("\n"), commit)
    tree = h.git("rev-parse", f"{full}^{{tree}}")
    new = h.git("-c", "commit.gpgsign=false", "commit-tree", tree, "-p", tip, "-m", message)
    h.git("update-ref", full, new)
    return line_digest(line)


def test_unsigned_evidence_is_never_copied_into_the_ledger_and_marks_carry(trail: Trail) -> None:
    """#9: find_evidence accepts only evidence a good signature covers; citing unverified evidence is marked."""
    from engine.audit.ledger import append_record, build_record
    from engine.audit.pr_evidence import KIND, Found, evidence_records, find_evidence, spec_blobs
    from engine.change.gitread import open_repo

    head = _pr_branch(trail, "kim/x", "1.0.0", "2026-02-01T09:00:00+00:00")
    with open_repo(trail.path) as repo:
        specs = spec_blobs(repo, trail.shas["merge"], head)
    forged = {"kind": KIND, "head": head, "base": trail.shas["merge"], "pr": 15, "ok": True, "specs": specs,
              "evidence": {"validation": [], "policy_decisions": [],
                           "context": {"approvals": [{"approver": "cfo.board", "group": "risk"}]}}}
    digest = _forge(trail, "govops-evidence", head, forged)
    trail.git("merge", "-q", "--no-ff", "kim/x", "-m", "Merge pull request #15 from kim/x",
              who=("GitHub", "noreply@github.com"), date="2026-02-02T09:00:00+00:00")
    merge = trail.git("rev-parse", "HEAD")
    assert find_evidence(trail.path, merge) is None
    # a ledger written by an older govops copied it: the audit marks the rollout that cites it
    with open_repo(trail.path) as repo:
        [(d, rec)] = evidence_records(repo)[head]
    assert d == digest
    trail.resign_tip("govops-evidence")  # even with the evidence tip re-signed later, the copy is no better
    record = build_record(target="local", ref="main", commit=merge, digest="x", previous_digest=None,
                          result={"outcome": "succeeded", "changes": []},
                          evidence=Found(head, rec, d, "merge commit's second parent").for_rollout())
    trail.git("update-ref", "refs/notes/govops-evidence", "refs/notes/govops-evidence~1")  # back to unsigned tip
    trail.git("tag", "-d", "govops-ledger/govops-evidence/seq-000001", check=False)
    append_record(trail.path, merge, record, allowed_signers=trail.allowed)
    from engine.audit.chain import integrity_marks, mark_for
    from engine.spec.workspace import load_config

    config, _, _ = load_config(trail.path)
    with open_repo(trail.path) as repo:
        marks = integrity_marks(repo, config)
    stored = json.loads(trail.note(merge).splitlines()[-1])
    why = mark_for(marks, merge, stored)
    assert why and "cites PR evidence" in why


def test_forged_first_record_with_lying_trailers_is_marked_not_the_genuine_one(trail: Trail) -> None:
    """#2: an unsigned notes commit's trailers are never believed; every record no signature covers is marked."""
    from engine.audit.ledger import canonical, line_digest

    merge = trail.shas["merge"]
    genuine = json.loads(trail.note(merge).splitlines()[0])
    forged = {k: v for k, v in genuine.items() if k not in ("seq", "prev", "ledger")}
    forged["evidence"] = {**forged["evidence"], "context": {**forged["evidence"]["context"],
                                                            "approvals": [{"approver": "cfo.board", "group": "risk"}],
                                                            "reviewers": ["cfo.board"]}}
    msg = (f"govops ledger\n\nGovops-Commit: {trail.shas['initial']}\n"
           f"Govops-Record: {line_digest(canonical(genuine))}\n")
    _forge(trail, "govops", merge, forged, first=True, message=msg)
    code, doc = _verify(trail)
    assert code == 1
    blamed = {p["commit"] for p in _problems(doc, "signature")}
    assert merge in blamed and trail.shas["initial"] not in blamed
    res = govops("-C", str(trail.path), "audit", IRIS, "--format", "json")
    assert res.returncode == 0, res.stderr
    events = json.loads(res.stdout)["events"]
    rollouts = [e for e in events if e["kind"] == "rollout" and e["commit"] == merge]
    assert all(e.get("unverified") for e in rollouts if "cfo.board" in json.dumps(e))
    assert any(not e.get("unverified") for e in rollouts if "cfo.board" not in json.dumps(e))
    change = next(e for e in events if e["kind"] == "changed" and e["commit"] == merge)
    assert "cfo.board" not in change["approvers"] or change.get("unverified")


def test_explain_never_presents_an_unsigned_decision(tmp_path: Path) -> None:
    """#3: explain uses only records a good signature covers."""
    auditor, shas = run_two_jobs(tmp_path)
    merge = shas["merge"]
    rec = json.loads(auditor.note(merge).splitlines()[0])
    forged = {k: v for k, v in rec.items() if k not in ("seq", "prev", "ledger")}
    decision = forged["evidence"]["policy_decisions"][0]
    decision["decision_id"] = "forged-0000"
    import hashlib

    from engine.audit.ledger import canonical

    decision["input"]["context"]["approvals"] = [{"approver": "lee.lead", "group": "risk"},
                                                 {"approver": "cfo.board", "group": "risk"}]
    decision["labels"]["input_sha256"] = hashlib.sha256(canonical(decision["input"]).encode()).hexdigest()
    _forge(auditor, "govops", merge, forged)
    res = govops("-C", str(auditor.path), "explain", merge, IRIS, "--format", "json")
    assert "Traceback" not in res.stderr
    assert "forged-0000" not in res.stdout and "cfo.board" not in res.stdout
    # the forged record alone (the genuine one removed as well): exit 1, saying why
    auditor.git("notes", "--ref", "govops", "add", "-f", "-m",
                auditor.note(merge).splitlines()[-1], merge)
    res = govops("-C", str(auditor.path), "explain", merge, IRIS)
    assert res.returncode == 1 and "UNVERIFIED" in res.stderr and "forged-0000" not in res.stdout


def test_replace_refs_and_grafts_are_ignored(trail: Trail) -> None:
    """#7: a pushed refs/replace/<spec blob> (or info/grafts) never substitutes what govops reads."""
    merge = trail.shas["merge"]
    blob = trail.git("rev-parse", f"{merge}:specs/lab/iris-species.yaml")
    forged = trail.path / "forged.yaml"
    forged.write_text(trail.git("cat-file", "blob", blob).replace("champion: 1.1.0", "champion: 1.0.0") + "\n")
    other = trail.git("hash-object", "-w", str(forged))
    forged.unlink()
    trail.git("replace", blob, other)
    (Path(trail.git("rev-parse", "--git-dir")) if Path(trail.git("rev-parse", "--git-dir")).is_absolute()
     else trail.path / ".git").joinpath("info").mkdir(exist_ok=True)
    (trail.path / ".git" / "info" / "grafts").write_text(f"{merge}\n")  # would make the merge a root commit
    res = govops("-C", str(trail.path), "rollout", "--dry-run", "--no-ledger", "--ref", merge)
    assert "lab/iris-species 1.1.0 (champion)" in res.stdout, res.stdout
    assert "lab/iris-species 1.0.0 (champion)" not in res.stdout
    code, doc = _verify(trail)
    assert code == 0, doc
    assert any(p["check"] == "replace" for p in doc["problems"])


def test_u2028_in_a_label_does_not_hide_a_signed_record(trail: Trail) -> None:
    """#8: notes are split on newlines only; a non-JSON line in the evidence ref is reported."""
    from engine.audit.ledger import EVIDENCE_REF, append_record
    from engine.audit.pr_evidence import KIND, evidence_records
    from engine.change.gitread import open_repo

    a = _pr_branch(trail, "kim/a", "1.0.0", "2026-02-01T09:00:00+00:00")
    rec = {"kind": KIND, "commit": a, "head": a, "base": trail.shas["merge"], "pr": 13, "ok": False, "specs": {},
           "evidence": {"context": {"labels": ["needs-review\u2028"]}}}
    stored = append_record(trail.path, a, rec, ref=EVIDENCE_REF, allowed_signers=trail.allowed)
    assert stored["seq"] == 2
    with open_repo(trail.path) as repo:
        assert a in evidence_records(repo)
    b = _pr_branch(trail, "kim/b", "1.0.0", "2026-02-02T09:00:00+00:00")
    assert append_record(trail.path, b, {**rec, "commit": b, "head": b, "pr": 14}, ref=EVIDENCE_REF,
                         allowed_signers=trail.allowed)["seq"] == 3
    assert _verify(trail)[0] == 0
    trail.git("notes", "--ref", "govops-evidence", "append", "-m", "not json", b)
    code, doc = _verify(trail)
    assert code == 1 and any(p["check"] == "ledger" and p["commit"] == b for p in _problems(doc))


# --- the served bytes (#4, #5, #6): a materialised repository, no server needed ---------------------------


def _served(h: Trail) -> tuple[Any, Any, Path]:
    """The merge's desired state materialised as the local target does, with its state.json."""
    from engine.mlserver.local_serving import ServingPaths, write_json
    from engine.rollout.desired import load_desired
    from engine.rollout.materialise import stage_version

    desired = load_desired(h.path, h.shas["merge"])
    paths = ServingPaths.for_repo(h.path)
    paths.ensure()
    for m in desired.models.values():
        for v in m.versions:
            folder = stage_version(v, h.path, paths.staging)
            target = paths.version_dir(v.mlserver_name, v.version)
            target.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(target)
    write_json(paths.state, {"commit": h.shas["merge"], "digest": desired.digest, "models": {}})
    iris = paths.version_dir(desired.models[IRIS].versions[0].mlserver_name, "1.1.0")
    return desired, paths, iris


def _serve_refused(h: Trail) -> str:
    from engine.commands.serve import refuse_tampered
    from engine.mlserver.local_serving import ServingPaths
    from engine.spec.errors import GovernanceFailure

    try:
        refuse_tampered(h.path, ServingPaths.for_repo(h.path))
    except GovernanceFailure as exc:
        return str(exc)
    return ""


def test_served_artifact_is_the_one_model_settings_names(trail: Trail) -> None:
    """#4: govops.json's uri is not what MLServer loads; state.json's commit is not evidence either."""
    from engine.rollout.serving import rehash_served

    desired, paths, iris = _served(trail)
    assert rehash_served(paths, desired) == [] and _serve_refused(trail) == ""
    assert _verify(trail)[0] == 0
    shutil.copy(iris / "model.joblib", iris / "orig.joblib")
    (iris / "model.joblib").write_bytes(b"not the model")
    doc = json.loads((iris / "govops.json").read_text())
    doc["settings"]["parameters"]["uri"] = "orig.joblib"
    (iris / "govops.json").write_text(json.dumps(doc))
    files = {m.file.name for m in rehash_served(paths, desired)}
    assert {"model.joblib", "orig.joblib", "govops.json"} <= files
    assert "model.joblib" in _serve_refused(trail)
    code, doc2 = _verify(trail)
    assert code == 1 and any("model.joblib" in p["message"] for p in _problems(doc2, "serving"))
    state = json.loads(paths.state.read_text())
    state["commit"] = "0" * 40
    paths.state.write_text(json.dumps(state))
    assert "not in this repository" in _serve_refused(trail)


def test_extra_version_folder_and_dropped_module_are_refused_and_removed(trail: Trail) -> None:
    """#5, #6: anything govops did not write in the model repository is a mismatch; a rollout removes it."""
    from engine.rollout.serving import rehash_served, stray_entries

    desired, paths, iris = _served(trail)
    zzz = iris.parent / "zzz"
    zzz.mkdir()
    shutil.copy(iris / "model-settings.json", zzz / "model-settings.json")
    (zzz / "model.joblib").write_bytes(b"evil")
    (paths.repository / "mlserver_sklearn.py").write_text("raise SystemExit\n")
    (paths.repository / "settings.json").write_text("{}\n")
    assert set(stray_entries(paths)) == {zzz, paths.repository / "mlserver_sklearn.py",
                                         paths.repository / "settings.json"}
    assert len(rehash_served(paths, desired)) == 3
    text = _serve_refused(trail)
    assert "zzz" in text and "mlserver_sklearn.py" in text
    assert _verify(trail)[0] == 1
    from engine.rollout.targets.local import LocalTarget

    target = LocalTarget(trail.path)
    target._remove_strays()
    assert stray_entries(paths) == [] and not zzz.exists()
    assert any("removed" in n for n in target.notes)


def test_mlserver_of_the_rollout_never_imports_from_the_repository(tmp_path: Path) -> None:
    """#6: the rollout's MLServer starts in an empty directory; the repository root comes through the env."""
    from engine.mlserver.process import REPOSITORY_ROOT_ENV, MLServerProcess

    repo = tmp_path / "repository"
    repo.mkdir()
    proc = MLServerProcess(repo, work_dir=tmp_path / "work",
                           repository_implementation="engine.mlserver.repository.NameFolderRepository")
    work = tmp_path / "work"
    argv, start = proc.command(work), proc.start_dir(work)
    assert str(repo) not in argv and argv[-1] == str(start) and list(start.iterdir()) == []
    assert start != work and not start.is_relative_to(tmp_path)
    assert proc._env(work)[REPOSITORY_ROOT_ENV] == str(repo.resolve())

    from engine.mlserver.repository import NameFolderRepository

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(REPOSITORY_ROOT_ENV, str(repo))
        assert NameFolderRepository(str(start))._root == str(repo)
