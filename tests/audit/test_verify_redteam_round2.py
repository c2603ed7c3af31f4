"""Red-team round 2 against ``govops verify`` (2026-12-06), each finding held by a test.

N1: the tip's govops.yaml dropped ``ledger:`` and a rollout record was rewritten, unsigned: the
anchor tags show the ledger was signed, so that is a failure. N3/N5/N6: the caller's git
settings and environment (``core.warnAmbiguousRefs=false``, ``i18n.logOutputEncoding=UTF-16``,
a hook's ``GIT_DIR``) change nothing. N7–N10: hand-written note lines and anchor tags (deep
JSON, a lone surrogate as a commit, a seq of a million, ``seq-²``) are findings, never a crash.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from tests.audit.test_trail_tamper import build_trail

pytestmark = [pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is needed to sign notes"),
              pytest.mark.slow]


def verify_json(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["-C", str(path), "verify", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_dropping_the_ledger_declaration_does_not_switch_off_its_checks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trail = build_trail(tmp_path)
    assert trail.git("tag", "-l", "govops-ledger/*")  # the signed ledger is anchored
    cfg = (trail.path / "govops.yaml").read_text()
    (trail.path / "govops.yaml").write_text(cfg.split("ledger:")[0])
    trail.commit("tidy govops.yaml", "2026-02-01T08:00:00+00:00")
    trail.rewrite_note(trail.shas["merge"], '"role":"champion","version":"1.1.0"',
                       '"role":"champion","version":"6.6.6"')
    code, doc = verify_json(trail.path, capsys)
    assert code == 1
    assert any(p["check"] == "ledger" and "protection was removed" in p["message"] for p in doc["problems"])


def test_the_callers_git_settings_and_environment_change_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    trail = build_trail(tmp_path)
    plain = verify_json(trail.path, capsys)
    assert plain[0] == 0
    trail.git("config", "i18n.logOutputEncoding", "UTF-16")
    assert verify_json(trail.path, capsys) == plain
    other = build_trail(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))  # as a git hook sets it
    monkeypatch.setenv("GIT_WORK_TREE", str(other.path))
    assert verify_json(trail.path, capsys) == plain
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    trail.git("config", "core.warnAmbiguousRefs", "false")
    trail.git("tag", "main", trail.shas["initial"])
    assert main(["-C", str(trail.path), "verify", "--ref", "main"]) == 2
    assert "is ambiguous" in capsys.readouterr().err


@pytest.mark.parametrize("line", [
    "[" * 100_000 + "]" * 100_000,
    '{"kind":"govops.rollout/v1","seq":2,"prev":"\\ud800","commit":"\\ud800"}',
    '{"kind":"govops.rollout/v1","seq":1000000,"prev":null}',
    '{"kind":"govops.rollout/v1","seq":0,"prev":null}',
])
def test_a_hand_written_note_line_is_a_finding_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str) -> None:
    trail = build_trail(tmp_path)
    merge = trail.shas["merge"]
    note = tmp_path / "note.txt"
    note.write_text(trail.note(merge).rstrip("\n") + "\n" + line + "\n")
    trail.git("notes", "--ref", "govops", "add", "-f", "-F", str(note), merge)
    code, doc = verify_json(trail.path, capsys)
    assert code == 1 and doc["problems"]
    assert len(doc["problems"]) < 20  # a seq of a million is one gap, not a million findings


def test_an_anchor_tag_with_a_non_ascii_digit_is_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trail = build_trail(tmp_path)
    trail.git("tag", "govops-ledger/govops/seq-\u00b2", trail.shas["merge"])
    code, _ = verify_json(trail.path, capsys)
    assert code in (0, 1)
