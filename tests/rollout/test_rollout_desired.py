"""Desired state at a Git ref, its digest, and the diff against a live state (no servers)."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.rollout.desired import load_desired
from engine.rollout.diff import LiveState, LiveVersion, plan_changes, render_diff
from engine.spec.errors import InputError
from tests.helpers.rollout_repo import commit, git, make_repo, set_deployment

IRIS = "lab/iris-species"
WINE = "beverages/wine-cultivar"


def live_of(state) -> LiveState:
    """What a target would report after serving ``state`` exactly."""
    live = LiveState(commit=state.commit, digest=state.digest)
    for m in state.models.values():
        for v in m.versions:
            live.models.setdefault(m.model, {})[v.version] = LiveVersion(
                m.model, v.version, v.role, v.weight, v.artifact_uri, v.sha256, v.runtime, v.settings, True
            )
    return live


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


def test_desired_state_lists_roles_artifacts_and_settings(repo):
    state = load_desired(repo, "HEAD")
    assert state.commit == git(repo, "rev-parse", "HEAD").strip()
    assert sorted(state.models) == [WINE, IRIS]
    iris = state.models[IRIS]
    assert [(v.version, v.role, v.weight) for v in iris.versions] == [("1.0.0", "champion", None),
                                                                      ("1.1.0", "canary", 20.0)]
    v = iris.version("1.1.0")
    assert v.artifact_uri == "artifacts/models/lab/iris-species/1.1.0/model.joblib"
    assert v.sha256 and len(v.sha256) == 64
    assert v.settings["name"] == "lab--iris-species" and v.settings["parameters"]["version"] == "1.1.0"
    assert iris.inputs == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert iris.evaluation_uri == "artifacts/data/iris/evaluation.csv"
    assert state.namespace("production") == "models"


def test_digest_is_stable_across_commits_and_moves_with_the_state(repo):
    first = load_desired(repo, "HEAD")
    commit(repo, "an unrelated commit")
    assert load_desired(repo, "HEAD").digest == first.digest
    set_deployment(repo, IRIS, "    champion: 1.0.0\n    challengers:\n"
                               "      - {version: 1.1.0, mode: canary, weight: 30}\n")
    commit(repo, "more canary traffic")
    assert load_desired(repo, "HEAD").digest != first.digest
    assert load_desired(repo, "HEAD~2").digest == first.digest


def test_ref_reads_the_commit_not_the_working_tree(repo):
    set_deployment(repo, IRIS, "    champion: 1.1.0\n")  # not committed
    assert load_desired(repo, "HEAD").models[IRIS].champion.version == "1.0.0"
    assert load_desired(repo, "WORKTREE").models[IRIS].champion.version == "1.1.0"


@pytest.mark.parametrize("ref", ["no-such-branch", "-rf", "deadbeef" * 5])
def test_a_ref_that_does_not_exist_exits_2(repo, capsys, ref):
    assert main(["-C", str(repo), "rollout", f"--ref={ref}", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err or "not a valid" in err
    assert "Traceback" not in err


def test_an_invalid_spec_at_the_ref_is_an_input_error_with_its_location(repo):
    spec = repo / "specs/lab/iris-species.yaml"
    spec.write_text(spec.read_text().replace("  task: classification\n", "  task: clustering\n"))
    commit(repo, "bad task")
    with pytest.raises(InputError) as err:
        load_desired(repo, "HEAD")
    assert err.value.file == "specs/lab/iris-species.yaml" and err.value.line == 13


def test_plan_orders_loads_routes_then_unloads(repo):
    before = load_desired(repo, "HEAD")
    set_deployment(repo, IRIS, "    champion: 1.1.0\n    failover: 1.0.0\n")
    git(repo, "rm", "-q", "specs/beverages/wine-cultivar.yaml")
    commit(repo, "promote, drop wine")
    after = load_desired(repo, "HEAD")
    changes = plan_changes(after, live_of(before))
    assert [(c.action, c.model, c.version, c.role) for c in changes] == [
        ("route", IRIS, "1.1.0", "champion"),
        ("route", IRIS, "1.0.0", "failover"),
        ("unload", WINE, "1.0.0", "champion"),
    ]
    assert plan_changes(after, live_of(after)) == []
    text = render_diff(after, live_of(before), changes)
    assert "--- live/beverages/wine-cultivar\n+++ desired/beverages/wine-cultivar\n" in text
    assert "-  role: canary\n" in text and "out of sync: 2 model(s): 2 to route, 1 to unload" in text
    assert "in sync: 1 model(s)" in render_diff(after, live_of(after), [])


def test_changed_artifact_or_unready_version_is_reloaded(repo):
    state = load_desired(repo, "HEAD")
    live = live_of(state)
    live.models[IRIS]["1.0.0"].sha256 = "0" * 64
    live.models[WINE]["1.0.0"].ready = False
    changes = {(c.action, c.model, c.version): c.detail for c in plan_changes(state, live)}
    assert changes == {("replace", IRIS, "1.0.0"): "sha256 changed", ("load", WINE, "1.0.0"): "not ready: reload"}


def test_dry_run_prints_the_diff_and_starts_nothing(repo, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GOVOPS_SERVING_DIR", str(tmp_path / "serving"))
    assert main(["-C", str(repo), "rollout", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+ load    lab/iris-species 1.1.0 (canary 20%) — new version" in out
    assert "out of sync: 2 model(s): 3 to load" in out
    assert not (tmp_path / "serving" / "server.json").exists()
