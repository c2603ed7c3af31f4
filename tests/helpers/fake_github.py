"""A local HTTP server that answers like the GitHub REST API and records every request.

Tests script answers per (method, path) (status, headers, JSON body), in order; anything
not scripted gets GitHub's documented success answer (201 + the status for
``POST /repos/{o}/{r}/statuses/{sha}``, the review list for ``GET …/pulls/{n}/reviews``,
paginated with a ``Link`` header like GitHub's, the pull request set in ``pulls`` for
``GET …/pulls/{n}``, 404 for one not set).

Check runs and issue comments are kept as GitHub keeps them (``check_runs``, ``comments``):
``POST …/check-runs`` creates one (403 unless ``"checks"`` is in ``permissions``, as for a
token without ``checks: write``; 422 for more than 50 annotations or an unknown level or
conclusion), ``PATCH …/check-runs/{id}`` updates it and appends annotations; comments are
listed (paginated), created (403 without ``"pull-requests"``) and edited, and carry the
author: the token writes as ``{app_slug}[bot]``. ``GET /user`` answers ``user_login``, or 403
as it does for an App installation token (GITHUB_TOKEN) when that is None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers.local_http import LoopbackServer


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeGitHub(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: dict[tuple[str, str], list[Answer]] = {}
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        self.pulls: dict[int, dict[str, Any]] = {}
        self.page_size = 100
        self.permissions: set[str] = {"statuses", "pull-requests"}
        self.app_slug = "github-actions"
        self.user_login: str | None = None
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self._ids = 1000
        self._serve(self._handler())

    def answer(self, method: str, path: str, *answers: Answer) -> None:
        self.script.setdefault((method, path), []).extend(answers)

    def statuses(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.method == "POST" and "/statuses/" in r.path]

    def without_checks_and_comments(self) -> list[Recorded]:
        """The requests other than check runs, comments and ``GET /user`` (statuses, pulls, reviews)."""
        return [r for r in self.requests
                if "/check-runs" not in r.path and "/issues/" not in r.path and r.path != "/user"]

    def add_comment(self, number: int, login: str, body: str) -> dict[str, Any]:
        """A comment someone else wrote on PR ``number``."""
        self._ids += 1
        comment = {"id": self._ids, "body": body, "user": {"login": login, "type": "User"}}
        self.comments.setdefault(number, []).append(comment)
        return comment

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append(Recorded(method, parts.path, parse_qs(parts.query), dict(self.headers), body))
                queue = fake.script.get((method, parts.path))
                if queue:
                    ans = queue.pop(0)
                else:
                    ans = fake._default(method, parts.path, parse_qs(parts.query), body)
                data = b"" if ans.body is None else json.dumps(ans.body).encode()
                self.send_response(ans.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in ans.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve("PATCH")

        return Handler

    def _default(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        parts = path.strip("/").split("/")
        if path == "/user":
            if self.user_login is None:
                return Answer(403, {"message": "Resource not accessible by integration"})
            return Answer(200, {"login": self.user_login, "type": "User"})
        if len(parts) >= 4 and parts[0] == "repos" and parts[3] == "check-runs":
            return self._check_runs(method, parts, body)
        if len(parts) >= 5 and parts[0] == "repos" and parts[3] == "issues":
            return self._comments(method, path, parts, query, body)
        if method == "POST" and len(parts) == 5 and parts[0] == "repos" and parts[3] == "statuses":
            return Answer(201, {"id": len(self.requests), "url": self.url + path, **(body or {}),
                                "creator": {"login": "github-actions[bot]"}})
        if method == "GET" and len(parts) == 6 and parts[3] == "pulls" and parts[5] == "reviews":
            reviews = self.reviews.get(int(parts[4]), [])
            page = int(query.get("page", ["1"])[0])
            per = min(int(query.get("per_page", [str(self.page_size)])[0]), self.page_size)
            chunk = reviews[(page - 1) * per : page * per]
            headers = {}
            if page * per < len(reviews):
                headers["Link"] = f'<{self.url}{path}?per_page={per}&page={page + 1}>; rel="next"'
            return Answer(200, chunk, headers)
        if method == "GET" and len(parts) == 5 and parts[3] == "pulls" and int(parts[4]) in self.pulls:
            return Answer(200, self.pulls[int(parts[4])])
        return Answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def _check_runs(self, method: str, parts: list[str], body: Any) -> Answer:
        if "checks" not in self.permissions:
            return Answer(403, {"message": "Resource not accessible by integration"})
        output = (body or {}).get("output") or {}
        notes = output.get("annotations") or []
        bad = (len(notes) > 50
               or any(n.get("annotation_level") not in ("notice", "warning", "failure") for n in notes)
               or (body or {}).get("conclusion") not in (None, "action_required", "cancelled", "failure", "neutral",
                                                         "success", "skipped", "stale", "timed_out")
               or (output and not (output.get("title") and output.get("summary"))))
        if bad:
            return Answer(422, {"message": "Invalid request."})
        if method == "POST" and len(parts) == 4:
            self._ids += 1
            run = {"id": self._ids, "name": body["name"], "head_sha": body["head_sha"], "status": "queued",
                   "conclusion": None, "output": {}, "annotations": [], "app": {"slug": self.app_slug}}
            self.check_runs[run["id"]] = run
        elif method == "PATCH" and len(parts) == 5 and int(parts[4]) in self.check_runs:
            run = self.check_runs[int(parts[4])]
        else:
            return Answer(404, {"message": "Not Found"})
        run.update({k: v for k, v in (body or {}).items() if k != "output"})
        if output:
            run["annotations"] = run["annotations"] + notes  # appended, as GitHub does
            run["output"] = {k: v for k, v in output.items() if k != "annotations"}
        shown = {k: v for k, v in run.items() if k != "annotations"}
        shown["output"] = {**run["output"], "annotations_count": len(run["annotations"])}
        return Answer(201 if method == "POST" else 200, shown)

    def _comments(self, method: str, path: str, parts: list[str], query: dict[str, list[str]],
                  body: Any) -> Answer:
        me = {"login": f"{self.app_slug}[bot]", "type": "Bot"}
        if len(parts) == 6 and parts[5] == "comments" and method == "GET":
            comments = self.comments.get(int(parts[4]), [])
            page = int(query.get("page", ["1"])[0])
            per = min(int(query.get("per_page", [str(self.page_size)])[0]), self.page_size)
            headers = {}
            if page * per < len(comments):
                headers["Link"] = f'<{self.url}{path}?per_page={per}&page={page + 1}>; rel="next"'
            return Answer(200, comments[(page - 1) * per : page * per], headers)
        if "pull-requests" not in self.permissions:
            return Answer(403, {"message": "Resource not accessible by integration"})
        if len(parts) == 6 and parts[5] == "comments" and method == "POST":
            self._ids += 1
            comment = {"id": self._ids, "body": body["body"], "user": me}
            self.comments.setdefault(int(parts[4]), []).append(comment)
            return Answer(201, comment)
        if len(parts) == 6 and parts[4] == "comments" and method == "PATCH":
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == int(parts[5]):
                    comment["body"] = body["body"]
                    return Answer(200, comment)
        return Answer(404, {"message": "Not Found"})


def review(login: str, state: str, at: str, rid: int = 0, commit: str | None = "0" * 40) -> dict[str, Any]:
    """A review as the API lists it; ``commit`` is the PR's head when it was given (``commit_id``)."""
    return {"id": rid, "user": {"login": login, "type": "User"}, "state": state, "submitted_at": at,
            "commit_id": commit, "body": ""}


def pull(number: int, *, author: str, base_sha: str, head_sha: str, base_ref: str = "main",
         labels: tuple[str, ...] = (), repo: str = "acme/models") -> dict[str, Any]:
    """A pull request as ``GET /repos/{o}/{r}/pulls/{n}`` returns it (the fields govops reads, and a few more)."""
    return {
        "url": f"https://api.github.com/repos/{repo}/pulls/{number}", "number": number, "state": "open",
        "title": "a change", "user": {"login": author, "type": "User"},
        "labels": [{"id": i, "name": name, "color": "ededed"} for i, name in enumerate(labels)],
        "base": {"label": "acme:main", "ref": base_ref, "sha": base_sha, "repo": {"full_name": repo}},
        "head": {"label": "acme:feature", "ref": "feature", "sha": head_sha, "repo": {"full_name": repo}},
        "draft": False, "merged": False,
    }
