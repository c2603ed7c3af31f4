r"""Text made inert in Markdown: one escape for every Markdown govops writes (audit pages, step summaries).

Spec free text (``metadata.limitations``, descriptions, owner names) and ledger notes are
written by pull-request authors. Rendered by GitHub, MkDocs or an editor preview, raw
Markdown or HTML in them could forge sections ("Approvals: rita.risk"), add
``javascript:`` links or run scripts. Every ASCII character Markdown or inline HTML gives
a meaning to is backslash-escaped (CommonMark renders ``\X`` as a literal ``X`` for any
ASCII punctuation), and line breaks become spaces so a value stays in its table cell.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>&|!~#])")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Direction controls: U+202E would show a value's text reversed (``gnp.exe`` for ``exe.png``)."""


def md_text(text: str) -> str:
    """``text`` as literal Markdown inline text: special characters escaped, direction controls dropped, on one line."""
    return _BIDI.sub("", _SPECIAL.sub(r"\\\1", text)).replace("\r", " ").replace("\n", " ")
