"""govops check / policy input / policy test: real Rego through regopy on the example repo."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from engine.policy.check import run_check
from engine.policy.errors import PolicyError, PolicyInputError
from engine.spec.errors import InputError
from engine.spec.settings import Settings
from tests.conftest import PROJECT, copy_example_repo, govops


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    env.update(extra)
    return env


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_example_repo(tmp_path / "repo", git=False)


@pytest.mark.slow
def test_examples_pass_the_default_library_on_recheck(repo: Path) -> None:
    res = govops("-C", str(repo), "check", "--all", "--format", "json", env=_env())
    assert res.returncode == 0, res.stderr + res.stdout
    doc = json.loads(res.stdout)
    assert doc["ok"] is True
    assert doc["models_checked"] == 6
    assert [v for v in doc["violations"] if v["severity"] == "error"] == []


@pytest.mark.slow
def test_deny_maps_to_file_line_and_exit_1(repo: Path) -> None:
    spec = repo / "specs/clinical/readmission-triage.yaml"
    text = spec.read_text()
    assert "runtime: mlserver_sklearn.SKLearnModel" in text
    spec.write_text(text.replace("runtime: mlserver_sklearn.SKLearnModel", "runtime: custom.Runtime", 1))
    line = next(i for i, ln in enumerate(spec.read_text().splitlines(), 1) if "custom.Runtime" in ln)
    res = govops("-C", str(repo), "check", "--all", "--format", "json", env=_env())
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    hits = [v for v in doc["violations"] if v["rule"] == "GOV-ART-002"]
    assert hits == [
        {
            "rule": "GOV-ART-002",
            "severity": "error",
            "model": "clinical/readmission-triage",
            "file": "specs/clinical/readmission-triage.yaml",
            "line": line,
            "col": hits[0]["col"],
            "message": hits[0]["message"],
            "path": "spec.versions[0].runtime",
        }
    ]
    assert "custom.Runtime" in hits[0]["message"] and "mlserver_sklearn.SKLearnModel" in hits[0]["message"]
    gh = govops("-C", str(repo), "check", "--all", "--format", "github", env=_env())
    assert f"::error file=specs/clinical/readmission-triage.yaml,line={line}," in gh.stdout


@pytest.mark.slow
def test_sarif_is_valid_2_1_0_with_physical_locations(repo: Path, tmp_path: Path) -> None:
    spec = repo / "specs/lab/digit-reader.yaml"
    text = spec.read_text()
    assert "runtime: mlserver_sklearn.SKLearnModel" in text
    spec.write_text(text.replace("runtime: mlserver_sklearn.SKLearnModel", "runtime: custom.Runtime"))
    res = govops("-C", str(repo), "check", "--all", "--format", "sarif", env=_env())
    log = json.loads(res.stdout)
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert results, res.stderr
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith("/")
        assert loc["region"]["startLine"] >= 1
    rule_ids = [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]]
    assert all(r["ruleId"] in rule_ids for r in results)


@pytest.mark.slow
def test_policy_input_is_exactly_what_is_evaluated_and_matches_schema(repo: Path) -> None:
    res = govops("-C", str(repo), "policy", "input", "--all", env=_env(GOVOPS_NOW="2026-11-01T00:00:00Z"))
    assert res.returncode == 0, res.stderr
    docs = json.loads(res.stdout)
    assert [d["model"] for d in docs] == sorted(d["model"] for d in docs)
    schema = json.loads((PROJECT / "policies/input.schema.json").read_text())
    for d in docs:
        jsonschema.validate(d["input"], schema)
        assert d["input"]["now_ns"] == 1793491200000000000
        assert d["input"]["plan"]["change"] == "unchanged"
        assert d["input"]["mode"] == "recheck"
        assert d["input"]["config"]["riskGroup"] == "risk"
    freeze = docs[0]["input"]["freezes"][0]
    assert freeze["name"] == "year-end-close" and freeze["start_ns"] == 1798070400000000000


@pytest.mark.slow
def test_context_flags_reach_the_policy(repo: Path) -> None:
    args = ["-C", str(repo), "policy", "input", "clinical/readmission-triage", "--author", "dana.ds",
            "--approved-by", "rita.risk:risk", "--label", "urgent"]
    docs = json.loads(govops(*args, env=_env()).stdout)
    assert docs[0]["input"]["context"]["approvals"] == [{"approver": "rita.risk", "group": "risk"}]
    assert docs[0]["input"]["context"]["labels"] == ["urgent"]


@pytest.mark.slow
def test_decisions_are_cached_by_policy_and_input_digest(repo: Path) -> None:
    cache = repo.with_name("cache")
    settings = Settings(now="2026-11-01T00:00:00+00:00", cache_dir=str(cache))
    first = run_check(repo, all_models=True, settings=settings)
    assert [d["cached"] for d in first.decisions] == [False] * 6
    assert list((cache / "policy").glob("*.json")) and not (repo / ".govops").exists()
    second = run_check(repo, all_models=True, settings=settings)
    assert [d["cached"] for d in second.decisions] == [True] * 6
    assert [d["result"] for d in second.decisions] == [d["result"] for d in first.decisions]
    # crossing a freeze boundary is a different key: the decision is recomputed
    frozen = run_check(repo, all_models=True, settings=Settings(now="2026-12-25T00:00:00+00:00", cache_dir=str(cache)))
    assert [d["cached"] for d in frozen.decisions] == [False] * 6
    # a changed policy is a different digest
    (repo / "policies/artifacts.rego").write_text((repo / "policies/artifacts.rego").read_text() + "\n# edit\n")
    third = run_check(repo, all_models=True, settings=settings)
    assert [d["cached"] for d in third.decisions] == [False] * 6
    rec = third.decisions[0]
    assert rec["path"] == "govops/main" and rec["backend"] == "regopy" and len(rec["input_digest"]) == 64


@pytest.mark.slow
def test_rego_syntax_error_reports_rego_file_line(repo: Path) -> None:
    path = repo / "policies/artifacts.rego"
    lines = path.read_text().splitlines()
    lines.insert(12, "broken if {\n\tinput.a ==\n}")
    path.write_text("\n".join(lines) + "\n")
    res = govops("-C", str(repo), "check", "--all", env=_env(GOVOPS_POLICY_CACHE="0"))
    assert res.returncode == 2
    # the custom-library check on OPA's engine (where installed) meets it first, at the `}` it
    # cannot parse; rego-cpp reports the line of the broken expression
    assert re.search(r"policies/artifacts\.rego:(14: .*does not compile|15: .*OPA .* refuses this policy)",
                     res.stderr), res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_looping_policy_is_stopped_with_a_clear_error(repo: Path) -> None:
    (repo / "policies/slow.rego").write_text(
        "package govops.artifacts\n\nimport rego.v1\n\n"
        "deny contains {\"rule\": \"X\", \"message\": \"m\", \"path\": \"\"} if {\n"
        "\tcount([i | some i in numbers.range(1, 100000000); i % 7 == 0]) < 0\n}\n"
    )
    settings = Settings(policy_timeout_s=1.5, policy_cache=False)
    with pytest.raises(PolicyError, match=r"did not finish within 1.5s"):
        run_check(repo, models=["lab/iris-species"], settings=settings)


def test_wrong_shape_is_an_error_not_an_allow(repo: Path) -> None:
    main = repo / "policies/main.rego"
    main.write_text(main.read_text().replace('main := {\n\t"deny":', 'main := {\n\t"denied":'))
    with pytest.raises(PolicyError, match=r'must return \{"deny": \[...\], "warn": \[...\]\}'):
        run_check(repo, all_models=True, settings=Settings(policy_cache=False))


def test_undefined_entrypoint_is_an_error(repo: Path) -> None:
    main = repo / "policies/main.rego"
    main.write_text(main.read_text().replace("main := {", "main_renamed := {"))
    with pytest.raises(PolicyError, match="undefined"):
        run_check(repo, all_models=True, settings=Settings(policy_cache=False))


def test_builtin_error_is_an_error(repo: Path) -> None:
    (repo / "policies/bad_builtin.rego").write_text(
        "package govops.freeze\n\nimport rego.v1\n\n"
        "warn contains {\"rule\": \"X\", \"message\": \"m\", \"path\": \"\"} if {\n"
        "\ttime.parse_rfc3339_ns(\"2026-01-01T00:00:00Z\") > 0\n}\n"
    )
    with pytest.raises(PolicyError, match="failed"):
        run_check(repo, all_models=True, settings=Settings(policy_cache=False))


def put_nan_threshold(repo: Path) -> int:
    """Make iris-species' min_accuracy NaN (which no policy input can carry); the 1-based line it is on."""
    spec = repo / "specs/lab/iris-species.yaml"
    lines = spec.read_text().splitlines()
    idx = next(i for i, ln in enumerate(lines) if "performance: {min_accuracy: 0.7" in ln)
    lines[idx] = lines[idx].replace("min_accuracy: 0.7", "min_accuracy: .nan")
    spec.write_text("\n".join(lines) + "\n")
    return idx + 1


def test_spec_the_input_cannot_express_is_reported_at_its_line(repo: Path) -> None:
    # NaN is refused when the spec loads (as lint does), at its line, before any policy input is built
    line = put_nan_threshold(repo)
    res = run_check(repo, all_models=True, settings=Settings(policy_cache=False))
    errors = [d for d in res.findings.diagnostics if d.severity == "error"]
    assert [(d.file, d.line, d.rule) for d in errors] == [("specs/lab/iris-species.yaml", line, "schema/invalid-value")]
    assert "must be a finite number (got nan)" in errors[0].message


def test_bad_context_types_are_refused(repo: Path) -> None:
    with pytest.raises(PolicyInputError, match="approvals"):
        run_check(repo, all_models=True, context={"approvals": ["rita.risk"]}, settings=Settings(policy_cache=False))
    with pytest.raises(PolicyInputError, match="pr_number"):
        run_check(repo, all_models=True, context={"pr_number": "7"}, settings=Settings(policy_cache=False))


def test_waiver_file_is_validated_and_applied(repo: Path) -> None:
    spec = repo / "specs/lab/iris-species.yaml"
    spec.write_text(spec.read_text().replace("runtime: mlserver_sklearn.SKLearnModel", "runtime: custom.Runtime", 1))
    waivers = repo / "policies/waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - rule: GOV-ART-002\n    model: lab/iris-species\n    reason: trial of a new runtime\n"
        "    approver: rita.risk\n    expires: 2027-03-01T00:00:00Z\n"
    )
    ok = run_check(repo, all_models=True, settings=Settings(now="2026-11-01T00:00:00Z", policy_cache=False))
    warned = [d for d in ok.findings.diagnostics if d.rule == "GOV-ART-002"]
    assert [d.severity for d in warned] == ["warning"] and "waived until 2027-03-01" in warned[0].message
    late = run_check(repo, all_models=True, settings=Settings(now="2027-03-01T00:00:00Z", policy_cache=False))
    assert [d.severity for d in late.findings.diagnostics if d.rule == "GOV-ART-002"] == ["error"]
    waivers.write_text("waivers:\n  - rule: GOV-ART-002\n    model: lab/iris-species\n    reason: r\n    approver: x\n")
    with pytest.raises(PolicyError) as err:
        run_check(repo, all_models=True, settings=Settings(policy_cache=False))
    assert err.value.file == "policies/waivers.yaml" and "expires" in err.value.message


def test_unknown_model_and_half_a_range_are_usage_errors(repo: Path) -> None:
    with pytest.raises(InputError, match="unknown model"):
        run_check(repo, models=["nope/nope"])
    with pytest.raises(InputError, match="both --base and --head"):
        run_check(repo, base="HEAD")


@pytest.mark.slow
def test_policy_test_runs_every_rego_unit_test() -> None:
    res = govops("policy", "test", env=_env())
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ": PASS (" in ln or ": FAIL (" in ln or ": ERROR (" in ln]
    assert len(lines) >= 80
    assert all(": PASS (" in ln for ln in lines)
    sources = "\n".join(p.read_text() for p in (PROJECT / "policies").glob("*_test.rego"))
    rules = set()
    for p in (PROJECT / "policies").glob("*.rego"):
        if not p.name.endswith("_test.rego"):
            import re

            rules.update(re.findall(r'"rule": "(GOV-[A-Z]+-\d+)"', p.read_text()))
    for rule in sorted(rules):
        assert f'not "{rule}" in' in sources, f"{rule} has no non-firing test"
        assert sources.count(f'"{rule}" in') > sources.count(f'not "{rule}" in'), f"{rule} has no firing test"


@pytest.mark.slow
def test_policy_test_reports_a_failing_test(repo: Path) -> None:
    (repo / "policies/zz_test.rego").write_text(
        "package govops.zz_test\n\nimport data.govops.fixtures_test as f\nimport rego.v1\n\n"
        "test_expected_to_fail if \"GOV-ART-001\" in f.denied with input as f.base\n"
    )
    res = govops("-C", str(repo), "policy", "test", "--run", "expected_to_fail", env=_env())
    assert res.returncode == 1
    assert "policies/zz_test.rego:6: data.govops.zz_test.test_expected_to_fail: FAIL" in res.stdout


@pytest.mark.slow
def test_change_between_refs_uses_the_plan_and_context(example_repo: Path) -> None:
    from tests.conftest import run_git

    spec = example_repo / "specs/clinical/disease-progression.yaml"
    text = spec.read_text()
    assert "{version: 1.1.0, mode: canary, weight: 10}" in text
    spec.write_text(text.replace("{version: 1.1.0, mode: canary, weight: 10}", "{version: 1.1.0, mode: shadow}"))
    run_git(example_repo, "commit", "-qam", "shadow first")
    canary = "{version: 1.1.0, mode: canary, weight: 40}"
    spec.write_text(spec.read_text().replace("{version: 1.1.0, mode: shadow}", canary))
    base_args = ["-C", str(example_repo), "check", "--base", "HEAD", "--head", "WORKTREE", "--format", "json"]
    res = govops(*base_args, "--author", "eli.mle", "--approved-by", "fay.lead", env=_env(GOVOPS_POLICY_CACHE="0"))
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert doc["models_checked"] == 1
    trf = [v for v in doc["violations"] if v["rule"] == "GOV-TRF-002"]
    assert len(trf) == 1 and trf[0]["model"] == "clinical/disease-progression" and "25%" in trf[0]["message"]
    line = next(i for i, ln in enumerate(spec.read_text().splitlines(), 1) if "weight: 40" in ln)
    assert trf[0]["line"] == line
    ok = govops(*base_args, "--author", "mallory", env=_env(GOVOPS_POLICY_CACHE="0"))
    rules = {v["rule"] for v in json.loads(ok.stdout)["violations"]}
    assert {"GOV-TEN-003", "GOV-TEN-004", "GOV-APP-001", "GOV-TRF-002"} <= rules


@pytest.mark.slow
def test_change_check_after_a_recheck_of_main_with_default_caches(example_repo: Path) -> None:
    """Regression: a re-check of main, then a change check in the same repository (caches on, as users run it).

    With regopy's compiled bundle reused from disk, the change check failed closed with a JSON
    error; it must deny with the approval rules instead.
    """
    from tests.conftest import run_git

    assert govops("-C", str(example_repo), "check", "--all").returncode == 0
    run_git(example_repo, "checkout", "-q", "-b", "canary")
    spec = example_repo / "specs/clinical/readmission-triage.yaml"
    canary = "{version: 2.0.0, mode: canary, weight: 10}"
    spec.write_text(spec.read_text().replace("{version: 2.0.0, mode: shadow}", canary))
    run_git(example_repo, "commit", "-qam", "canary 2.0.0")
    res = govops("-C", str(example_repo), "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds",
                 "--format", "json")
    assert res.returncode == 1, res.stdout + res.stderr
    rules = {v["rule"] for v in json.loads(res.stdout)["violations"]}
    assert {"GOV-APP-001", "GOV-APP-002"} <= rules


@pytest.mark.slow
def test_removing_a_model_needs_the_approvals_its_tier_demands(example_repo: Path) -> None:
    """Deleting a spec takes a serving model out of service at merge: it is a change the policy judges."""
    from tests.conftest import run_git

    run_git(example_repo, "rm", "-q", "specs/clinical/readmission-triage.yaml")
    run_git(example_repo, "commit", "-qm", "retire readmission-triage")
    args = ["-C", str(example_repo), "check", "--base", "HEAD~1", "--head", "HEAD", "--format", "json"]
    lone = govops(*args, "--author", "dana.ds", env=_env(GOVOPS_POLICY_CACHE="0"))
    assert lone.returncode == 1, lone.stdout + lone.stderr
    doc = json.loads(lone.stdout)
    assert doc["models_checked"] == 1
    found = {(v["rule"], v["severity"]) for v in doc["violations"]}
    # the high tier's approvals and the tenant's four-eyes rule, and what the removal does
    assert {("GOV-APP-001", "error"), ("GOV-APP-002", "error"), ("GOV-TEN-004", "error"),
            ("GOV-RMV-001", "warning")} <= found
    # only who may remove it decides: nothing about the deleted spec's own content
    assert {r for r, _ in found} <= {"GOV-APP-001", "GOV-APP-002", "GOV-TEN-003", "GOV-TEN-004", "GOV-RMV-001"}
    rmv = next(v for v in doc["violations"] if v["rule"] == "GOV-RMV-001")
    assert rmv["model"] == "clinical/readmission-triage"
    assert rmv["file"] == "specs/clinical/readmission-triage.yaml"  # where it was, at the base
    assert "(tier high) takes it out of service at merge" in rmv["message"]
    assert '"1.1.0"' in rmv["message"]  # the serving champion is named
    approved = govops(*args, "--author", "dana.ds", "--approved-by", "fay.lead", "--approved-by", "rita.risk",
                      env=_env(GOVOPS_POLICY_CACHE="0"))
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert [v["rule"] for v in json.loads(approved.stdout)["violations"]] == ["GOV-RMV-001"]
