"""A number longer than Python converts (4,300 decimal digits) is a YAML error at file:line:col, never a crash.

Python refuses ``int()`` of such a string with a ValueError; the loader used to let it out of
``parse_yaml``, so ``govops lint`` ended in an internal error (exit 3) and verify, which reads
the ``ledger.allowedSigners`` of every historical govops.yaml, would have crashed on one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.spec.loader import YamlError, parse_yaml
from tests.conftest import PROJECT, govops

LONG = "1" * 5000


@pytest.mark.parametrize("text", [f"a:\n  b: {LONG}\n", f"a:\n  b: -{LONG}\n", f"a:\n  b: !!int {LONG}\n",
                                  f"a:\n  b: [1, {LONG}]\n"])
def test_a_5000_digit_integer_is_a_yaml_error_with_its_position(text: str) -> None:
    with pytest.raises(YamlError) as caught:
        parse_yaml(text, "x.yaml")
    err = caught.value
    assert (err.file, err.line) == ("x.yaml", 2)
    assert err.col is not None and err.col > 1
    assert LONG not in str(err)  # the message cuts the number


def test_long_hex_and_float_and_quoted_numbers_still_load() -> None:
    doc = parse_yaml(f"a: 0x{'f' * 5000}\nb: {LONG}.5\nc: '{LONG}'\n", "x.yaml")
    assert doc.data["a"] == int("f" * 5000, 16)
    assert doc.data["c"] == LONG
    assert isinstance(doc.data["b"], float)


@pytest.mark.slow
def test_lint_of_a_spec_with_a_5000_digit_number_exits_2_at_its_line(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "specs" / "lab").mkdir(parents=True)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    shutil.copytree(PROJECT / "artifacts", root / "artifacts")
    spec = (PROJECT / "specs/lab/iris-species.yaml").read_text()
    assert "weight: 20" in spec
    spec = spec.replace("weight: 20", f"weight: {LONG}", 1)
    (root / "specs" / "lab" / "iris.yaml").write_text(spec)
    line = next(i for i, text in enumerate(spec.splitlines(), 1) if LONG in text)
    result = govops("-C", str(root), "lint")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"specs/lab/iris.yaml:{line}:" in result.stdout + result.stderr
    assert "too long for a number" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_draft_quotes_a_string_of_5000_digits_so_it_reads_back_as_that_string() -> None:
    from engine.spec.draft import scalar
    from engine.spec.loader import parse_yaml

    text = "9" * 5000
    written = scalar(text)
    assert written == f'"{text}"'
    assert parse_yaml(f"x: {written}\n".encode(), "t.yaml").data == {"x": text}
