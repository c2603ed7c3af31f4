"""A real GitOps history for the audit tests: PR merge, rollout note, rename, bot shutdown, revert.

Every commit has a fixed date (``GIT_AUTHOR_DATE``/``GIT_COMMITTER_DATE``) so ``--at`` and
``--since`` have exact answers; ledger notes are written with ``engine.audit.ledger`` itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
IRIS = "lab/iris-species"


@dataclass
class History:
    """The repository and the commits of interest."""

    path: Path
    shas: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str, who: tuple[str, str] = ("Kim DS", "kim@example.com"), date: str | None = None,
            check: bool = True, stdin: str | None = None) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1],
               "GIT_COMMITTER_NAME": who[0], "GIT_COMMITTER_EMAIL": who[1], "GIT_CONFIG_NOSYSTEM": "1",
               "HOME": str(self.path.parent)}
        if date:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        res = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True, input=stdin)
        if check and res.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {res.stderr}")
        return res.stdout.strip()

    def commit(self, msg: str, date: str, who: tuple[str, str] = ("Kim DS", "kim@example.com")) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", msg, who=who, date=date)
        return self.git("rev-parse", "HEAD")

    def edit(self, rel: str, old: str, new: str) -> None:
        p = self.path / rel
        text = p.read_text()
        assert old in text, f"{old!r} not in {rel}"
        p.write_text(text.replace(old, new, 1))


def rollout_note(
    root: Path, commit: str, recorded: str, *, model: str = IRIS, version: str = "1.1.0",
    outcome: str = "succeeded", sha_override: str | None = None, digest_override: str | None = None,
    failing_check: str | None = None, approvals: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Append a rollout record (the rollout helper's format) with evidence for ``model`` ``version``."""
    from engine.audit.ledger import append_record, build_record
    from engine.rollout.desired import load_desired

    state = load_desired(root, commit)
    wanted = state.models[model].version(version)
    assert wanted is not None
    validated_sha = sha_override or wanted.sha256
    checks = ["performance", "data_quality", "drift", "champion", "robustness", "leakage", "fit"]
    evidence = {
        "validation": [
            {"check": c, "model": model, "version": version, "status": "fail" if c == failing_check else "pass",
             "summary": f"{c} {'failed' if c == failing_check else 'passed'}", "metrics": [],
             "inputs": [{"role": "candidate_model", "uri": wanted.artifact_uri, "sha256": validated_sha}]}
            for c in checks
        ],
        "policy_decisions": [{"decision_id": "dec-1", "path": "govops/main", "model": model,
                              "input_digest": "abc", "result": {"deny": [], "warn": []}, "revision": "rev-1",
                              "timestamp": recorded}],
        "context": {"approvals": approvals if approvals is not None else [{"approver": "lee.lead", "group": None}]},
    }
    record = build_record(target="local", ref="main", commit=commit,
                          digest=digest_override or state.digest, previous_digest=None,
                          result={"outcome": outcome, "changes": [{"action": "load", "model": model,
                                                                   "version": version, "role": "champion"}]},
                          evidence=evidence)
    record["recorded"] = recorded
    append_record(root, commit, record)
    return record


def build_history(path: Path) -> History:
    """initial (Jan 1) → PR #12 merged (Jan 10, rollout note Jan 10 12:00) → rename (#13, Feb 1)
    → bot shutdown (Mar 1) → revert (Mar 2); tumor-malignancy changed directly on Jan 20."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "govops.yaml", path / "govops.yaml")
    shutil.copytree(PROJECT / "specs", path / "specs")
    shutil.copytree(PROJECT / "artifacts", path / "artifacts")
    h = History(path)
    h.git("init", "-q", "-b", "main")
    h.shas["initial"] = h.commit("Initial GitOps content", "2026-01-01T09:00:00+00:00",
                                 who=("Dana DS", "dana@example.com"))
    h.git("checkout", "-q", "-b", "kim/promote")
    h.edit("specs/lab/iris-species.yaml", "champion: 1.0.0", "champion: 1.1.0")
    h.edit("specs/lab/iris-species.yaml", "    challengers:\n      - {version: 1.1.0, mode: canary, weight: 20}\n",
           "")
    h.shas["branch"] = h.commit("Promote iris 1.1.0", "2026-01-09T09:00:00+00:00")
    h.git("checkout", "-q", "main")
    h.git("merge", "-q", "--no-ff", "kim/promote", "-m",
          "Merge pull request #12 from kim/promote\n\nPromote iris 1.1.0\n\nApproved-by: lee.lead",
          who=("GitHub", "noreply@github.com"), date="2026-01-10T09:00:00+00:00")
    h.shas["merge"] = h.git("rev-parse", "HEAD")
    rollout_note(path, h.shas["merge"], "2026-01-10T12:00:00Z")
    h.edit("specs/oncology/tumor-malignancy.yaml", "owners: [gus.ds]", "owners: [gus.ds, hana.lead]")
    h.shas["other"] = h.commit("Add an owner (#14)", "2026-01-20T09:00:00+00:00", who=("Gus DS", "gus@example.com"))
    h.git("mv", "specs/lab/iris-species.yaml", "specs/lab/iris.yaml")
    h.shas["move"] = h.commit("Shorter spec file name (#13)", "2026-02-01T09:00:00+00:00")
    h.edit("specs/lab/iris.yaml", "champion: 1.1.0", "champion: 1.0.0")
    h.shas["shutdown"] = h.commit("govops: automatic shutdown of lab/iris-species 1.1.0 (health critical)",
                                  "2026-03-01T03:00:00+00:00", who=("govops-bot", "govops-bot@example.com"))
    h.git("revert", "--no-edit", "HEAD", who=("Kim DS", "kim@example.com"), date="2026-03-02T09:00:00+00:00")
    h.shas["revert"] = h.git("rev-parse", "HEAD")
    return h


def govops(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=cwd or PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)


def walked_history(view: Any, git_dir: str) -> Any:
    """``verify``'s history of ``view`` (``engine.audit.verify._history``), from a walk started and closed here."""
    from engine.audit.gitjobs import Jobs, start_walk
    from engine.audit.verify import _history

    jobs = Jobs(git_dir)
    try:
        start_walk(jobs, view.sha, view.prefix, view.spec_dirs)
        return _history(view, jobs)
    finally:
        jobs.close()
