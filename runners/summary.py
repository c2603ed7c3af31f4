r"""A short Markdown summary of one check result: the human-readable artifact next to the result JSON.

Validation stage. ``python -m runners CHECK ... --out FILE --summary FILE`` writes it so the
Argo UI shows a reviewer model, version, check, verdict, each metric against its threshold,
the reasons, the champion and the digests of the files read, without opening JSON. The JSON
stays the evidence; this page only restates it.

Everything in a result can carry pull-request text (model ids, feature names in metric
scopes, notes, error messages that quote the spec), so every value is made inert the way
``engine.spec.markdown_text.md_text`` does it (every ASCII character Markdown or inline HTML
gives a meaning to is backslash-escaped, line breaks become spaces: no raw HTML, links, images
or table breaks), has control characters blanked and ``://`` and ``www.`` escaped so renderers
do not autolink it, and is cut to
a bounded length; the page as a whole has a bounded number of rows and characters. This module
writes only the file it is given (through a temporary file beside it, renamed into place).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from engine.spec.check_result import CheckResult, Metric, unjudged
from engine.spec.markdown_text import md_text

MAX_TEXT = 500  # characters of one free-text value (summary, error, note)
MAX_CELL = 120  # characters of one name in a table cell (metric, scope, role, URI)
MAX_ROWS = 50  # metric rows and input rows, each
MAX_CHARS = 32 * 1024  # the whole page
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_SCHEME = re.compile(r":(?=//)")
_WWW = re.compile(r"(?i)(www)\.")


def text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as inert one-line Markdown of at most ``limit`` source characters."""
    raw = _CONTROL.sub(" ", str(value))
    if len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return _WWW.sub(r"\1\\.", _SCHEME.sub(r"\\:", md_text(raw)))


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def held(m: Metric) -> str:
    """Whether the metric held its threshold, with the same fail-closed reading as the verdict."""
    if m.passed is True:
        verdict = "yes"
    elif m.passed is False:
        verdict = "no"
    elif not m.applicable:
        verdict = "not applicable"
    elif unjudged(m):
        verdict = "no (not judged)"
    elif m.threshold is None:
        verdict = "no threshold"
    else:
        verdict = "not judged"
    return verdict if m.gate else f"{verdict} (evidence, not gating)"


def render(result: CheckResult) -> str:
    """The Markdown page for ``result`` (at most ``MAX_CHARS`` characters)."""
    lines = [
        f"# {text(result.check, MAX_CELL)}: {text(result.status, MAX_CELL)}",
        "",
        f"- Model: {text(result.model or 'unknown', MAX_CELL)}",
        f"- Version: {text(result.version or 'unknown', MAX_CELL)}",
        f"- Check: {text(result.check, MAX_CELL)}",
        f"- Verdict: **{text(result.status, MAX_CELL)}**",
    ]
    if result.champion:
        lines.append(f"- Champion: {text(result.champion, MAX_CELL)}")
    if result.summary:
        lines.append(f"- Summary: {text(result.summary)}")
    if result.error:
        lines.append(f"- Error: {text(result.error)}")
    if result.metrics:
        lines += ["", "## Metrics", "", "| Metric | Scope | Value | Threshold | Held | Note |",
                  "|---|---|---|---|---|---|"]
        for m in result.metrics[:MAX_ROWS]:
            threshold = f"{m.op} {m.threshold:g}" if m.threshold is not None and m.op else "—"
            note = text(m.note, MAX_CELL) if m.note else ""
            lines.append(f"| {text(m.name, MAX_CELL)} | {text(m.scope, MAX_CELL)} | {_number(m.value)} "
                         f"| {threshold} | {held(m)} | {note} |")
        if len(result.metrics) > MAX_ROWS:
            lines.append(f"\n{len(result.metrics) - MAX_ROWS} more metrics in the result JSON.")
    if result.inputs:
        lines += ["", "## Inputs", "", "| Role | URI | sha256 |", "|---|---|---|"]
        for i in result.inputs[:MAX_ROWS]:
            lines.append(f"| {text(i.role, MAX_CELL)} | {text(i.uri, MAX_CELL)} | {text(i.sha256, 64)} |")
        if len(result.inputs) > MAX_ROWS:
            lines.append(f"\n{len(result.inputs) - MAX_ROWS} more inputs in the result JSON.")
    page = "\n".join(lines) + "\n"
    if len(page) > MAX_CHARS:  # cut at a line end: every line is escaped on its own
        page = page[: page.rfind("\n", 0, MAX_CHARS - 60) + 1] + "\n(cut here: see the result JSON)\n"
    return page


def write(result: CheckResult, path: Path) -> None:
    """Write the page to ``path`` (parent folders created) atomically, through a temporary file beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o644)  # as readable as the result JSON beside it (mkstemp makes 0600)
            fh.write(render(result))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
