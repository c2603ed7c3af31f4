"""The one sticky PR comment: the summary, found again by a hidden marker and edited in place.

A pull request gets one govops comment, whatever the number of pushes: each run looks for
the comment holding ``MARKER`` and edits it, and only posts one when there is none. The
marker is text anyone can type, so it is only trusted on a comment written by the token's
own identity: a PR author who pastes it into their own comment neither gets that comment
edited nor hides the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.report import PrReport, get
from engine.report.checks import truncate

MARKER = "<!-- govops:summary -->"
BODY_MAX = 65536
"""GitHub's limit on a comment's body."""


def body(report: PrReport) -> str:
    """The comment: the marker (invisible once rendered), then the Markdown summary."""
    return truncate(f"{MARKER}\n{get('markdown').render(report)}", BODY_MAX)


def ours(comment: dict[str, Any], login: str) -> bool:
    """The comment carries the marker and was written by ``login`` (the token's identity)."""
    user = comment.get("user")
    author = user.get("login") if isinstance(user, dict) else None
    text = comment.get("body")
    return author == login and isinstance(text, str) and MARKER in text


def upsert(
    list_comments: Callable[[], list[dict[str, Any]]],
    create: Callable[[str], dict[str, Any]],
    update: Callable[[int, str], dict[str, Any]],
    login: str,
    text: str,
) -> str:
    """Edit the oldest comment of ours holding the marker, or post one; returns ``"updated"`` or ``"created"``."""
    mine = next((c for c in list_comments() if ours(c, login) and isinstance(c.get("id"), int)), None)
    if mine is None:
        create(text)
        return "created"
    update(int(mine["id"]), text)  # every run, so the comment always shows the latest run
    return "updated"
