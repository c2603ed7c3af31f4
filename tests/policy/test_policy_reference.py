"""Custom policy libraries are proven on both engines: what OPA or rego-cpp would refuse is an error at its file:line.

Real Rego on real engines: rego-cpp (regopy) and OPA v1.20.2's Go engine (the reference,
installed by scripts/system-deps.sh; the OPA half skips with the reason where it is
absent). Each library here is one a policy author could write; before this, regopy
accepted each of them and govops went on (or passed the unit tests) without a word.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.policy.errors import PolicyError
from engine.policy.library import load_library
from engine.policy.reference import (
    OPA_VERSION,
    check_custom_library,
    find_engine,
    missing_builtins,
    open_reference,
)
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT
from tests.conftest import PROJECT, copy_example_repo, govops

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget

REFERENCE, WHY = open_reference("auto")
needs_reference = pytest.mark.skipif(REFERENCE is None, reason=f"the reference leg needs OPA's Go engine: {WHY}")

MAIN_DYNAMIC = """package govops

import rego.v1

areas := ["a"]

main := {
	"deny": [d | some area in areas; some d in data.govops[area].deny],
	"warn": [],
}
"""

MAIN_STATIC = """package govops

import rego.v1

main := {"deny": [d | some d in data.govops.a.deny], "warn": []}
"""

AREA = """package govops.a

import rego.v1

deny contains {"rule": "A-001", "message": "no pinned artifact", "path": ""} if {
	some v in input.spec.spec.versions
	not v.artifact.sha256
}
"""

AREA_TEST = """package govops.a_test

import rego.v1

unpinned := {"spec": {"spec": {"versions": [{"artifact": {}}]}}}

test_a_001_fires if count(data.govops.a.deny) == 1 with input as unpinned
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    env.update(extra)
    return env


def _repo(tmp_path: Path, **modules: str) -> Path:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    shutil.rmtree(repo / "policies")
    (repo / "policies").mkdir()
    for name, source in modules.items():
        (repo / "policies" / f"{name}.rego").write_text(source)
    return repo


def _line_of(source: str, needle: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if needle in line)


@needs_reference
def test_a_dynamic_data_reference_that_recurses_is_refused_at_its_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path, main=MAIN_DYNAMIC, a=AREA, a_test=AREA_TEST)
    line = _line_of(MAIN_DYNAMIC, "main := {")
    for args in (("policy", "test"), ("check", "--all")):
        res = govops("-C", str(repo), *args, env=_env())
        assert res.returncode == EXIT_INPUT, (args, res.stdout, res.stderr)
        assert f"policies/main.rego:{line}" in res.stderr, res.stderr
        assert f"OPA {OPA_VERSION}" in res.stderr and "rego_recursion_error" in res.stderr
        assert "Traceback" not in res.stderr
    # the same library with the reference made static passes on both engines
    (repo / "policies/main.rego").write_text(MAIN_STATIC)
    res = govops("-C", str(repo), "policy", "test", env=_env())
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1/1 tests decided alike" in res.stdout


@pytest.mark.parametrize("builtin", ["http.send", "json.match_schema"])
def test_a_builtin_rego_cpp_lacks_is_refused_at_its_call(tmp_path: Path, builtin: str) -> None:
    call = {"http.send": 'http.send({"method": "get", "url": "http://127.0.0.1:9/allowed"}).status_code == 200',
            "json.match_schema": 'json.match_schema(input.spec, {"type": "object"})[0]'}[builtin]
    area = AREA.replace("\tnot v.artifact.sha256\n", f"\tnot v.artifact.sha256\n\tnot {call}\n")
    repo = _repo(tmp_path, main=MAIN_STATIC, a=area, a_test=AREA_TEST)
    line = _line_of(area, builtin)
    col = area.splitlines()[line - 1].index(builtin) + 1
    for args in (("policy", "test"), ("check", "--all")):
        res = govops("-C", str(repo), *args, env=_env())
        assert res.returncode == EXIT_INPUT, (args, res.stdout, res.stderr)
        assert f"policies/a.rego:{line}:{col}" in res.stderr, res.stderr
        assert f"builtin {builtin} is not implemented by rego-cpp" in res.stderr
        assert "Traceback" not in res.stderr


@needs_reference
def test_a_rule_whose_result_differs_between_engines_on_a_quoted_string_is_an_error(tmp_path: Path) -> None:
    # rego-cpp 1.5.2 leaves sprintf's %q verb as it is; OPA quotes the string: the rule
    # below denies on OPA and silently allows on rego-cpp
    area = """package govops.a

import rego.v1

deny contains {"rule": "A-002", "message": "mallory may not author", "path": ""} if {
	sprintf("%q", [input.context.author]) == `"mallory"`
}
"""
    test = """package govops.a_test

import rego.v1

by_mallory := {"context": {"author": "mallory"}}

test_a_002_fires if count(data.govops.a.deny) == 1 with input as by_mallory
"""
    repo = _repo(tmp_path, main=MAIN_STATIC, a=area, a_test=test)
    res = govops("-C", str(repo), "policy", "test", env=_env())
    assert res.returncode == EXIT_GOVERNANCE, res.stdout + res.stderr
    line = _line_of(test, "test_a_002_fires")
    expected = f"policies/a_test.rego:{line}: data.govops.a_test.test_a_002_fires: ERROR"
    assert expected in res.stdout, res.stdout
    assert "the engines disagree: rego-cpp (regopy, the embedded engine) FAIL" in res.stdout
    assert f"OPA {OPA_VERSION} (Go engine, the reference) PASS" in res.stdout
    # without the reference engine the same run cannot see it, and says that it did not look
    off = govops("-C", str(repo), "policy", "test", "--reference", "off", env=_env())
    assert "reference: not run" in off.stdout


def test_policy_test_reference_require_without_the_engine_is_a_usage_error(tmp_path: Path) -> None:
    repo = _repo(tmp_path, main=MAIN_STATIC, a=AREA, a_test=AREA_TEST)
    res = govops("-C", str(repo), "policy", "test", "--reference", "require",
                 env=_env(GOVOPS_REFERENCE_ENGINE=str(tmp_path / "nowhere")))
    assert res.returncode == EXIT_INPUT
    assert "holds no opa_bindings/libopabridge.so" in res.stderr


def test_the_engine_is_never_taken_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a pull request could commit a look-alike opa-golib/ folder: it is never looked for there
    repo = _repo(tmp_path, main=MAIN_STATIC, a=AREA)
    fake = repo / "opa-golib" / "0.4.4" / "opa_bindings"
    fake.mkdir(parents=True)
    (fake / "libopabridge.so").write_bytes(b"not a library")
    monkeypatch.chdir(repo)
    path, _ = find_engine("auto")
    assert path is None or not str(path).startswith(str(repo))
    assert find_engine("off") == (None, "the reference engine is turned off (GOVOPS_REFERENCE_ENGINE=off)")


def test_the_default_library_needs_no_reference_run_and_calls_only_shared_builtins() -> None:
    library = load_library(PROJECT, with_tests=True)
    assert missing_builtins(library, with_tests=True) == []
    check_custom_library(load_library(PROJECT), "off")  # the default library: nothing to do, no error


def test_a_custom_library_is_checked_even_without_the_reference_engine(tmp_path: Path) -> None:
    area = AREA.replace("\tnot v.artifact.sha256\n", "\tnot v.artifact.sha256\n\tnet.cidr_contains(\"10.0.0.0/8\", "
                                                      "input.ip)\n")
    repo = _repo(tmp_path, main=MAIN_STATIC, a=area)
    with pytest.raises(PolicyError) as err:
        check_custom_library(load_library(repo), "off")
    assert (err.value.file, err.value.line) == ("policies/a.rego", _line_of(area, "net.cidr_contains"))
    assert "rego-cpp" in err.value.message
