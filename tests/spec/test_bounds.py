"""Issue 15, hole 7: every input a pull request reaches is bounded, and refused with a clear error.

Data files named by spec URIs (``/dev/zero``, FIFOs, files over the cap), deep YAML that a
comment or a quote used to hide from the depth check, deep or oversized event payloads,
KPI expressions monitoring would refuse, NaN and infinities, oversized waiver files and
policy libraries. Each case runs the real CLI (or the real reader) and asserts the exit
code, the ``file:line:col`` and the message; none may end in a traceback or run unbounded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.change.context import from_event_file
from engine.spec.errors import CheckError, InputError, RefusedInput
from engine.spec.limits import LimitError, json_depth_problem, read_capped
from engine.spec.loader import YamlError, parse_yaml
from engine.spec.model import DataRef
from runners.data import DataLoader, read_bytes
from tests.conftest import PROJECT, copy_example_repo

IRIS = (PROJECT / "specs/lab/iris-species.yaml").read_text()
EVAL_LINE = "    evaluationData: {uri: artifacts/data/iris/evaluation.csv, sha256: "
SAFETY_TIMEOUT_S = 120  # a safety net so a regression cannot hang the suite; nothing asserts a timing


def _repo(tmp_path: Path, spec: str, *, config_extra: str = "") -> Path:
    root = tmp_path / "repo"
    (root / "specs" / "lab").mkdir(parents=True)
    (root / "govops.yaml").write_text((PROJECT / "govops.yaml").read_text() + config_extra)
    shutil.copytree(PROJECT / "artifacts", root / "artifacts")
    (root / "specs" / "lab" / "iris.yaml").write_text(spec)
    return root


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env=env,
        timeout=SAFETY_TIMEOUT_S,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return _run("-C", str(root), "lint")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _with_eval_uri(uri: str) -> str:
    start = IRIS.index(EVAL_LINE)
    end = IRIS.index("\n", start)
    return IRIS[:start] + f"    evaluationData: {{uri: {uri!r}}}" + IRIS[end:]


# --- data files named by spec URIs -------------------------------------------------------------------------


def test_dev_zero_as_evaluation_data_is_a_lint_error(tmp_path: Path) -> None:
    text = _with_eval_uri("file:///dev/zero")
    root = _repo(tmp_path, text)
    result = _lint(root)
    assert result.returncode == 2, result.stdout
    line = _line_of(text, "evaluationData")
    assert f"specs/lab/iris.yaml:{line}:22: error: 'file:///dev/zero' cannot be read: it is a character device" in (
        result.stdout
    )
    assert "[spec/unreadable-data]" in result.stdout


def test_fifo_as_evaluation_data_is_a_lint_error(tmp_path: Path) -> None:
    text = _with_eval_uri("artifacts/data/iris/pipe.csv")
    root = _repo(tmp_path, text)
    os.mkfifo(root / "artifacts/data/iris/pipe.csv")
    result = _lint(root)  # a FIFO with no writer must not block lint
    assert result.returncode == 2, result.stdout
    line = _line_of(text, "evaluationData")
    assert f"specs/lab/iris.yaml:{line}:22:" in result.stdout
    assert "it is a FIFO (named pipe); only regular files are read" in result.stdout


@pytest.mark.slow
def test_data_file_over_the_govops_yaml_cap_is_a_lint_error(tmp_path: Path) -> None:
    root = _repo(tmp_path, IRIS, config_extra="limits:\n  maxDataBytes: 800\n")
    result = _lint(root)
    assert result.returncode == 2, result.stdout
    line = _line_of(IRIS, "evaluationData")
    assert f"specs/lab/iris.yaml:{line}:22: error: 'artifacts/data/iris/evaluation.csv' cannot be read: it is" in (
        result.stdout
    )
    assert "over the 800 bytes limit (raise limits.maxDataBytes in govops.yaml)" in result.stdout


@pytest.mark.slow
def test_the_examples_fit_the_default_cap(tmp_path: Path) -> None:
    root = _repo(tmp_path, IRIS)
    result = _lint(root)
    assert result.returncode == 0, result.stdout


def test_read_refuses_devices_and_fifos_without_reading(tmp_path: Path) -> None:
    """The runner's read path refuses on its own (a spec can reach it without lint, e.g. from Argo)."""
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(RefusedInput, match="character device; only regular files are read"):
        read_bytes("file:///dev/zero", tmp_path)
    with pytest.raises(RefusedInput, match=r"FIFO \(named pipe\); only regular files are read"):
        read_bytes("pipe.csv", tmp_path)
    loader = DataLoader(tmp_path)
    with pytest.raises(CheckError, match="character device"):
        loader.table(DataRef(uri="file:///dev/zero", format="csv"), "evaluation_data")
    assert loader.inputs == []


def test_read_is_capped_by_govops_yaml_and_names_the_spec_line(tmp_path: Path) -> None:
    from engine.spec.config import Governance

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.csv").write_text("a,b\n" + "1,2\n" * 1000)
    spec = tmp_path / "specs" / "m.yaml"
    spec.parent.mkdir()
    spec.write_text("x:\n  evaluationData:\n    uri: data/big.csv\n")
    config = Governance.model_validate({"tiers": {"low": {}}, "limits": {"maxDataBytes": 1000}})
    loader = DataLoader(tmp_path)
    loader.configure(config, "specs/m.yaml")
    with pytest.raises(RefusedInput) as err:
        loader.table(DataRef(uri="data/big.csv"), "evaluation_data")
    message = str(err.value)
    assert message.startswith("specs/m.yaml:3:5: evaluation_data: refusing to read data/big.csv: it is 3.9 KiB")
    assert "over the 1000 bytes limit" in message


def test_read_capped_stops_at_the_cap_even_when_the_size_lies(tmp_path: Path) -> None:
    """``/proc`` files report size 0; the read itself is bounded, not just the stat."""
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc")
    with pytest.raises(LimitError, match="holds more than the 10 bytes limit"):
        read_capped(status, 10, "status")


def test_run_check_on_a_fifo_is_an_error_result_not_a_hang(tmp_path: Path) -> None:
    from runners.runner import run_check

    root = tmp_path / "repo"
    spec = {
        "apiVersion": "govops/v1", "kind": "Model",
        "metadata": {"name": "m", "tenant": "t", "owners": ["someone"]},
        "spec": {
            "tier": "medium", "task": "classification",
            "interface": {"inputs": [{"name": "x", "type": "float"}], "outputs": [{"name": "y", "type": "integer"}]},
            "versions": [{"id": "1.0.0", "runtime": "mlserver_sklearn.SKLearnModel",
                          "artifact": {"uri": "m.joblib", "sha256": "0" * 64}}],
            "validation": {"referenceData": {"uri": "ref.csv"}, "evaluationData": {"uri": "pipe.csv"}, "label": "y"},
        },
    }
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "m.yaml").write_text(json.dumps(spec, indent=1))
    (root / "ref.csv").write_text("x,y\n1,0\n2,1\n")
    os.mkfifo(root / "pipe.csv")
    result = run_check(root, "data_quality", spec_file="specs/m.yaml", version="1.0.0", thresholds={})
    assert result.status == "error"
    assert "FIFO" in (result.error or "") and "specs/m.yaml:" in (result.error or "")


# --- YAML depth: counted on the parser's own events ------------------------------------------------------


def test_comment_first_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = "# a spec that starts with a comment\na: " + "[" * 1_000_000 + "\n"
    root = _repo(tmp_path, deep)
    result = _lint(root)
    assert result.returncode == 2, result.stdout
    assert "specs/lab/iris.yaml:2:" in result.stdout
    assert "nesting deeper than 32 levels; specs are shallow documents" in result.stdout


@pytest.mark.parametrize(
    "text",
    [
        "# comment\nk: " + "[" * 5000,
        "x#y: " + "[" * 5000,  # a '#' that is not a comment
        "a: [b'c, " + "[" * 5000,  # a quote inside a plain scalar does not start a string
        "- " * 5000 + "x",  # block nesting, no bracket at all
        "".join(" " * i + f"k{i}:\n" for i in range(200)),  # indentation nesting
        "x: {a:}\nk: " + "[" * 5000,  # libyaml refuses line 1, so ruamel parses the rest
    ],
    ids=["comment", "hash-in-key", "quote-in-plain", "block-sequence", "indentation", "ruamel-fallback"],
)
@pytest.mark.slow
def test_depth_cannot_be_hidden(text: str) -> None:
    with pytest.raises(YamlError, match="nesting deeper than 32 levels"):
        parse_yaml(text, "deep.yaml")


def test_brackets_in_block_scalars_and_strings_are_text_not_nesting() -> None:
    text = (
        "a: |\n  " + "[" * 100 + "\n"
        "b: '" + "{" * 100 + "'\n"
        "c: x [" + "[" * 100 + "\n"  # a plain scalar: brackets inside it are text
        "# " + "[" * 100 + "\n"
    )
    doc = parse_yaml(text, "ok.yaml")
    assert doc.data["a"] == "[" * 100 + "\n"
    assert doc.data["b"] == "{" * 100
    assert doc.positions[("c",)] == (4, 1)


def test_explicit_tag_with_a_bad_value_is_an_error_not_a_traceback() -> None:
    with pytest.raises(YamlError, match="'abc' is not a valid int"):
        parse_yaml("a: !!int abc\n", "t.yaml")


@pytest.mark.slow
def test_a_spec_that_is_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    root = _repo(tmp_path, IRIS)
    (root / "specs" / "lab" / "zero.yaml").symlink_to("/dev/zero")
    result = _lint(root)
    assert result.returncode == 2
    assert "zero.yaml:1:1: error: it is a character device; only regular files are read" in result.stdout


# --- event payloads ----------------------------------------------------------------------------------------


def test_deep_event_payload_is_an_input_error_not_a_recursion_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"pull_request": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(InputError) as err:
        from_event_file(event, "pull_request")
    assert err.value.exit_code == 2
    assert err.value.render() == (
        f"{event}:1:81: error: malformed event payload: nested deeper than 64 levels"
    )


@pytest.mark.slow
def test_deep_event_payload_exits_2_in_pr_check(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    event = tmp_path / "event.json"
    event.write_text('{"pull_request": ' + "[" * 100_000 + "]" * 100_000 + "}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVOPS_", "GITHUB_"))}
    env.update({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "pull_request"})
    result = _run("-C", str(repo), "pr-check", "--no-validate", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "malformed event payload: nested deeper than 64 levels" in result.stderr


def test_event_payload_size_and_kind_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"title": "x" * 5000}}))
    monkeypatch.setenv("GOVOPS_MAX_EVENT_BYTES", "1000")
    with pytest.raises(InputError, match="event payload refused: .* over the 1000 bytes limit"):
        from_event_file(event)
    monkeypatch.delenv("GOVOPS_MAX_EVENT_BYTES")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="FIFO"):
        from_event_file(tmp_path / "pipe")


def test_json_depth_scan_ignores_brackets_in_strings() -> None:
    doc = json.dumps({"title": "[" * 500 + '\\"{', "nested": [[["x"]]]}).encode()
    assert json_depth_problem(doc, 8) is None
    assert json_depth_problem(b"[" * 9 + b"]" * 9, 8) == (8, "nested deeper than 8 levels")


# --- KPI expressions at lint ---------------------------------------------------------------------------------


def _with_kpi(expression: str) -> str:
    anchor = "      operational: {max_latency_p99_ms: 250, max_error_rate: 0.01}\n"
    kpis = f"      kpis:\n        - name: approval\n          expression: {json.dumps(expression)}\n          max: 1\n"
    return IRIS.replace(anchor, anchor + kpis)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9**9**9", "'Pow' is not allowed in a KPI expression"),
        ("mean(prediction) * 1e999", "the number inf is out of range"),
        ("mean(" + "-" * 60 + "prediction)", "nests deeper than 32 levels"),
        ("__import__('os')", "unknown function '__import__'"),
    ],
)
@pytest.mark.slow
def test_kpi_expression_is_checked_at_lint(tmp_path: Path, expression: str, message: str) -> None:
    text = _with_kpi(expression)
    root = _repo(tmp_path, text)
    result = _lint(root)
    assert result.returncode == 2, result.stdout
    line = _line_of(text, "expression:")
    assert f"specs/lab/iris.yaml:{line}:11: error: KPI 'approval': " in result.stdout
    assert message in result.stdout
    assert "[spec/bad-kpi]" in result.stdout


@pytest.mark.slow
def test_a_valid_kpi_passes_lint(tmp_path: Path) -> None:
    root = _repo(tmp_path, _with_kpi("rate(in.petal_length > 2 and prediction == 1)"))
    result = _lint(root)
    assert result.returncode == 0, result.stdout


# --- NaN and infinities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where", "got"),
    [
        ("max_psi: 0.2", "max_psi: .nan", "spec.monitoring.thresholds.drift.max_psi", "nan"),
        ("{name: sepal_length, type: float, min: 3, max: 9}", "{name: sepal_length, type: float, min: 3, max: .inf}",
         "spec.interface.inputs[0].max", "inf"),
        ("weights: {drift: 0.25,", "weights: {drift: -.inf,", "spec.monitoring.health.weights.drift", "-inf"),
        ("accuracy: 0.9556", "accuracy: .NaN", "spec.versions[0].metrics.accuracy", "nan"),
    ],
    ids=["threshold", "feature-bound", "weight", "claimed-metric"],
)
@pytest.mark.slow
def test_nan_and_infinity_are_lint_errors(tmp_path: Path, old: str, new: str, where: str, got: str) -> None:
    text = IRIS.replace(old, new, 1)
    root = _repo(tmp_path, text)
    result = _lint(root)
    assert result.returncode == 2, result.stdout
    line = _line_of(text, new)
    assert f"specs/lab/iris.yaml:{line}:" in result.stdout
    assert f"{where}: must be a finite number (got {got})" in result.stdout


@pytest.mark.slow
def test_integer_beyond_64_bits_is_a_lint_error(tmp_path: Path) -> None:
    text = IRIS.replace("categories: [0, 1, 2]", "categories: [0, 1, 99999999999999999999999]", 1)
    root = _repo(tmp_path, text)
    result = _lint(root)
    assert result.returncode == 2, result.stdout
    line = _line_of(text, "99999999999999999999999")
    assert f"specs/lab/iris.yaml:{line}:" in result.stdout
    assert "an integer beyond 64 bits cannot reach a policy" in result.stdout


@pytest.mark.slow
def test_nan_in_govops_yaml_is_a_lint_error(tmp_path: Path) -> None:
    root = _repo(tmp_path, IRIS)
    cfg = root / "govops.yaml"
    text = cfg.read_text()
    assert "performance: {min_accuracy: 0.7," in text
    cfg.write_text(text.replace("performance: {min_accuracy: 0.7,", "performance: {min_accuracy: .nan,", 1))
    result = _lint(root)
    assert result.returncode == 2, result.stdout + result.stderr
    line = _line_of(text, "performance: {min_accuracy: 0.7,")
    assert f"govops.yaml:{line}:" in result.stdout + result.stderr
    assert "must be a finite number (got nan)" in result.stdout + result.stderr


# --- waivers and policies ----------------------------------------------------------------------------------


def _check(repo: Path, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVOPS_", "GITHUB_"))}
    env.update({"GOVOPS_POLICY_CACHE": "false", **env_extra})
    return _run("-C", str(repo), "check", "--all", env=env)


def _waiver(i: int) -> str:
    return (
        f"  - rule: GOV-ART-00{i % 9 + 1}\n    model: lab/iris-species\n    reason: trial {i}\n"
        "    approver: rita.risk\n    expires: 2099-03-01T00:00:00Z\n"
    )


@pytest.mark.slow
def test_oversized_waivers_file_is_refused(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    (repo / "policies" / "waivers.yaml").write_text("waivers:\n" + "# padding\n" * 120_000)
    result = _check(repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "policies/waivers.yaml:1:1: error: file is 1.1 MiB; waivers.yaml may be at most 1.0 MiB" in result.stderr


@pytest.mark.slow
def test_too_many_waivers_are_refused(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    (repo / "policies" / "waivers.yaml").write_text("waivers:\n" + "".join(_waiver(i) for i in range(1001)))
    result = _check(repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "policies/waivers.yaml:1:1: error: 1001 waivers; at most 1000 may be declared" in result.stderr


@pytest.mark.slow
def test_too_many_policy_files_are_refused_before_reading(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    for i in range(501):
        (repo / "policies" / f"extra_{i:03}.rego").write_text(f"package govops.extra{i}\n")
    result = _check(repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "policies: error: 5" in result.stderr and "a policy library may have at most 500" in result.stderr


@pytest.mark.slow
def test_oversized_policy_library_is_refused(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    (repo / "policies" / "huge.rego").write_text("package govops.huge\n" + "# pad\n" * 3_000_000)
    result = _check(repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "over the 16.0 MiB limit (largest: huge.rego" in result.stderr
