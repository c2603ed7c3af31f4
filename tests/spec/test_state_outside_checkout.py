"""Nothing in the tree under review is trusted as state (issue #15, holes 2 and 5).

Caches (policy decisions, sorted drift columns, reference profiles) live in the cache
directory (``GOVOPS_CACHE_DIR``, by default under ``$XDG_CACHE_HOME`` or ``$RUNNER_TEMP``),
keyed by content digests and checked on read; a committed ``.govops/`` is refused by
``lint`` and by a change check. Real git repositories, real Rego, real checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engine.policy.cache import DecisionCache
from engine.spec.errors import ConfigError
from engine.spec.settings import Settings, cache_root
from engine.spec.statedir import cache_dir, changed_state, tracked_state
from runners.runner import default_cache_dir, run_check
from tests.conftest import copy_example_repo, govops, run_git
from tests.helpers.runner_helpers import classification_data, write_repo

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget

NOW = "2026-11-20T10:00:00+00:00"
SPEC = "specs/clinical/readmission-triage.yaml"
FIX = "git rm -r --cached .govops"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    env.update(GOVOPS_NOW=NOW, **extra)
    return env


def _canary_branch(repo: Path) -> None:
    """The issue's change: readmission-triage 2.0.0 from shadow to a 10% canary (denied without approvals)."""
    run_git(repo, "checkout", "-q", "-b", "canary")
    spec = repo / SPEC
    canary = "{version: 2.0.0, mode: canary, weight: 10}"
    spec.write_text(spec.read_text().replace("{version: 2.0.0, mode: shadow}", canary))
    run_git(repo, "commit", "-qam", "canary 2.0.0 at 10%")


def _check(repo: Path, *extra: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict]:
    res = govops("-C", str(repo), "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds",
                 "--format", "json", *extra, env=env)
    return res, json.loads(res.stdout) if res.stdout.strip() else {}


# --- hole 2: a forged decision cache committed in the pull request ---------------------------------------


def test_forged_decision_cache_committed_in_a_pr_is_not_read_in_a_fresh_clone(tmp_path: Path) -> None:
    origin = copy_example_repo(tmp_path / "origin")
    _canary_branch(origin)
    # the attacker learns the keys of their own change (the decision records name both digests) ...
    mine = _env(GOVOPS_CACHE_DIR=str(tmp_path / "mine"))
    res, doc = _check(origin, "--decisions", str(tmp_path / "d.json"), env=mine)
    assert res.returncode == 1, res.stdout + res.stderr
    records = json.loads((tmp_path / "d.json").read_text())
    record = next(r for r in records if r["model"] == "clinical/readmission-triage")
    assert record["result"]["deny"]
    # ... and commits an allow for it where govops used to keep its decision cache (old and new file names)
    allow = {"deny": [], "warn": []}
    forged = {
        f".govops/cache/policy/{record['policy_digest']}-v1.json": {record["input_digest"]: allow},
        f".govops/cache/policy/{record['policy_digest']}-v2.json": {
            "format": "govops/decision-cache/v2", "policy_digest": record["policy_digest"],
            "entries": {record["input_digest"]: allow},
        },
    }
    for rel, content in forged.items():
        (origin / rel).parent.mkdir(parents=True, exist_ok=True)
        (origin / rel).write_text(json.dumps(content))
    run_git(origin, "add", "-f", ".govops")
    run_git(origin, "commit", "-qm", "a cache file")

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "-b", "canary", str(origin), str(clone)], check=True, capture_output=True)
    run_git(clone, "branch", "-q", "main", "origin/main")
    assert (clone / next(iter(forged))).is_file()

    res, doc = _check(clone, "--decisions", str(tmp_path / "clone.json"), env=_env())
    rules = {v["rule"] for v in doc["violations"]}
    assert {"GOV-APP-001", "GOV-APP-002"} <= rules, res.stdout  # still denied: the forged allow was not read
    decided = next(r for r in json.loads((tmp_path / "clone.json").read_text())
                   if r["model"] == "clinical/readmission-triage")
    assert decided["input_digest"] == record["input_digest"] and decided["cached"] is False
    # and the committed state is reported at each file, with the fix; input to fix beats the denial: exit 2
    state = [v for v in doc["violations"] if v["rule"] == "state/committed"]
    assert sorted(v["file"] for v in state) == sorted(forged)
    assert all(FIX in v["message"] and ".gitignore" in v["message"] and v["line"] == 1 for v in state)
    assert res.returncode == 2 and doc["ok"] is False
    written = sorted(p.relative_to(clone).as_posix() for p in (clone / ".govops").rglob("*") if p.is_file())
    assert written == sorted(forged)  # the check wrote nothing into the checkout


def test_a_change_that_deletes_committed_state_is_not_refused(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    (repo / ".govops").mkdir()
    (repo / ".govops" / "old.json").write_text("{}")
    run_git(repo, "add", "-f", ".govops")
    run_git(repo, "commit", "-qm", "state by mistake")
    run_git(repo, "checkout", "-q", "-b", "fix")
    run_git(repo, "rm", "-q", "-r", "--cached", ".govops")
    run_git(repo, "commit", "-qm", "untrack .govops")
    base = run_git(repo, "rev-parse", "main").strip()
    head = run_git(repo, "rev-parse", "HEAD").strip()
    assert changed_state(repo, base, head) == []
    assert changed_state(repo, head, base)[0].file == ".govops/old.json"  # the other way round it adds it


def test_state_staged_in_the_work_tree_is_refused_by_a_worktree_check(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    (repo / ".govops" / "cache").mkdir(parents=True)
    (repo / ".govops" / "cache" / "untracked.json").write_text("{}")  # local state, ignored: fine
    (repo / ".gitignore").write_text(".govops/\n")
    run_git(repo, "add", ".gitignore")
    run_git(repo, "commit", "-qm", "ignore state")
    base = run_git(repo, "rev-parse", "HEAD").strip()
    assert changed_state(repo, base, None) == []
    (repo / ".govops" / "serving").mkdir()
    (repo / ".govops" / "serving" / "state.json").write_text("{}")
    run_git(repo, "add", "-f", ".govops/serving/state.json")
    res = govops("-C", str(repo), "check", "--base", "HEAD", "--head", "WORKTREE", "--format", "json", env=_env())
    assert res.returncode == 2, res.stdout + res.stderr
    files = [v["file"] for v in json.loads(res.stdout)["violations"] if v["rule"] == "state/committed"]
    assert files == [".govops/serving/state.json"]


# --- a committed .govops/ is refused by lint ---------------------------------------------------------------


def test_lint_refuses_a_tracked_govops_directory_with_the_fix(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    (repo / ".govops").mkdir()
    (repo / ".govops" / "scratch.json").write_text("{}")  # ignored state in the work tree is fine
    (repo / ".gitignore").write_text(".govops/\n")
    ok = govops("-C", str(repo), "lint", env=_env())
    assert ok.returncode == 0, ok.stdout + ok.stderr

    (repo / ".govops" / "cache" / "policy").mkdir(parents=True)
    (repo / ".govops" / "cache" / "policy" / "x.json").write_text("{}")
    run_git(repo, "add", "-f", ".govops/cache/policy/x.json")
    res = govops("-C", str(repo), "lint", env=_env())
    assert res.returncode == 2
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith(".govops/cache/policy/x.json:1:1: error:"))
    assert FIX in line and "add `.govops/` to .gitignore" in line and "[state/committed]" in line
    assert ".govops/scratch.json" not in res.stdout  # only tracked files are refused
    doc = json.loads(govops("-C", str(repo), "lint", "--format", "json", env=_env()).stdout)
    assert [v["file"] for v in doc["violations"] if v["rule"] == "state/committed"] == [".govops/cache/policy/x.json"]


def test_tracked_state_lists_odd_names_literally_and_is_empty_outside_git(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    odd = ".govops/-n *[x] \"q\".json"
    (repo / ".govops").mkdir()
    (repo / odd).write_text("{}")
    run_git(repo, "add", "-f", "--", odd)
    assert [d.file for d in tracked_state(repo)] == [odd]
    plain = copy_example_repo(tmp_path / "plain", git=False)
    assert tracked_state(plain) == []


# --- hole 5: a forged sorted drift cache -----------------------------------------------------------------


def _drifting_repo(tmp_path: Path) -> tuple[Path, str, list[str]]:
    from sklearn.linear_model import LogisticRegression

    from tests.helpers.runner_helpers import FEATURES

    ref, ev = classification_data(800, 1), classification_data(500, 2, shift=1.5)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    root, spec = write_repo(tmp_path / "repo", ref, ev, {"2.0.0": model})
    return root, spec, list(FEATURES)


TH = {"max_ks": 0.2, "min_p_value": 0.001, "max_psi": 0.25, "max_drifted_share": 0.1}


def test_forged_sorted_drift_cache_in_the_checkout_is_not_used(tmp_path: Path) -> None:
    import pandas as pd

    root, spec, features = _drifting_repo(tmp_path)
    honest = run_check(root, "drift", spec_file=spec, version="2.0.0", thresholds=TH)
    assert honest.status == "fail", honest.summary
    # forge: the evaluation columns, sorted, stored as the reference's under the old in-repo cache layout
    ev = pd.read_csv(root / "artifacts/data/evaluation.csv")
    ref_digest = hashlib.sha256((root / "artifacts/data/reference.csv").read_bytes()).hexdigest()
    for name in features:
        tag = hashlib.sha256(name.encode()).hexdigest()[:16]
        path = root / ".govops" / "cache" / "sorted" / ref_digest / f"{tag}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.sort(ev[name].to_numpy(dtype=float)))
    again = run_check(root, "drift", spec_file=spec, version="2.0.0", thresholds=TH)
    assert again.status == "fail", again.summary  # computed from the data, not the committed file
    assert again.details["features"] == honest.details["features"]
    # also when GOVOPS_CACHE_DIR (or --cache-dir) points into the checkout: no cache at all there
    inside = run_check(root, "drift", spec_file=spec, version="2.0.0", thresholds=TH,
                       cache_dir=root / ".govops" / "cache")
    assert inside.status == "fail" and inside.details["features"] == honest.details["features"]


def test_a_foreign_or_damaged_sorted_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    import pandas as pd

    root, spec, features = _drifting_repo(tmp_path)
    cache = tmp_path / "cache"
    honest = run_check(root, "drift", spec_file=spec, version="2.0.0", thresholds=TH, cache_dir=cache)
    assert honest.status == "fail"
    entries = sorted((cache / "sorted").rglob("*.npz"))
    assert len(entries) == len(features)
    ev = pd.read_csv(root / "artifacts/data/evaluation.csv")
    for path in entries:  # overwrite every entry with a well-formed one holding other data
        with np.load(path) as e:
            column = str(e["column"])
            meta = {k: e[k] for k in ("format", "source", "column")}
        np.savez(path, sorted=np.sort(ev[column].to_numpy(dtype=float)), **meta)
    again = run_check(root, "drift", spec_file=spec, version="2.0.0", thresholds=TH, cache_dir=cache)
    assert again.status == "fail" and again.details["features"] == honest.details["features"]


# --- where caches are written ----------------------------------------------------------------------------


@pytest.mark.slow
def test_check_and_validate_write_caches_outside_the_checkout(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    xdg = tmp_path / "xdg"
    env = {**_env(), "XDG_CACHE_HOME": str(xdg)}
    env.pop("RUNNER_TEMP", None)
    assert govops("-C", str(repo), "check", "--all", env=env).returncode == 0
    res = govops("-C", str(repo), "validate", "--model", "clinical/readmission-triage", "--out",
                 str(tmp_path / "out"), "--jobs", "2", env=env)
    assert res.returncode in (0, 1), res.stdout + res.stderr
    assert not (repo / ".govops" / "cache").exists() and not (repo / ".govops" / "profiles").exists()
    assert run_git(repo, "status", "--porcelain", "--ignored") == ""  # nothing written into the checkout
    assert list((xdg / "govops" / "policy").glob("*.json"))
    assert list((xdg / "govops" / "sorted").rglob("*.npz"))
    assert list((xdg / "govops" / "profiles" / "clinical--readmission-triage").rglob("*.json"))


def test_cache_root_follows_the_setting_then_actions_then_xdg_then_home(tmp_path: Path) -> None:
    env = {"RUNNER_TEMP": "/runner/tmp", "XDG_CACHE_HOME": "/xdg"}
    assert cache_root(Settings(cache_dir=str(tmp_path / "c")), env) == tmp_path / "c"
    assert cache_root(Settings(), env) == Path("/runner/tmp/govops-cache")
    assert cache_root(Settings(), {"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/govops")
    assert cache_root(Settings(), {"XDG_CACHE_HOME": "relative"}) == Path.home() / ".cache" / "govops"
    assert cache_root(Settings(), {}) == Path.home() / ".cache" / "govops"


def test_a_cache_directory_inside_the_checkout_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(ConfigError, match="inside the repository"):
        cache_dir("policy", Settings(cache_dir=str(repo / ".govops" / "cache")), root=repo)
    monkeypatch.setenv("GOVOPS_CACHE_DIR", str(repo / "cache"))
    assert default_cache_dir(repo) is None  # the runners' side: no cache rather than one in the tree
    monkeypatch.setenv("GOVOPS_CACHE_DIR", str(tmp_path / "outside"))
    assert default_cache_dir(repo) == tmp_path / "outside"
    monkeypatch.delenv("GOVOPS_CACHE_DIR")
    assert default_cache_dir(repo) == cache_root()  # the engine and the runners agree on the default


def test_decision_cache_entries_are_checked_on_read(tmp_path: Path) -> None:
    settings = Settings(cache_dir=str(tmp_path / "c"))
    repo = tmp_path / "repo"
    good = {"deny": [{"rule": "R", "message": "m", "path": ""}], "warn": []}
    cache = DecisionCache(repo, "p" * 64, settings=settings)
    cache.put("k", good)
    cache.put("bad", {"deny": "nothing"})
    cache.save()
    assert cache.path.parent == tmp_path / "c" / "policy" and oct(cache.path.parent.stat().st_mode)[-3:] == "700"
    again = DecisionCache(repo, "p" * 64, settings=settings)
    assert again.get("k") == good and again.get("bad") is None  # a malformed decision is a miss
    # a file that names another policy digest inside is foreign: every lookup misses
    doc = json.loads(cache.path.read_text())
    cache.path.write_text(json.dumps({**doc, "policy_digest": "q" * 64}))
    assert DecisionCache(repo, "p" * 64, settings=settings).get("k") is None
    # another policy digest is another file
    assert DecisionCache(repo, "q" * 64, settings=settings).path != cache.path


def test_pr_check_refuses_a_change_that_only_commits_state(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    run_git(repo, "checkout", "-q", "-b", "cache")
    (repo / ".govops" / "profiles").mkdir(parents=True)
    (repo / ".govops" / "profiles" / "p.json").write_text("{}")
    run_git(repo, "add", "-f", ".govops")
    run_git(repo, "commit", "-qm", "no spec changes at all")
    env = {k: v for k, v in _env().items() if not k.startswith("GITHUB_")}
    res = govops("-C", str(repo), "pr-check", "--base", "main", "--head", "cache", "--author", "dana.ds",
                 "--no-validate", "--out", str(tmp_path / "out"), env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    doc = json.loads((tmp_path / "out" / "pr-check.json").read_text())
    refused = [v for v in doc["policy"]["violations"] if v["rule"] == "state/committed"]
    assert [v["file"] for v in refused] == [".govops/profiles/p.json"] and FIX in refused[0]["message"]
    assert doc["ok"] is False and doc["statuses"][0]["state"] in ("failure", "error")
