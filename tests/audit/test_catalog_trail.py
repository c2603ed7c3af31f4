"""``govops catalog`` for auditors: ledger facts, health, CSV, ``--ref`` and the lineage tree."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.helpers.audit_helpers import IRIS, History, build_history, govops

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("catalog") / "repo")


def _catalog(h: History, *extra: str) -> dict:
    res = govops("-C", str(h.path), "catalog", "--format", "json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_json_keeps_foundation_fields_and_adds_trail(history: History) -> None:
    doc = _catalog(history)
    iris = next(m for m in doc["models"] if m["id"] == IRIS)
    for key in ("id", "tenant", "name", "tier", "file", "champion", "versions", "owners", "challengers", "failover"):
        assert key in iris
    assert iris["file"] == "specs/lab/iris.yaml" and iris["owners"] == ["kim.ds"]
    assert iris["last_rollout"] == {"commit": history.shas["merge"], "recorded": "2026-01-10T12:00:00Z",
                                    "outcome": "succeeded", "target": "local", "digest": iris["last_rollout"]["digest"]}
    assert len(iris["last_rollout"]["digest"]) == 64
    assert iris["last_validation"]["outcome"] == "pass"
    assert iris["last_validation"]["checks"]["performance"] == "pass"
    assert iris["health"] is None  # monitoring never ran here
    wine = next(m for m in doc["models"] if m["id"] == "beverages/wine-cultivar")
    assert wine["last_rollout"] is None and wine["last_validation"] is None


def test_health_from_monitoring_state(history: History) -> None:
    state = history.path / ".govops" / "monitoring" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"models": {IRIS: {"health": {"score": 0.42, "red": True, "is_critical": False},
                                                   "updated": "2026-03-01T02:00:00+00:00"}}}))
    try:
        iris = next(m for m in _catalog(history)["models"] if m["id"] == IRIS)
        assert iris["health"] == {"score": 0.42, "red": True, "critical": False, "updated": "2026-03-01T02:00:00+00:00"}
        text = govops("-C", str(history.path), "catalog").stdout
        assert "HEALTH" in text and "0.42" in text
    finally:
        state.unlink()


def test_csv(history: History) -> None:
    res = govops("-C", str(history.path), "catalog", "--format", "csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 6
    iris = next(r for r in rows if r["id"] == IRIS)
    assert iris["champion"] == "1.1.0" and iris["versions"] == "1.0.0;1.1.0"
    assert iris["digests"].startswith("1.0.0=8dc7de4fc501")
    assert iris["last_rollout"] == f"succeeded@{history.shas['merge'][:12]}"


def test_catalog_at_a_ref(history: History) -> None:
    doc = _catalog(history, "--ref", history.shas["initial"])
    iris = next(m for m in doc["models"] if m["id"] == IRIS)
    assert iris["champion"] == "1.0.0" and iris["file"] == "specs/lab/iris-species.yaml"
    assert iris["challengers"] == [{"version": "1.1.0", "mode": "canary", "weight": 20.0}]
    bad = govops("-C", str(history.path), "catalog", "--ref", "no-such-branch")
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_lineage_tree(history: History) -> None:
    res = govops("-C", str(history.path), "catalog", "clinical/readmission-triage", "--lineage", "--format", "json")
    assert res.returncode == 0, res.stderr
    tree = json.loads(res.stdout)
    [root] = tree["tree"]
    assert root["id"] == "1.0.0" and root["role"] == "failover"
    assert root["children"][0]["id"] == "1.1.0" and root["children"][0]["role"] == "champion"
    leaf = root["children"][0]["children"][0]
    assert leaf["id"] == "2.0.0" and leaf["role"] == "shadow" and leaf["parent"] == "1.1.0"
    assert leaf["code_commit"] == "a3f9c2e2" and leaf["training_data_sha256"].startswith("dd6f0a9e")
    text = govops("-C", str(history.path), "catalog", "clinical/readmission-triage", "--lineage").stdout
    assert text.splitlines()[1].startswith("  1.0.0 [failover]") and text.splitlines()[3].startswith("      2.0.0")


def test_lineage_needs_a_known_model(history: History) -> None:
    res = govops("-C", str(history.path), "catalog", "--lineage")
    assert res.returncode == 2 and "--lineage needs a MODEL" in res.stderr
    res = govops("-C", str(history.path), "catalog", "lab/nope", "--lineage")
    assert res.returncode == 2 and "model 'lab/nope' is not declared" in res.stderr
