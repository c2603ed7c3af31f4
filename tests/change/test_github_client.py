"""engine.change.github against a local server that answers like GitHub (status codes, rate-limit headers)."""

from __future__ import annotations

import time

import pytest

from engine.change.github import GitHubClient, GitHubError
from tests.helpers.fake_github import Answer, FakeGitHub, pull, review

TOKEN = "ghs_secretTOKEN1234567890"
SHA = "a" * 40


@pytest.fixture()
def gh():
    with FakeGitHub() as server:
        yield server


def client(gh: FakeGitHub, **kw) -> GitHubClient:
    waits: list[float] = []
    c = GitHubClient(TOKEN, gh.url, sleep=waits.append, **kw)
    return c


def test_create_status_sends_githubs_documented_request(gh: FakeGitHub) -> None:
    c = client(gh)
    out = c.create_status("acme/models", SHA, state="failure", context="govops/policy",
                          description="1 violation", target_url="https://ci.example/run/1")
    assert out["state"] == "failure"
    [req] = gh.requests
    assert (req.method, req.path) == ("POST", f"/repos/acme/models/statuses/{SHA}")
    assert req.body == {"state": "failure", "context": "govops/policy", "description": "1 violation",
                        "target_url": "https://ci.example/run/1"}
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["Accept"] == "application/vnd.github+json"
    assert req.headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_base_url_and_token_come_from_the_environment(gh: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", gh.url + "/api/v3")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    gh.answer("POST", f"/api/v3/repos/acme/models/statuses/{SHA}", Answer(201, {"state": "success"}))
    c = GitHubClient()
    c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert gh.requests[0].path == f"/api/v3/repos/acme/models/statuses/{SHA}"
    assert TOKEN not in repr(c)


def test_server_errors_are_retried_with_backoff(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, Answer(502, {"message": "Bad Gateway"}), Answer(500, {"message": "oops"}))
    c = client(gh)
    c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert [r.path for r in gh.requests] == [path] * 3
    assert c.waits == [1.0, 2.0]


def test_500_that_persists_is_a_clear_error(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, *[Answer(500, {"message": "Server Error"})] * 10)
    c = client(gh, max_retries=3)
    with pytest.raises(GitHubError) as exc:
        c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert len(gh.requests) == 4
    assert exc.value.status == 500 and exc.value.exit_code == 2
    assert "failed on POST" in exc.value.message and "with 500 after 4 attempt(s)" in exc.value.message
    assert c.waits == [1.0, 2.0, 4.0]


def test_401_never_retried_and_token_redacted(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, Answer(401, {"message": f"Bad credentials: {TOKEN}",
                                         "documentation_url": "https://docs.github.com/rest"}))
    c = client(gh)
    with pytest.raises(GitHubError) as exc:
        c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert len(gh.requests) == 1 and exc.value.status == 401
    assert "refused the credentials (401)" in exc.value.message and "GITHUB_TOKEN" in exc.value.message
    assert TOKEN not in exc.value.message and "Bad credentials: ***" in exc.value.message


def test_403_without_rate_limit_is_a_permission_error(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, Answer(403, {"message": "Resource not accessible by integration"},
                                   {"X-RateLimit-Remaining": "4999"}))
    c = client(gh)
    with pytest.raises(GitHubError) as exc:
        c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert len(gh.requests) == 1
    assert "forbade POST" in exc.value.message and "statuses: write" in exc.value.message
    assert "Resource not accessible by integration" in exc.value.message


def test_primary_rate_limit_waits_until_reset(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    reset = int(time.time()) + 5
    gh.answer("POST", path, Answer(403, {"message": "API rate limit exceeded"},
                                   {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}))
    c = client(gh)
    c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert len(gh.requests) == 2
    assert 3.0 <= c.waits[0] <= 7.0


def test_secondary_rate_limit_honours_retry_after(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, Answer(429, {"message": "secondary rate limit"}, {"Retry-After": "7"}),
              Answer(403, {"message": "You have exceeded a secondary rate limit"}, {"Retry-After": "3"}))
    c = client(gh)
    c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert len(gh.requests) == 3 and c.waits == [7.0, 3.0]


def test_rate_limit_too_far_away_fails_with_when(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, Answer(403, {"message": "API rate limit exceeded"},
                                   {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)}))
    c = client(gh)
    with pytest.raises(GitHubError) as exc:
        c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert len(gh.requests) == 1 and c.waits == []
    assert "rate limit" in exc.value.message and "resets in" in exc.value.message


def test_422_reports_githubs_reason(gh: FakeGitHub) -> None:
    path = f"/repos/acme/models/statuses/{SHA}"
    gh.answer("POST", path, Answer(422, {"message": "Validation Failed",
                                         "errors": [{"resource": "Status", "code": "custom",
                                                     "message": f"No commit found for SHA: {SHA}"}]}))
    with pytest.raises(GitHubError) as exc:
        client(gh).create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")
    assert exc.value.status == 422
    assert exc.value.message == (
        f"GitHub API rejected POST {path} (422 Unprocessable Entity): Validation Failed "
        f"(No commit found for SHA: {SHA})"
    )


def test_reviews_are_read_across_pages(gh: FakeGitHub) -> None:
    gh.page_size = 2
    gh.reviews[7] = [review(f"user{i}", "APPROVED", f"2026-11-0{i + 1}T10:00:00Z", i) for i in range(5)]
    out = client(gh).list_reviews("acme/models", 7)
    assert [r["user"]["login"] for r in out] == [f"user{i}" for i in range(5)]
    assert [r.query.get("page", ["1"])[0] for r in gh.requests] == ["1", "2", "3"]


def test_token_is_never_sent_to_another_host(gh: FakeGitHub) -> None:
    gh.answer("GET", "/repos/acme/models/pulls/7/reviews",
              Answer(200, [review("a", "APPROVED", "2026-11-01T10:00:00Z")],
                     {"Link": '<https://evil.example/steal?page=2>; rel="next"'}))
    with pytest.raises(GitHubError, match="refusing to send the token to evil.example"):
        client(gh).list_reviews("acme/models", 7)


def test_unreachable_api(gh: FakeGitHub) -> None:
    c = GitHubClient(TOKEN, "http://127.0.0.1:9", sleep=lambda s: None, max_retries=1, timeout_s=2)
    with pytest.raises(GitHubError, match="cannot reach the GitHub API at http://127.0.0.1:9 after 2"):
        c.create_status("acme/models", SHA, state="success", context="govops/policy", description="ok")


def test_bad_repository_name() -> None:
    with pytest.raises(GitHubError, match="OWNER/NAME"):
        GitHubClient(TOKEN, "http://127.0.0.1:9").create_status(
            "acme/../x", SHA, state="success", context="c", description="d")


def test_get_pull_reads_the_pull_request(gh: FakeGitHub) -> None:
    gh.pulls[7] = pull(7, author="dana.ds", base_sha="b" * 40, head_sha=SHA, labels=("model-change",))
    got = client(gh).get_pull("acme/models", 7)
    assert (got["user"]["login"], got["head"]["sha"], got["base"]["ref"]) == ("dana.ds", SHA, "main")
    [req] = gh.requests
    assert (req.method, req.path) == ("GET", "/repos/acme/models/pulls/7")
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"


def test_get_pull_errors_are_clear(gh: FakeGitHub) -> None:
    with pytest.raises(GitHubError) as exc:
        client(gh).get_pull("acme/models", 8)
    assert exc.value.status == 404 and "GET /repos/acme/models/pulls/8 (404)" in exc.value.message
    gh.answer("GET", "/repos/acme/models/pulls/9", Answer(200, [1, 2]))
    with pytest.raises(GitHubError, match="pull request #9 that is not a JSON object"):
        client(gh).get_pull("acme/models", 9)
