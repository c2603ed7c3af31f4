"""The CLI skeleton: help, init, catalog JSON, exit codes, loader details."""

from __future__ import annotations

import json
import re

import pytest

from engine.spec.loader import YamlError, parse_yaml
from tests.conftest import govops


def test_help_lists_every_command():
    result = govops("--help")
    assert result.returncode == 0
    for command in ("init", "lint", "catalog", "schema"):
        assert f"    {command} " in result.stdout


def test_no_command_is_a_usage_error():
    assert govops().returncode == 2


def test_unknown_flag_is_a_usage_error():
    result = govops("lint", "--no-such-flag")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


@pytest.mark.slow
def test_catalog_json_interface(project_root):
    result = govops("catalog", "--format", "json", cwd=project_root)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    ids = [m["id"] for m in doc["models"]]
    assert ids == sorted(ids)
    assert len(ids) == 6
    triage = next(m for m in doc["models"] if m["id"] == "clinical/readmission-triage")
    for key in ("id", "tenant", "name", "tier", "file", "champion", "versions"):
        assert key in triage
    assert triage["tenant"] == "clinical"
    assert triage["tier"] == "high"
    assert triage["file"] == "specs/clinical/readmission-triage.yaml"
    assert triage["champion"] == "1.1.0"
    assert [v["id"] for v in triage["versions"]] == ["1.0.0", "1.1.0", "2.0.0"]
    assert all(len(v["sha256"]) == 64 for v in triage["versions"])
    tiers = {m["tier"] for m in doc["models"]}
    tenants = {m["tenant"] for m in doc["models"]}
    assert tiers == {"low", "medium", "high"}
    assert len(tenants) >= 3


@pytest.mark.slow
def test_catalog_text(project_root):
    result = govops("catalog", cwd=project_root)
    assert re.search(r"^clinical/readmission-triage +high +1\.1\.0 ", result.stdout, re.M)
    assert "2.0.0(shadow)" in result.stdout
    assert result.stdout.strip().endswith("6 model(s)")


@pytest.mark.slow
def test_init_scaffolds_a_repo_that_lints(tmp_path):
    target = tmp_path / "new-repo"
    result = govops("init", str(target))
    assert result.returncode == 0, result.stderr
    for rel in ("govops.yaml", "specs/example/iris-species.yaml", "artifacts/data/iris/reference.csv"):
        assert (target / rel).is_file()
    lint = govops("-C", str(target), "lint")
    assert lint.returncode == 0, lint.stdout
    catalog = json.loads(govops("-C", str(target), "catalog", "--format", "json").stdout)
    assert [m["id"] for m in catalog["models"]] == ["example/iris-species"]


@pytest.mark.slow
def test_init_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = govops("init", str(tmp_path))
    assert result.returncode == 2
    assert "never overwrites" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_schema_command_prints_model_schema():
    doc = json.loads(govops("schema").stdout)
    assert doc["title"] == "ModelSpec"
    assert "apiVersion" in doc["properties"]


def test_yaml_12_semantics():
    doc = parse_yaml(b"a: yes\nb: 010\nc: 0x1F\nd: .inf\ne: ~\nf: '1.0'\n", "x.yaml")
    assert doc.data == {"a": "yes", "b": 10, "c": 31, "d": float("inf"), "e": None, "f": "1.0"}


def test_positions_are_one_based():
    doc = parse_yaml(b"a:\n  b: [1, 2]\n  c:\n    - x\n", "x.yaml")
    assert doc.position(("a",)) == (1, 1)
    assert doc.position(("a", "b")) == (2, 3)
    assert doc.position(("a", "c", 0)) == (4, 7)
    assert doc.position(("a", "c", 0, "missing")) == (4, 7)


def test_flow_mapping_with_url_falls_back_to_pure_parser():
    # libyaml rejects a plain URL inside a flow mapping; YAML 1.2 allows it
    doc = parse_yaml(b"code: {repo: https://example.com/x, commit: abc1234}\n", "x.yaml")
    assert doc.data["code"]["repo"] == "https://example.com/x"


def test_multiple_documents_are_refused():
    with pytest.raises(YamlError) as exc:
        parse_yaml(b"a: 1\n---\nb: 2\n", "x.yaml")
    assert "one spec per file" in exc.value.message
    assert exc.value.line == 2


def test_compact_document_rebuilds_positions_from_its_source():
    import pickle

    raw = b"a:\n  b: [1, 2]\n  c:\n    - x\n"
    doc = parse_yaml(raw, "x.yaml")
    light = pickle.loads(pickle.dumps(doc.compact(raw)))
    assert light.data is None and light.positions == {}
    assert light.position(("a", "c", 0)) == doc.position(("a", "c", 0)) == (4, 7)
    assert light.positions == doc.positions


@pytest.mark.parametrize("command", [["ledger", "show"], ["audit", "lab/iris-species"], ["verify"], ["report"]])
@pytest.mark.slow
def test_history_commands_outside_git_are_input_errors(tmp_path, command):
    result = govops("-C", str(tmp_path), *command)
    assert result.returncode == 2, result.stderr
    assert "is not inside a Git repository" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
