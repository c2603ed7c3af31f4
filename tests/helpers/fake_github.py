"""A local HTTP server that answers like the GitHub REST API and records every request.

Tests script answers per (method, path) (status, headers, JSON body), in order; anything
not scripted gets GitHub's documented success answer (201 + the status for
``POST /repos/{o}/{r}/statuses/{sha}``, the review list for ``GET …/pulls/{n}/reviews``,
paginated with a ``Link`` header like GitHub's, the pull request set in ``pulls`` for
``GET …/pulls/{n}``, 404 for one not set).
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
        self._serve(self._handler())

    def answer(self, method: str, path: str, *answers: Answer) -> None:
        self.script.setdefault((method, path), []).extend(answers)

    def statuses(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.method == "POST" and "/statuses/" in r.path]

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

        return Handler

    def _default(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        parts = path.strip("/").split("/")
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
