"""engine.change.gitread: the plan read from real Git repositories (merges, renames, reverts, force-pushes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.change.gitread import WORKTREE, GitReadError, plan_between
from tests.helpers.pr_helpers import GitRepo, example_repo, minimal_spec

TRIAGE = "specs/clinical/readmission-triage.yaml"
IRIS = "specs/lab/iris-species.yaml"


@pytest.fixture()
def repo(tmp_path: Path) -> GitRepo:
    return example_repo(tmp_path / "gitops")


def by_model(plan) -> dict:
    return {e["model"]: e for e in plan.entries}


def test_pr_changes_champion_traffic_and_loosens_threshold(repo: GitRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(TRIAGE, "    champion: 1.1.0\n", "    champion: 2.0.0\n")
    repo.replace(TRIAGE, "      - {version: 2.0.0, mode: shadow}", "      - {version: 1.1.0, mode: canary, weight: 10}")
    repo.replace(TRIAGE, "thresholds: {min_roc_auc: 0.78}", "thresholds: {min_roc_auc: 0.7}")
    repo.replace(IRIS, "  tier: medium\n", "  tier: high\n")
    head = repo.commit("promote 2.0.0, loosen roc auc")

    plan = plan_between(repo.path, "main", "feature")
    assert plan.base_sha == base and plan.head_sha == head
    assert plan.changed_files == [TRIAGE, IRIS]
    entries = by_model(plan)
    assert set(entries) == {"clinical/readmission-triage", "lab/iris-species"}
    t = entries["clinical/readmission-triage"]
    assert t["change"] == "modified"
    assert t["champion"] == {"from": "1.1.0", "to": "2.0.0"}
    assert {"champion_change", "challenger_change", "traffic_change", "threshold_loosened"} <= set(t["kinds"])
    assert t["thresholds"] == [
        {"check": "performance", "threshold": "min_roc_auc", "from": 0.78, "to": 0.7, "change": "loosened"}
    ]
    assert t["traffic"]["to"]["1.1.0"] == {"role": "canary", "weight": 10}
    iris = entries["lab/iris-species"]
    assert iris["tier"] == {"from": "medium", "to": "high"} and "tier_change" in iris["kinds"]
    # moving to the high tier brings its extra required checks
    added = {x["check"] for x in iris["thresholds"] if x["change"] == "check_added"}
    assert added == {"bias", "importance", "serving_parity"}
    assert not plan.config_changed and not plan.policies_changed
    assert plan.diagnostics == []


def test_merge_base_semantics_ignore_what_main_did_since(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(IRIS, "  tier: medium\n", "  tier: high\n")
    repo.commit("iris to high")
    repo.git("checkout", "-q", "main")
    repo.replace(TRIAGE, "    champion: 1.1.0\n", "    champion: 2.0.0\n")
    repo.commit("main moves on")
    plan = plan_between(repo.path, "main", "feature")
    assert [e["model"] for e in plan.entries] == ["lab/iris-species"]
    # merging main into the branch keeps the PR's own change only
    repo.git("checkout", "-q", "feature")
    repo.git("merge", "-q", "--no-edit", "main")
    plan = plan_between(repo.path, "main", "feature")
    assert [e["model"] for e in plan.entries] == ["lab/iris-species"]
    assert plan.base_sha == repo.git("rev-parse", "main")


def test_rename_is_a_move_and_a_tenant_change_is_remove_plus_add(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("mv", IRIS, "specs/lab/iris.yaml")
    text = repo.read("specs/beverages/wine-cultivar.yaml")
    repo.git("rm", "-q", "specs/beverages/wine-cultivar.yaml")
    repo.write("specs/lab/wine-cultivar.yaml", text.replace("tenant: beverages", "tenant: lab"))
    repo.commit("move iris, hand wine to lab")
    plan = plan_between(repo.path, "main", "feature")
    e = by_model(plan)
    assert e["lab/iris-species"]["change"] == "moved"
    assert e["lab/iris-species"]["previous_file"] == IRIS and e["lab/iris-species"]["file"] == "specs/lab/iris.yaml"
    assert e["lab/iris-species"]["kinds"] == ["moved"]
    assert e["beverages/wine-cultivar"]["change"] == "removed"
    assert e["lab/wine-cultivar"]["change"] == "added"
    assert e["lab/wine-cultivar"]["file"] == "specs/lab/wine-cultivar.yaml"
    renames = [f for f in plan.files if f.status == "R"]
    # git sees two renames; govops judges by model id: the wine file now declares another model
    assert [(f.old_path, f.path) for f in renames] == [
        (IRIS, "specs/lab/iris.yaml"), ("specs/beverages/wine-cultivar.yaml", "specs/lab/wine-cultivar.yaml"),
    ]


def test_revert_leaves_nothing_to_plan(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(IRIS, "  tier: medium\n", "  tier: low\n")
    bad = repo.commit("drop iris to low")
    repo.git("revert", "--no-edit", bad)
    plan = plan_between(repo.path, "main", "feature")
    assert plan.entries == [] and plan.changed_files == []


def test_force_push_plans_the_new_head(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(IRIS, "  tier: medium\n", "  tier: low\n")
    old = repo.commit("first attempt")
    repo.git("reset", "-q", "--hard", "main")
    repo.replace(TRIAGE, "    replicas: 2\n", "    replicas: 3\n")
    repo.replace(TRIAGE, "    failover: 1.0.0\n", "    failover: 1.1.0\n")
    new = repo.commit("second attempt (force-pushed)")
    plan = plan_between(repo.path, "main", "feature")
    assert plan.head_sha == new != old
    assert [e["model"] for e in plan.entries] == ["clinical/readmission-triage"]
    assert "failover_change" in plan.entries[0]["kinds"]
    # the old head is still an object: planning it explicitly still works
    assert [e["model"] for e in plan_between(repo.path, "main", old).entries] == ["lab/iris-species"]


def test_worktree_plans_uncommitted_and_untracked_work(repo: GitRepo) -> None:
    repo.replace(IRIS, "{version: 1.1.0, mode: canary, weight: 20}", "{version: 1.1.0, mode: canary, weight: 25}")
    repo.write("specs/lab/new-model.yaml", minimal_spec("lab", "new-model"))
    repo.write("policies/extra.rego", "package govops.extra\n")
    plan = plan_between(repo.path, "main", WORKTREE)
    assert plan.head_sha == WORKTREE
    e = by_model(plan)
    assert e["lab/new-model"]["change"] == "added"
    assert e["lab/new-model"]["new_versions"] == ["1.0.0"]
    assert plan.policies_changed and plan.policy_files == ["policies/extra.rego"]
    assert [f.status for f in plan.files if f.path == "specs/lab/new-model.yaml"] == ["A"]
    iris = e["lab/iris-species"]
    assert iris["kinds"] == ["traffic_change"]
    assert iris["traffic"]["from"]["1.1.0"]["weight"] == 20 and iris["traffic"]["to"]["1.1.0"]["weight"] == 25


def test_specs_index_loads_unchanged_models_on_demand(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(IRIS, "  tier: medium\n", "  tier: low\n")
    repo.commit("iris low")
    plan = plan_between(repo.path, "main", "feature")
    assert set(plan.head_specs.loaded) == {"lab/iris-species"}
    assert plan.head_specs["lab/iris-species"].spec.spec.tier == "low"
    assert plan.base_specs["lab/iris-species"].spec.spec.tier == "medium"
    assert "clinical/readmission-triage" in plan.head_specs  # unchanged: loaded from the tree on demand
    assert len(plan.head_specs) == 6 and len(plan.base_specs) == 6
    assert plan.head_specs["clinical/readmission-triage"].file == TRIAGE


def test_config_change_is_planned_with_loosened_defaults(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace("govops.yaml", "performance: {min_accuracy: 0.7, min_roc_auc: 0.75, min_r2: 0.3, max_slice_gap: 0.1}",
                 "performance: {min_accuracy: 0.6, min_roc_auc: 0.75, min_r2: 0.3, max_slice_gap: 0.1}")
    repo.replace("govops.yaml", "approvals: {count: 2, groups: [risk]}", "approvals: {count: 1}")
    repo.commit("loosen high tier")
    plan = plan_between(repo.path, "main", "feature")
    assert plan.config_changed and plan.entries == []
    changes = {(c["what"], c.get("threshold"), c["change"]) for c in plan.config_changes}
    assert ("default_threshold", "min_accuracy", "loosened") in changes
    assert ("approvals", None, "loosened") in changes


def test_duplicate_model_in_a_new_file_is_refused(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    # a second spec for the high-tier model, declaring it low tier: not a "new model"
    text = repo.read(TRIAGE).replace("  tier: high\n", "  tier: low\n")
    repo.write("specs/lab/innocent.yaml", text)
    repo.commit("sneak")
    plan = plan_between(repo.path, "main", "feature")
    assert plan.entries == []
    dup = [d for d in plan.diagnostics if d.rule == "spec/duplicate-id"]
    assert len(dup) == 1 and dup[0].file == "specs/lab/innocent.yaml" and dup[0].line == 7
    assert TRIAGE in dup[0].message
    assert plan.head_specs["clinical/readmission-triage"].file == TRIAGE


def test_invalid_spec_at_head_is_a_diagnostic_not_a_removal(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(IRIS, "  tier: medium\n", "  tier: medium\n  colour: blue\n")
    repo.commit("typo")
    plan = plan_between(repo.path, "main", "feature")
    assert plan.entries == []
    assert [(d.file, d.line, d.severity) for d in plan.diagnostics][:1] == [(IRIS, 13, "error")]


# --- bad input ------------------------------------------------------------------------------------------


def test_base_ref_that_does_not_exist(repo: GitRepo) -> None:
    with pytest.raises(GitReadError) as exc:
        plan_between(repo.path, "origin/nope", "HEAD")
    assert exc.value.exit_code == 2
    assert "base ref 'origin/nope' does not exist" in exc.value.message


def test_unrelated_history(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "--orphan", "other")
    repo.write("README", "another project\n")
    repo.commit("unrelated root")
    with pytest.raises(GitReadError) as exc:
        plan_between(repo.path, "main", "other")
    assert "unrelated histories" in exc.value.message


def test_refs_starting_with_dash_are_never_options(repo: GitRepo, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    for ref in (f"--output={target}", "--all", "-h"):
        with pytest.raises(GitReadError) as exc:
            plan_between(repo.path, ref, "HEAD")
        assert f"base ref '{ref}' does not exist" in exc.value.message
        assert "never starts with '-'" in exc.value.message
        with pytest.raises(GitReadError):
            plan_between(repo.path, "main", ref)
    assert not target.exists()


def test_paths_starting_with_dash_are_read_as_files(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("specs/lab/--output=x.yaml", minimal_spec("lab", "dash-one"))
    repo.write("specs/-rf.yaml", minimal_spec("lab", "dash-two"))
    repo.commit("dashes")
    plan = plan_between(repo.path, "main", "feature")
    assert {e["model"]: e["file"] for e in plan.entries} == {
        "lab/dash-one": "specs/lab/--output=x.yaml", "lab/dash-two": "specs/-rf.yaml",
    }
    assert not (repo.path / "x.yaml").exists()


def test_binary_files(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("specs/lab/logo.png", bytes(range(256)) * 4)
    repo.write("specs/lab/blob.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 10)
    repo.write("policies/bundle.tar.gz", b"\x1f\x8b\x08\x00" + bytes(200))
    repo.commit("binary files")
    plan = plan_between(repo.path, "main", "feature")
    assert plan.entries == []
    assert "specs/lab/logo.png" in plan.changed_files
    assert plan.policies_changed and plan.policy_files == ["policies/bundle.tar.gz"]
    errors = [d for d in plan.diagnostics if d.severity == "error"]
    assert [d.file for d in errors] == ["specs/lab/blob.yaml"]


def test_shallow_clone_without_the_base_says_how_to_fetch(repo: GitRepo, tmp_path: Path) -> None:
    base = repo.git("rev-parse", "main")
    repo.git("checkout", "-q", "-b", "feature")
    for i in range(3):
        repo.replace(IRIS, f"  tier: {'medium' if i == 0 else 'low' if i == 1 else 'high'}\n",
                     f"  tier: {'low' if i == 0 else 'high' if i == 1 else 'medium'}\n")
        repo.commit(f"step {i}")
    clone = GitRepo(tmp_path / "ci")
    GitRepo(tmp_path).git("clone", "-q", "--depth", "1", "--branch", "feature",
                          f"file://{repo.path}", str(clone.path))
    with pytest.raises(GitReadError) as exc:
        plan_between(clone.path, base, "HEAD")
    assert "shallow clone" in exc.value.message and "fetch-depth: 0" in exc.value.message
    assert "git fetch --deepen" in exc.value.message
    # the base commit fetched (depth 1) but no common history yet: same advice
    clone.git("fetch", "-q", "--depth", "1", "origin", "main")
    with pytest.raises(GitReadError) as exc:
        plan_between(clone.path, "FETCH_HEAD", "HEAD")
    assert "no common ancestor" in exc.value.message and "fetch-depth: 0" in exc.value.message
    clone.git("fetch", "-q", "--unshallow", "origin")
    assert plan_between(clone.path, base, "HEAD").entries == []  # the three steps cancel out


def test_not_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(GitReadError, match="not inside a Git repository"):
        plan_between(tmp_path, "main", "HEAD")


def test_root_in_a_subdirectory_of_the_repository(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "mono" / "ml")
    outer = GitRepo(tmp_path / "mono")
    # make the outer directory the repository: move .git up
    (repo.path / ".git").rename(outer.path / ".git")
    outer.git("add", "-A")
    outer.git("commit", "-q", "-m", "move into ml/")
    outer.git("checkout", "-q", "-b", "feature")
    outer.replace("ml/" + IRIS, "  tier: medium\n", "  tier: low\n")
    outer.write("specs-elsewhere.yaml", minimal_spec("lab", "outside"))
    outer.commit("iris low")
    plan = plan_between(repo.path, "main", "feature")
    assert [e["model"] for e in plan.entries] == ["lab/iris-species"]
    assert plan.changed_files == [IRIS]


@pytest.mark.slow
def test_ten_thousand_file_diff(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.change.gitread as gitread

    repo.git("checkout", "-q", "-b", "feature")
    for i in range(10_000):
        repo.write(f"specs/bulk/m{i:05d}.yaml", minimal_spec("lab", f"m{i:05d}"))
    repo.commit("ten thousand models")
    calls: list[tuple[str, ...]] = []
    real_run_git = gitread.run_git

    def counting_run_git(r: object, *args: str, **kw: object) -> object:
        calls.append(args)
        return real_run_git(r, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(gitread, "run_git", counting_run_git)
    plan = plan_between(repo.path, "main", "feature")
    assert len(plan.entries) == 10_000 and all(e["change"] == "added" for e in plan.entries)
    assert len(plan.changed_files) == 10_000 and plan.diagnostics == []
    # the cost is in the number of git processes, not in seconds (timings live in benchmarks/plan.py):
    # a handful of git runs for the whole diff, never one per file
    assert 0 < len(calls) < 50, [c[:2] for c in calls[:60]]
