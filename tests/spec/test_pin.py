"""`govops pin`: re-pins changed digests in place, byte for byte elsewhere; a missing file is exit 2 at its uri."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.spec.errors import InputError
from engine.spec.pinning import pin_text
from tests.conftest import PROJECT

IRIS = "specs/lab/iris-species.yaml"
EVAL = "artifacts/data/iris/evaluation.csv"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """govops.yaml, the iris spec and the files it names (no git needed)."""
    root = tmp_path / "repo"
    (root / "specs/lab").mkdir(parents=True)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    shutil.copy(PROJECT / IRIS, root / IRIS)
    for rel in ("artifacts/data/iris", "artifacts/models/lab/iris-species"):
        shutil.copytree(PROJECT / rel, root / rel)
    return root


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unchanged_files_leave_the_spec_untouched(repo, capsys):
    before = (repo / IRIS).read_bytes()
    assert main(["-C", str(repo), "pin"]) == 0
    assert "re-pinned 0 digest(s) in 1 spec(s)" in capsys.readouterr().out
    assert (repo / IRIS).read_bytes() == before


def test_a_changed_file_is_repinned_in_place_and_nothing_else_changes(repo, capsys):
    before = (repo / IRIS).read_text()
    with (repo / EVAL).open("a") as fh:
        fh.write("5.0,3.0,1.5,0.2,0\n")
    new = hashlib.sha256((repo / EVAL).read_bytes()).hexdigest()
    old = hashlib.sha256((PROJECT / EVAL).read_bytes()).hexdigest()
    assert main(["-C", str(repo), "pin", str(repo / IRIS)]) == 0
    out = capsys.readouterr().out
    line = _line_of(before, f"uri: {EVAL}")
    col = before.splitlines()[line - 1].index(old) + 1
    assert f"{IRIS}:{line}:{col}: re-pinned {EVAL}: {old[:12]} -> {new[:12]}" in out
    after = (repo / IRIS).read_text()
    assert after == before.replace(old, new)  # comments, the schema line, flow style: all as they were
    assert after.startswith("# yaml-language-server: $schema=")
    assert main(["-C", str(repo), "lint"]) == 0


def test_check_writes_nothing_and_exits_1_when_a_digest_is_stale(repo, capsys):
    (repo / EVAL).write_text((repo / EVAL).read_text() + "5.0,3.0,1.5,0.2,0\n")
    before = (repo / IRIS).read_bytes()
    assert main(["-C", str(repo), "pin", "--check"]) == 1
    assert "would re-pin 1 digest(s)" in capsys.readouterr().out
    assert (repo / IRIS).read_bytes() == before


def test_a_missing_file_is_exit_2_at_the_uri_and_the_spec_is_left_alone(repo, capsys):
    artifact = "artifacts/models/lab/iris-species/1.1.0/model.joblib"
    (repo / artifact).unlink()
    (repo / EVAL).write_text((repo / EVAL).read_text() + "5.0,3.0,1.5,0.2,0\n")  # would be re-pinned otherwise
    before = (repo / IRIS).read_text()
    assert main(["-C", str(repo), "pin"]) == 2
    err = capsys.readouterr().err
    line = _line_of(before, f"uri: {artifact}")
    col = before.splitlines()[line - 1].index("uri:") + 1
    assert err.startswith(f"{IRIS}:{line}:{col}: error: cannot pin {artifact}: ")
    assert "does not exist" in err and "Traceback" not in err
    assert (repo / IRIS).read_text() == before


def test_quoted_block_and_crlf_digests_are_replaced_exactly(tmp_path):
    (tmp_path / "m.bin").write_bytes(b"model")
    (tmp_path / "d.csv").write_bytes(b"a,b\n1,2\n")
    digest = hashlib.sha256(b"model").hexdigest()
    text = (
        "# keep me\r\n"
        "a:\r\n"
        "  uri: m.bin   # the model\r\n"
        "  sha256: \"" + "0" * 64 + "\"  # stale\r\n"
        "b: {uri: d.csv, sha256: '" + "1" * 64 + "'}\r\n"
        "c: {uri: s3://bucket/key.csv, sha256: " + "2" * 64 + "}\r\n"
    )
    out = pin_text(text, tmp_path, "x.yaml")
    data = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert out.text == text.replace('"' + "0" * 64 + '"', digest).replace("'" + "1" * 64 + "'", data)
    assert [(r.line, r.col, r.uri) for r in out.repinned] == [(4, 11, "m.bin"), (5, 25, "d.csv")]
    assert out.skipped == ["s3://bucket/key.csv"]


def test_a_uri_outside_the_repository_is_refused_at_its_position(tmp_path):
    text = "a:\n  uri: ../outside.bin\n  sha256: " + "0" * 64 + "\n"
    with pytest.raises(InputError) as err:
        pin_text(text, tmp_path, "x.yaml")
    assert (err.value.file, err.value.line, err.value.col) == ("x.yaml", 2, 3)
    assert "has a '..' segment" in err.value.message


def test_an_empty_digest_is_filled_in(tmp_path):
    (tmp_path / "m.bin").write_bytes(b"model")
    digest = hashlib.sha256(b"model").hexdigest()
    text = "a:\n  uri: m.bin\n  sha256:\n  runtime: x.Y\nb: {uri: m.bin, sha256: }\n"
    out = pin_text(text, tmp_path, "x.yaml")
    assert out.text == f"a:\n  uri: m.bin\n  sha256: {digest}\n  runtime: x.Y\nb: {{uri: m.bin, sha256: {digest} }}\n"


def test_a_spec_that_is_a_symlink_is_refused_and_its_target_left_alone(repo, tmp_path, capsys):
    """A committed `specs/lab/evil.yaml -> /elsewhere/spec.yaml` must not make pin rewrite the target."""
    victim = tmp_path / "victim.yaml"
    victim.write_bytes((repo / IRIS).read_bytes())
    (repo / EVAL).write_text((repo / EVAL).read_text() + "5.0,3.0,1.5,0.2,0\n")  # the victim's digest is stale
    (repo / "specs/lab/evil.yaml").symlink_to(victim)
    before = victim.read_bytes()
    assert main(["-C", str(repo), "pin", str(repo / "specs/lab/evil.yaml")]) == 2
    err = capsys.readouterr().err
    assert "specs/lab/evil.yaml is a symbolic link" in err and "Traceback" not in err
    assert victim.read_bytes() == before
