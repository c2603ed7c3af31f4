"""A re-check of every model prepares its inputs where the specs load, and decides exactly as the scope path.

``run_check(all_models=True)`` builds each input, its decision-cache key and its compact
text inside the spec-loading workers (``engine.policy.prepare``); naming the same models
takes the scope path, which builds them in govops. Both must report the same findings at
the same file:line and compute the same keys, and a library that reads the run documents
directly (where the compact form would leave it blind) must get full inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.policy.check import run_check
from engine.policy.compact import direct_reads
from engine.policy.regopy_backend import RegopyBackend
from engine.spec import workspace
from engine.spec.settings import Settings
from tests.conftest import copy_example_repo
from tests.policy.test_policy_check import put_nan_threshold

NOW = "2026-11-01T00:00:00+00:00"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    spec = repo / "specs/lab/iris-species.yaml"
    spec.write_text(spec.read_text().replace("runtime: mlserver_sklearn.SKLearnModel", "runtime: custom.Runtime", 1))
    return repo


def _findings(out: Any) -> list[tuple[str, str, int, int, str | None]]:
    return sorted((d.rule, d.file, d.line, d.col, d.model) for d in out.findings.diagnostics)


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "worker-processes"])
@pytest.mark.slow
def test_recheck_of_every_model_matches_the_scope_path(
    repo: Path, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if parallel:
        monkeypatch.setattr(workspace, "PARALLEL_THRESHOLD", 2)
    settings = Settings(now=NOW, policy_cache=False)
    every = run_check(repo, all_models=True, settings=settings)
    ids = sorted(d["model"] for d in every.decisions)
    named = run_check(repo, models=ids, settings=settings)
    assert len(ids) == 6 and every.findings.models_checked == 6
    assert _findings(every) == _findings(named)
    runtime = [f for f in _findings(every) if f[4] == "lab/iris-species" and f[0].startswith("GOV-ART")]
    assert runtime and runtime[0][1] == "specs/lab/iris-species.yaml" and runtime[0][2] > 1
    assert {d["model"]: d["input_digest"] for d in every.decisions} == {
        d["model"]: d["input_digest"] for d in named.decisions
    }
    assert every.inputs == [] and len(named.inputs) == 6  # the re-check path never holds every document


@pytest.mark.slow
def test_decisions_cached_by_one_path_are_reused_by_the_other(repo: Path) -> None:
    settings = Settings(now=NOW)
    first = run_check(repo, all_models=True, settings=settings)
    ids = [d["model"] for d in first.decisions]
    again = run_check(repo, models=ids, settings=settings)
    assert not any(d["cached"] for d in first.decisions)
    assert all(d["cached"] for d in again.decisions)
    assert _findings(first) == _findings(again)


def test_a_spec_the_input_cannot_express_is_reported_from_a_worker(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace, "PARALLEL_THRESHOLD", 2)
    line = put_nan_threshold(repo)  # refused when the spec loads in the worker (as lint does), at its line
    res = run_check(repo, all_models=True, settings=Settings(policy_cache=False))
    errors = [d for d in res.findings.diagnostics if d.severity == "error"]
    assert [(d.file, d.line) for d in errors] == [("specs/lab/iris-species.yaml", line)]
    assert "must be a finite number (got nan)" in errors[0].message


def test_direct_reads_finds_what_the_compact_form_would_hide() -> None:
    found = direct_reads({
        "policies/a.rego": 'package a\n# input.config in a comment is fine\nx := input.config.riskGroup\n',
        "policies/b.rego": 'package b\nm := "the input is fine in a string"\ny := json.marshal(input)\n',
        "policies/c.rego": "package c\nz := input[\"waivers\"]\nok := input.spec.metadata\n",
        "policies/lib.rego": "package govops.lib\nconfig := input.config if {\n\tinput.config\n}\n",
    })
    assert found == [
        "policies/a.rego:3: x := input.config.riskGroup",
        "policies/b.rego:3: y := json.marshal(input)",
        "policies/c.rego:2: z := input[\"waivers\"]",
        "policies/lib.rego: no fallback `else := data.govops_run.config`",
        "policies/lib.rego: no fallback `else := data.govops_run.freezes`",
        "policies/lib.rego: no fallback `else := data.govops_run.waivers`",
    ]


@pytest.mark.slow
def test_a_rule_reading_the_config_directly_gets_full_inputs(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "policies/direct.rego").write_text(
        "package govops.meta\n\nimport rego.v1\n\n"
        "warn contains v if {\n"
        "\tinput.config.riskGroup == \"risk\"\n"
        "\tv := {\"rule\": \"DIRECT-1\", \"path\": \"metadata\", \"message\": \"read govops.yaml directly\"}\n"
        "}\n"
    )
    sent: list[dict[str, Any]] = []
    original = RegopyBackend.evaluate_many

    def spy(self: RegopyBackend, items: Any) -> Any:
        sent.extend(json.loads(text) for _, text in items)
        return original(self, items)

    monkeypatch.setattr(RegopyBackend, "evaluate_many", spy)
    out = run_check(repo, all_models=True, settings=Settings(now=NOW, policy_cache=False))
    assert len(sent) == 6 and all("config" in doc and "previous" in doc for doc in sent)
    assert sorted(d.model for d in out.findings.diagnostics if d.rule == "DIRECT-1") == sorted(
        d["model"] for d in out.decisions
    )


@pytest.mark.slow
def test_the_prestarted_backend_is_the_one_that_decides(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend compiled beside spec loading is taken when its run documents match (compared by digest)."""
    from engine.policy import check as driver

    taken: list[bool] = []
    original = driver._Prestart.backend_for

    def spy(self: Any, library: Any, run: Any) -> Any:
        backend = original(self, library, run)
        taken.append(backend is not None)
        return backend

    monkeypatch.setattr(driver._Prestart, "backend_for", spy)
    run_check(repo, all_models=True, settings=Settings(now=NOW, policy_cache=False))
    assert taken == [True]
    (repo / "govops.yaml").write_text((repo / "govops.yaml").read_text() + "\n")  # same documents, same digest
    run_check(repo, models=["lab/iris-species"], settings=Settings(now=NOW, policy_cache=False))
    assert taken == [True, True]
