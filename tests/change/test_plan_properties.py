"""Property-based plan: ``diff_specs(a, b)`` and ``diff_specs(b, a)`` are inverses (issue #22, item 3).

Hypothesis draws pairs of valid specs of one model (versions and their digests, champion,
challengers with modes and weights, failover, tier, per-check thresholds, owners) and checks
that swapping the two sides swaps every "from"/"to" and every added/removed list, turns each
tightened threshold into a loosened one (and a check added into a check removed), and names
the same symmetric change kinds. A plan that missed a change in one direction (so a policy
guarded by that change would not see it) would break the symmetry.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.change.plan import diff_specs
from engine.spec.model import ModelSpec
from engine.spec.workspace import load_workspace
from tests.conftest import PROJECT

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget

CONFIG = load_workspace(PROJECT).config
VERSIONS = ("1.0.0", "1.1.0", "2.0.0")
DIGESTS = ("a" * 64, "b" * 64)
SWAP_KINDS = {
    "new_model": "removed_model", "removed_model": "new_model",
    "new_version": "removed_version", "removed_version": "new_version",
    "threshold_tightened": "threshold_loosened", "threshold_loosened": "threshold_tightened",
    "check_added": "check_removed", "check_removed": "check_added",
}
SWAP_CHANGE = {"added": "removed", "removed": "added", "tightened": "loosened", "loosened": "tightened",
               "check_added": "check_removed", "check_removed": "check_added"}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec document of lab/iris-species (as YAML would load it)."""
    ids = draw(st.lists(st.sampled_from(VERSIONS), min_size=1, max_size=3, unique=True))
    versions = [{"id": v, "artifact": {"uri": f"s3://bucket/lab/iris/{v}/model.joblib",
                                       "sha256": draw(st.sampled_from(DIGESTS))},
                 "runtime": "mlserver_sklearn.SKLearnModel"} for v in ids]
    champion = draw(st.sampled_from(ids))
    rest = [v for v in ids if v != champion]
    challengers = []
    for v in draw(st.lists(st.sampled_from(rest), unique=True)) if rest else []:
        mode = draw(st.sampled_from(["shadow", "canary", "ab"]))
        ch: dict[str, Any] = {"version": v, "mode": mode}
        if mode != "shadow":
            ch["weight"] = draw(st.sampled_from([5, 10, 20, 50]))
        challengers.append(ch)
    deployment: dict[str, Any] = {"champion": champion, "challengers": challengers}
    spare = [v for v in rest if v not in {c["version"] for c in challengers}]
    if spare and draw(st.booleans()):
        deployment["failover"] = draw(st.sampled_from(spare))
    checks: dict[str, Any] = {}
    if draw(st.booleans()):
        checks["performance"] = {"thresholds": {"min_accuracy": draw(st.sampled_from([0.6, 0.7, 0.8]))}}
    if draw(st.booleans()):
        checks["drift"] = {"thresholds": {"max_psi": draw(st.sampled_from([0.1, 0.2, 0.3]))}}
    spec: dict[str, Any] = {
        "tier": draw(st.sampled_from(["low", "medium", "high"])),
        "task": "classification",
        "interface": {"inputs": [{"name": "x", "type": "float"}], "outputs": [{"name": "y", "type": "integer"}]},
        "versions": versions,
        "deployment": deployment,
    }
    if checks or draw(st.booleans()):
        spec["validation"] = {"referenceData": {"uri": "data/ref.csv"}, "evaluationData": {"uri": "data/eval.csv"},
                              "label": "y", "checks": checks}
    owners = draw(st.sampled_from([["kim.ds"], ["kim.ds", "lee.ml"]]))
    return {"apiVersion": "govops/v1", "kind": "Model",
            "metadata": {"name": "iris-species", "tenant": "lab", "owners": owners}, "spec": spec}


def _swap_from_to(d: dict[str, Any]) -> dict[str, Any]:
    return {"from": d["to"], "to": d["from"]}


def _threshold_key(t: dict[str, Any]) -> tuple[str, str | None]:
    return (t["check"], t["threshold"])


def _assert_inverse(ab: dict[str, Any], ba: dict[str, Any]) -> None:
    assert ab["model"] == ba["model"]
    assert ba["change"] == SWAP_CHANGE.get(ab["change"], ab["change"])
    assert (ab["file"], ab["previous_file"]) == (ba["previous_file"], ba["file"])
    assert set(ab["new_versions"]) == set(ba["removed_versions"])
    assert set(ab["removed_versions"]) == set(ba["new_versions"])
    assert set(ab["changed_artifacts"]) == set(ba["changed_artifacts"])
    assert set(ab["changed_versions"]) == set(ba["changed_versions"])
    for key in ("champion", "traffic", "tier"):
        assert ba[key] == _swap_from_to(ab[key]), key
    forward = {_threshold_key(t): t for t in ab["thresholds"]}
    backward = {_threshold_key(t): t for t in ba["thresholds"]}
    assert forward.keys() == backward.keys()
    for k, t in forward.items():
        u = backward[k]
        assert (u["from"], u["to"]) == (t["to"], t["from"]), k
        assert u["change"] == SWAP_CHANGE[t["change"]], k
    assert sorted(SWAP_KINDS.get(k, k) for k in ab["kinds"]) == sorted(ba["kinds"])


BOUNDED = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(a=specs(), b=specs())
def test_plan_of_b_to_a_is_the_inverse_of_a_to_b(a: dict[str, Any], b: dict[str, Any]) -> None:
    sa, sb = ModelSpec.model_validate(a), ModelSpec.model_validate(b)
    f = "specs/lab/iris.yaml"
    _assert_inverse(diff_specs(sa, sb, base_file=f, head_file=f), diff_specs(sb, sa, base_file=f, head_file=f))
    # with the project's govops.yaml: tier defaults join the thresholds (a tier change moves many at once)
    cfg = CONFIG
    _assert_inverse(diff_specs(sa, sb, base_file=f, head_file=f, config=cfg),
                    diff_specs(sb, sa, base_file=f, head_file=f, config=cfg))


@BOUNDED
@given(a=specs(), b=specs())
def test_a_move_reads_back_as_the_reverse_move(a: dict[str, Any], b: dict[str, Any]) -> None:
    sa, sb = ModelSpec.model_validate(a), ModelSpec.model_validate(b)
    ab = diff_specs(sa, sb, base_file="specs/lab/old.yaml", head_file="specs/lab/new.yaml")
    ba = diff_specs(sb, sa, base_file="specs/lab/new.yaml", head_file="specs/lab/old.yaml")
    assert ab["change"] == ba["change"] == "moved"
    _assert_inverse(ab, ba)


@BOUNDED
@given(a=specs())
def test_adding_then_removing_a_model_are_inverses_and_a_spec_equals_itself(a: dict[str, Any]) -> None:
    sa = ModelSpec.model_validate(a)
    added = diff_specs(None, sa, head_file="specs/lab/iris.yaml")
    removed = diff_specs(sa, None, base_file="specs/lab/iris.yaml")
    assert added["change"] == "added" and removed["change"] == "removed"
    assert set(added["new_versions"]) == {v["id"] for v in a["spec"]["versions"]}
    _assert_inverse(added, removed)
    same = diff_specs(sa, ModelSpec.model_validate(a), base_file="specs/lab/iris.yaml",
                      head_file="specs/lab/iris.yaml")
    assert same["change"] == "unchanged" and same["kinds"] == [] and same["thresholds"] == []
