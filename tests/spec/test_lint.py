"""`govops lint` on the examples and on every bad input of the foundation issue.

Each case runs the real CLI in a subprocess and asserts the exit code, the
``file:line:col`` and the message; no case may write or change a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import PROJECT, govops

IRIS = (PROJECT / "specs/lab/iris-species.yaml").read_text()


def _repo(tmp_path: Path, specs: dict[str, str | bytes]) -> Path:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    shutil.copytree(PROJECT / "artifacts", root / "artifacts")
    for rel, content in specs.items():
        path = root / "specs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _lint(root: Path, *args: str):
    before = _snapshot(root)
    result = govops("-C", str(root), "lint", *args)
    assert _snapshot(root) == before, "lint must never write or change a file"
    assert "Traceback" not in result.stderr + result.stdout
    return result


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.slow
def test_examples_pass(project_root):
    result = govops("lint", cwd=project_root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 model(s) checked, 0 error(s)" in result.stdout


@pytest.mark.slow
def test_examples_json_format(project_root):
    result = govops("lint", "--format", "json", cwd=project_root)
    doc = json.loads(result.stdout)
    assert doc == {"ok": True, "violations": [], "models_checked": 6}


@pytest.mark.slow
def test_malformed_yaml(tmp_path):
    text = IRIS.replace("  tier: medium", "  tier: [medium")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    assert "specs/lab/iris.yaml:" in result.stdout
    assert "YAML syntax" in result.stdout


@pytest.mark.slow
def test_duplicate_keys(tmp_path):
    text = IRIS.replace("  tier: medium\n", "  tier: medium\n  tier: low\n")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(text, "tier: low")
    assert (
        f"specs/lab/iris.yaml:{line}:3: error: duplicate key 'tier' (first defined on line {line - 1})" in result.stdout
    )


@pytest.mark.slow
def test_alias_bomb_is_refused_quickly(tmp_path):
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    root = _repo(tmp_path, {"lab/bomb.yaml": bomb})
    result = _lint(root)
    assert result.returncode == 2
    assert "specs/lab/bomb.yaml:2:" in result.stdout
    assert "aliases" in result.stdout


@pytest.mark.slow
def test_fifty_megabyte_spec(tmp_path):
    root = _repo(tmp_path, {"lab/big.yaml": "# padding\n" * (5 * 1024 * 1024)})
    result = _lint(root)
    assert result.returncode == 2
    assert "specs/lab/big.yaml:1:1: error: file is 50.0 MiB; a spec may be at most 1.0 MiB" in result.stdout


@pytest.mark.slow
def test_deep_nesting_refused_before_parsing(tmp_path):
    root = _repo(tmp_path, {"lab/deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n"})
    result = _lint(root)
    assert result.returncode == 2
    assert "nesting deeper than 32 levels" in result.stdout


@pytest.mark.slow
def test_unknown_field_suggests_nearest(tmp_path):
    text = IRIS.replace("    champion: 1.0.0", "    champoin: 1.0.0")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(text, "champoin")
    assert (
        f"specs/lab/iris.yaml:{line}:5: error: unknown field 'champoin' in spec.deployment (did you mean 'champion'?)"
        in result.stdout
    )


@pytest.mark.slow
def test_wrong_type(tmp_path):
    text = IRIS.replace("mode: canary, weight: 20", "mode: canary, weight: lots")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(text, "weight: lots")
    assert f"specs/lab/iris.yaml:{line}:" in result.stdout
    assert "spec.deployment.challengers[0].weight: must be a valid number" in result.stdout
    assert "'lots'" in result.stdout


@pytest.mark.slow
def test_missing_required_field(tmp_path):
    text = IRIS.replace("  task: classification\n", "")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    assert (
        f"specs/lab/iris.yaml:{_line_of(text, 'spec:')}:1: error: missing required field 'task' in spec"
        in result.stdout
    )


@pytest.mark.slow
def test_champion_not_declared(tmp_path):
    text = IRIS.replace("    champion: 1.0.0", "    champion: 9.9.9")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(text, "champion: 9.9.9")
    assert (
        f"specs/lab/iris.yaml:{line}:5: error: champion '9.9.9' is not a declared version (declared: 1.0.0, 1.1.0)"
        in result.stdout
    )


@pytest.mark.slow
def test_duplicate_model_id_across_files(tmp_path):
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS, "lab/iris-copy.yaml": IRIS})
    result = _lint(root)
    assert result.returncode == 2
    assert "specs/lab/iris.yaml:" in result.stdout
    assert "model 'lab/iris-species' is already declared in specs/lab/iris-copy.yaml" in result.stdout


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("../../etc/passwd", "has a '..' segment"),
        ("artifacts/../../etc/passwd", "has a '..' segment"),
        ("ftp://example.com/model.joblib", "unsupported URI scheme 'ftp://'"),
        ("/etc/passwd", "is an absolute path; write file:///etc/passwd"),
    ],
)
@pytest.mark.slow
def test_artifact_uri_rules(tmp_path, uri, message):
    text = IRIS.replace("uri: artifacts/models/lab/iris-species/1.0.0/model.joblib", f"uri: {uri}")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(text, f"uri: {uri}")
    assert f"specs/lab/iris.yaml:{line}:9: error:" in result.stdout
    assert message in result.stdout


@pytest.mark.slow
def test_symlink_out_of_repo_is_refused(tmp_path):
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS})
    outside = tmp_path / "outside.joblib"
    outside.write_bytes(b"x")
    os.symlink(outside, root / "artifacts" / "evil.joblib")
    text = IRIS.replace("uri: artifacts/models/lab/iris-species/1.0.0/model.joblib", "uri: artifacts/evil.joblib")
    (root / "specs/lab/iris.yaml").write_text(text)
    result = _lint(root)
    assert result.returncode == 2
    assert "points outside the repository" in result.stdout


@pytest.mark.slow
def test_dot_dot_after_a_symlink_is_refused(tmp_path):
    """`artifacts/lnk/../passwd`: the OS follows lnk first, so `..` leaves the repository."""
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS})
    outside = tmp_path / "etc" / "ssl"
    outside.mkdir(parents=True)
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
    os.symlink(outside, root / "artifacts" / "lnk")
    text = IRIS.replace("uri: artifacts/models/lab/iris-species/1.0.0/model.joblib", "uri: artifacts/lnk/../passwd")
    (root / "specs/lab/iris.yaml").write_text(text)
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(text, "uri: artifacts/lnk/../passwd")
    assert f"specs/lab/iris.yaml:{line}:9: error:" in result.stdout
    assert "has a '..' segment" in result.stdout


@pytest.mark.slow
def test_non_utf8_file(tmp_path):
    raw = IRIS.replace("specimen from", "sp\xe9cimen from").encode("latin-1")
    root = _repo(tmp_path, {"lab/iris.yaml": raw})
    result = _lint(root)
    assert result.returncode == 2
    line = _line_of(IRIS, "specimen from")
    assert f"specs/lab/iris.yaml:{line}:" in result.stdout
    assert "not UTF-8 (byte 0xe9" in result.stdout


@pytest.mark.slow
def test_empty_file(tmp_path):
    root = _repo(tmp_path, {"lab/empty.yaml": ""})
    result = _lint(root)
    assert result.returncode == 2
    assert "specs/lab/empty.yaml:1:1: error: file is empty" in result.stdout


@pytest.mark.slow
def test_directory_given_where_file_expected(tmp_path):
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS})
    (root / "conf.yaml").mkdir()
    result = govops("-C", str(root), "--config", str(root / "conf.yaml"), "lint")
    assert result.returncode == 2
    assert "conf.yaml is a directory; expected the govops.yaml file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_directory_named_like_a_spec(tmp_path):
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS})
    (root / "specs" / "lab" / "folder.yaml").mkdir()
    (root / "specs" / "lab" / "folder.yaml" / "x.txt").write_text("x")
    result = _lint(root, str(root / "specs" / "lab" / "folder.yaml" / "x.txt"))
    assert result.returncode == 2
    assert "x.txt" in result.stdout


@pytest.mark.slow
def test_missing_path_is_an_input_error(tmp_path):
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS})
    result = _lint(root, str(root / "specs" / "nope.yaml"))
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr


@pytest.mark.slow
def test_missing_config_says_how_to_fix(tmp_path):
    (tmp_path / "specs").mkdir()
    result = govops("-C", str(tmp_path), "lint")
    assert result.returncode == 2
    assert "run `govops init`" in result.stderr


@pytest.mark.slow
def test_secret_value_in_channel_is_refused(tmp_path):
    text = IRIS.replace("webhookSecret: SLACK_WEBHOOK_LAB", "webhookSecret: https://hooks.slack.com/services/T0/B0/XX")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    assert "looks like a secret value" in result.stdout
    assert "hooks.slack.com" not in result.stdout


@pytest.mark.slow
def test_unknown_threshold_and_check_names(tmp_path):
    text = IRIS.replace(
        "    label: species\n",
        "    label: species\n    checks:\n      drfit: {}\n      drift:\n        thresholds: {max_pis: 0.2}\n",
    )
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    assert "unknown check 'drfit' (did you mean 'drift'?)" in result.stdout
    assert "check 'drift' has no threshold 'max_pis' (did you mean 'max_psi'?)" in result.stdout


def test_tags_are_never_executed(tmp_path):
    text = IRIS.replace("  tier: medium", "  tier: !!python/object/apply:os.system ['touch pwned']")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root)
    assert result.returncode == 2
    assert "is not allowed in specs" in result.stdout
    assert not (root / "pwned").exists()


@pytest.mark.slow
def test_github_format_annotations(tmp_path):
    text = IRIS.replace("    champion: 1.0.0", "    champion: 9.9.9")
    root = _repo(tmp_path, {"lab/iris.yaml": text})
    result = _lint(root, "--format", "github")
    line = _line_of(text, "champion: 9.9.9")
    assert f"::error file=specs/lab/iris.yaml,line={line},col=5,title=spec/undeclared-version::" in result.stdout


def test_parallel_lint_finds_duplicates_without_shipping_documents(tmp_path, monkeypatch):
    """Above the parallel threshold, workers return ids and positions only; duplicates are still caught."""
    import engine.spec.workspace as workspace

    wine = (PROJECT / "specs/beverages/wine-cultivar.yaml").read_text()
    root = _repo(tmp_path, {"lab/iris.yaml": IRIS, "lab/iris-copy.yaml": IRIS, "beverages/wine.yaml": wine})
    monkeypatch.setattr(workspace, "PARALLEL_THRESHOLD", 2)
    ws = workspace.load_workspace(root, jobs=2, keep_specs=False)
    assert ws.specs == [] and ws.files_read == 3
    [dup] = ws.diagnostics
    assert (dup.file, dup.line, dup.col, dup.rule) == ("specs/lab/iris.yaml", _line_of(IRIS, "name: iris-species"), 3,
                                                       "spec/duplicate-id")
    full = workspace.load_workspace(root, jobs=2)
    assert sorted(s.id for s in full.specs) == ["beverages/wine-cultivar", "lab/iris-species"]
