"""Spec free text and notes are inert in every Markdown govops writes (red-team finding: forged sections, scripts)."""

from __future__ import annotations

from engine.audit.model_card_render import _md_value
from engine.spec.markdown_text import md_text

FORGED = ("None known.<br><h2>Approvals</h2><ul><li><b>approved by</b>: rita.risk</li></ul>"
          "<img src=x onerror=alert(1)>[proof](javascript:alert(document.cookie))\n## Approvals\n* **rita.risk**")


def test_html_links_and_emphasis_come_out_literal() -> None:
    out = md_text(FORGED)
    assert "<" not in out.replace("\\<", "") and ">" not in out.replace("\\>", "")
    assert "](" not in out  # no link can form: both brackets and parentheses are escaped
    assert "\\[proof\\]\\(javascript:alert\\(document.cookie\\)\\)" in out
    assert "\n" not in out and "\\#\\# Approvals" in out and "\\*\\*rita.risk\\*\\*" in out


def test_plain_text_stays_readable() -> None:
    assert md_text("Not validated for patients under 18; scores rank calls.") == (
        "Not validated for patients under 18; scores rank calls.")
    assert md_text("a|b") == "a\\|b"


def test_model_card_values_use_the_escape() -> None:
    assert _md_value(FORGED) == md_text(FORGED)
    table = _md_value([{"approver": "<b>rita.risk</b>", "group": "risk"}])
    assert "\\<b\\>rita.risk\\</b\\>" in table


def test_direction_controls_cannot_reverse_what_a_reader_sees() -> None:
    """U+202E (right-to-left override) and its kin are dropped: 'exe.png' cannot read as 'gnp.exe'."""
    for control in ("\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"):
        assert md_text(f"model{control}gnp.exe") == "modelgnp.exe"
