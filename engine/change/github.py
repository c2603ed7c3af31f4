"""A small GitHub REST client: commit statuses, pull requests and their reviews (the report stage's transport).

The base URL comes from ``GITHUB_API_URL`` (GitHub Enterprise Server works the same),
the token from ``GITHUB_TOKEN``. Server errors (5xx) and rate limits (403/429 with
``Retry-After`` or ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``) are retried with
bounded backoff; every other error becomes a ``GitHubError`` with a message saying what
to fix. It never prints or logs the token: every message passes through ``redact``, and
the token is never sent to a host other than the API's (pagination links are checked).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from engine.spec.errors import InputError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
RETRY_STATUSES = {500, 502, 503, 504}
STATUS_STATES = ("error", "failure", "pending", "success")


class GitHubError(InputError):
    """A GitHub API call that failed (exit 2): bad token, missing permission, rejected request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubClient:
    """Calls the GitHub REST API with retries; ``sleep`` is injectable so tests need not wait.

    Retry knobs not passed come from ``GOVOPS_GITHUB_RETRIES``, ``GOVOPS_GITHUB_BACKOFF_S``
    and ``GOVOPS_GITHUB_MAX_WAIT_S`` (``engine.spec.settings``).
    """

    def __init__(
        self,
        token: str | None = None,
        api_url: str | None = None,
        *,
        max_retries: int | None = None,
        backoff_s: float | None = None,
        max_wait_s: float | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self._token = token if token is not None else os.environ.get("GITHUB_TOKEN") or None
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        from engine.spec.settings import get_settings

        settings = get_settings()
        self.max_retries = settings.github_retries if max_retries is None else max_retries
        self.backoff_s = settings.github_backoff_s if backoff_s is None else backoff_s
        self.max_wait_s = settings.github_max_wait_s if max_wait_s is None else max_wait_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._session = session or requests.Session()
        self.waits: list[float] = []

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, token={'***' if self._token else None})"

    @property
    def has_token(self) -> bool:
        """True when a token is configured (without revealing it)."""
        return bool(self._token)

    def redact(self, text: str) -> str:
        """``text`` with the token replaced by ``***``."""
        return text.replace(self._token, "***") if self._token else text

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # --- transport ----------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "govops",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _same_host(self, url: str) -> bool:
        a, b = urlsplit(url), urlsplit(self.api_url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _rate_wait(self, resp: requests.Response) -> float | None:
        """Seconds to wait if the response is a rate limit, else None."""
        if resp.status_code not in (403, 429):
            return None
        retry_after = resp.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                return self.backoff_s
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            reset = resp.headers.get("X-RateLimit-Reset")
            try:
                return max(0.0, float(reset) - time.time()) + 1.0 if reset else self.backoff_s
            except ValueError:
                return self.backoff_s
        if resp.status_code == 429:
            return self.backoff_s
        return None

    def request(self, method: str, path_or_url: str, *, json: Any = None,
                params: dict[str, Any] | None = None) -> requests.Response:
        """One API call with retries; raises ``GitHubError`` with a clear, token-free message."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.api_url + path_or_url
        if not self._same_host(url):
            raise GitHubError(f"refusing to send the token to {urlsplit(url).netloc}: not the API host")
        attempt = 0
        while True:
            try:
                resp = self._session.request(method, url, json=json, params=params, headers=self._headers(),
                                             timeout=self.timeout_s)
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    raise GitHubError(self.redact(
                        f"cannot reach the GitHub API at {self.api_url} after {attempt + 1} attempt(s): "
                        f"{type(exc).__name__}"
                    )) from None
                self._wait(min(self.backoff_s * 2**attempt, self.max_wait_s))
                attempt += 1
                continue
            wait = self._rate_wait(resp)
            if wait is not None:
                if attempt >= self.max_retries or wait > self.max_wait_s:
                    raise self._error(resp, method, url, rate_limited=True, wait=wait)
                self._wait(wait)
                attempt += 1
                continue
            if resp.status_code in RETRY_STATUSES:
                if attempt >= self.max_retries:
                    raise self._error(resp, method, url, attempts=attempt + 1)
                self._wait(min(self.backoff_s * 2**attempt, self.max_wait_s))
                attempt += 1
                continue
            if resp.status_code >= 400:
                raise self._error(resp, method, url)
            return resp

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._sleep(seconds)

    def _error(self, resp: requests.Response, method: str, url: str, *, rate_limited: bool = False,
               wait: float = 0.0, attempts: int = 1) -> GitHubError:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        gh_message = body.get("message", "") if isinstance(body, dict) else ""
        details = ""
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            details = "; ".join(
                str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
                for e in body["errors"]
            )
        what = f"{method} {urlsplit(url).path}"
        status = resp.status_code
        if rate_limited:
            msg = (f"GitHub API rate limit hit on {what}; it resets in {wait:.0f}s, longer than govops waits "
                   f"({self.max_wait_s:.0f}s) or after {self.max_retries} retries: rerun later")
        elif status == 401:
            msg = (f"GitHub API refused the credentials (401) on {what}: GITHUB_TOKEN is missing, invalid "
                   "or expired")
        elif status == 403:
            msg = (f"GitHub API forbade {what} (403): the token lacks permission; the workflow needs "
                   "`permissions: statuses: write` (and `pull-requests: read` for reviews)")
        elif status == 404:
            msg = (f"GitHub API found nothing at {what} (404): check the repository, the commit SHA, and that "
                   "the token can see the repository")
        elif status == 422:
            msg = f"GitHub API rejected {what} (422 Unprocessable Entity)"
        elif status >= 500:
            msg = f"GitHub API failed on {what} with {status} after {attempts} attempt(s); rerun the job later"
        else:
            msg = f"GitHub API returned {status} on {what}"
        if gh_message:
            msg += f": {gh_message}"
        if details:
            msg += f" ({details})"
        return GitHubError(self.redact(msg), status=status)

    # --- endpoints ----------------------------------------------------------------------------------

    def create_status(self, repo: str, sha: str, *, state: str, context: str, description: str,
                      target_url: str | None = None) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/statuses/{sha}``: one commit status."""
        if state not in STATUS_STATES:
            raise ValueError(f"state must be one of {STATUS_STATES}")
        payload: dict[str, Any] = {"state": state, "context": context, "description": description}
        if target_url:
            payload["target_url"] = target_url
        resp = self.request("POST", f"/repos/{_repo_path(repo)}/statuses/{quote(sha, safe='')}", json=payload)
        data = resp.json() if resp.content else {}
        return data if isinstance(data, dict) else {}

    def get_pull(self, repo: str, pr_number: int) -> dict[str, Any]:
        """``GET /repos/{owner}/{repo}/pulls/{n}``: the pull request as GitHub holds it now.

        The report workflow (``workflow_run``) has no ``pull_request`` payload: the PR's
        author, labels, base and current head come from here instead.
        """
        resp = self.request("GET", f"/repos/{_repo_path(repo)}/pulls/{int(pr_number)}")
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise GitHubError(f"GitHub API returned a pull request #{int(pr_number)} that is not a JSON object")
        return data

    def list_reviews(self, repo: str, pr_number: int) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/pulls/{n}/reviews``, every page, oldest first."""
        return self._all_pages(f"/repos/{_repo_path(repo)}/pulls/{int(pr_number)}/reviews", "reviews")

    def create_check_run(self, repo: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/check-runs`` (needs ``checks: write``, GitHub Apps only)."""
        return self._object(self.request("POST", f"/repos/{_repo_path(repo)}/check-runs", json=payload))

    def update_check_run(self, repo: str, run_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /repos/{owner}/{repo}/check-runs/{id}``; annotations sent here are appended to the run's."""
        path = f"/repos/{_repo_path(repo)}/check-runs/{int(run_id)}"
        return self._object(self.request("PATCH", path, json=payload))

    def list_issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """``GET /repos/{owner}/{repo}/issues/{n}/comments``, every page, oldest first (a PR is an issue)."""
        return self._all_pages(f"/repos/{_repo_path(repo)}/issues/{int(number)}/comments", "issue comments")

    def _all_pages(self, path: str, what: str) -> list[dict[str, Any]]:
        """Every object of a paginated list (100 a page, following ``Link: rel=next``); a non-list page is an error."""
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": 100}
        out: list[dict[str, Any]] = []
        while url:
            resp = self.request("GET", url, params=params)
            page = resp.json()
            if not isinstance(page, list):
                raise GitHubError(f"GitHub API returned {what} that are not a list")
            out.extend(item for item in page if isinstance(item, dict))
            url = resp.links.get("next", {}).get("url")
            params = None
        return out

    def create_issue_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        """``POST /repos/{owner}/{repo}/issues/{n}/comments``."""
        path = f"/repos/{_repo_path(repo)}/issues/{int(number)}/comments"
        return self._object(self.request("POST", path, json={"body": body}))

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        """``PATCH /repos/{owner}/{repo}/issues/comments/{id}``."""
        path = f"/repos/{_repo_path(repo)}/issues/comments/{int(comment_id)}"
        return self._object(self.request("PATCH", path, json={"body": body}))

    def authenticated_login(self) -> str | None:
        """``GET /user``'s login: who the token is; None where the API will not say (an App installation token)."""
        try:
            data = self._object(self.request("GET", "/user"))
        except GitHubError as exc:
            if exc.status in (401, 403, 404):
                return None
            raise
        login = data.get("login")
        return login if isinstance(login, str) and login else None

    @staticmethod
    def _object(resp: requests.Response) -> dict[str, Any]:
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}


def _repo_path(repo: str) -> str:
    parts = repo.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") for p in parts):
        raise GitHubError(f"repository must be OWNER/NAME, got {repo!r}")
    return "/".join(quote(p, safe="") for p in parts)
