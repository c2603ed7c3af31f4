"""engine.change.context: the change-request context from a GitHub event payload, the reviews API, or flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.change.context import approvals_from_reviews, build_context, from_event_file, parse_approved_by
from engine.change.github import GitHubClient
from engine.spec.errors import InputError
from engine.spec.workspace import load_config
from tests.helpers.fake_github import FakeGitHub, review
from tests.helpers.pr_helpers import PROJECT


@pytest.fixture(scope="module")
def config():
    cfg, _, _ = load_config(PROJECT)
    return cfg


def payload(**pr_over) -> dict:
    pr = {
        "number": 42,
        "user": {"login": "dana.ds"},
        "labels": [{"name": "model-change"}, {"name": "high-tier"}],
        "base": {"ref": "main", "sha": "b" * 40},
        "head": {"ref": "feature", "sha": "c" * 40},
    }
    pr.update(pr_over)
    return {"action": "synchronize", "number": 42, "pull_request": pr,
            "repository": {"full_name": "acme/models"}}


def write(tmp_path: Path, doc) -> Path:
    p = tmp_path / "event.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def test_event_payload(tmp_path: Path) -> None:
    ctx = from_event_file(write(tmp_path, payload()), "pull_request")
    assert (ctx.author, ctx.pr_number, ctx.target_branch) == ("dana.ds", 42, "main")
    assert ctx.labels == ["model-change", "high-tier"]
    assert (ctx.base_sha, ctx.head_sha, ctx.repository) == ("b" * 40, "c" * 40, "acme/models")
    assert ctx.to_policy() == {"author": "dana.ds", "approvals": [], "labels": ["model-change", "high-tier"],
                               "changed_files": [], "target_branch": "main", "pr_number": 42}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"pull_request": {"number": 1,', "malformed event payload: not JSON"),
        ("[1, 2]", "the document must be a JSON object"),
        ({"ref": "refs/heads/main", "commits": []}, "has no pull_request (event pull_request)"),
        (payload(user={"id": 3}), "missing pull_request.user.login"),
        (payload(labels="bug"), "pull_request.labels must be list, got str"),
        (payload(labels=[{"color": "red"}]), "pull_request.labels[0].name must be str"),
        (payload(base={"ref": "main"}), "missing pull_request.base.sha"),
        (payload(head={"sha": 12}), "pull_request.head.sha must be str, got int"),
        ({**payload(), "number": "42", "pull_request": {**payload()["pull_request"], "number": "42"}},
         "number must be int"),
    ],
)
def test_malformed_payload(tmp_path: Path, doc, message: str) -> None:
    with pytest.raises(InputError) as exc:
        from_event_file(write(tmp_path, doc), "pull_request")
    assert message in exc.value.message
    assert exc.value.exit_code == 2 and exc.value.file == str(tmp_path / "event.json")


def test_not_json_points_at_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        from_event_file(write(tmp_path, '{\n  "pull_request": ,\n}'))
    assert (exc.value.line, exc.value.col) == (2, 19)
    assert exc.value.render().startswith(f"{tmp_path / 'event.json'}:2:19: error: malformed event payload")


def test_latest_decisive_review_per_reviewer(config) -> None:
    reviews = [
        review("rita.risk", "APPROVED", "2026-11-20T10:00:00Z", 1),
        review("fay.lead", "APPROVED", "2026-11-20T11:00:00Z", 2),
        review("rita.risk", "COMMENTED", "2026-11-20T12:00:00Z", 3),  # a comment keeps the approval
        review("omar.compliance", "APPROVED", "2026-11-20T09:00:00Z", 4),
        review("omar.compliance", "CHANGES_REQUESTED", "2026-11-20T13:00:00Z", 5),
        review("priya.platform", "APPROVED", "2026-11-20T09:00:00Z", 6),
        review("priya.platform", "DISMISSED", "2026-11-20T14:00:00Z", 7),
        review("dana.ds", "APPROVED", "2026-11-20T15:00:00Z", 8),  # the author
        review("zed.guest", "PENDING", "", 9),
    ]
    assert approvals_from_reviews(reviews, config, author="dana.ds").current == [
        {"approver": "fay.lead", "group": None},
        {"approver": "rita.risk", "group": "risk"},
    ]


HEAD, OLDER = "c" * 40, "a" * 40


def test_an_approval_of_an_older_commit_is_stale(config) -> None:
    reviews = [
        review("rita.risk", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=OLDER),  # then the author pushed
        review("fay.lead", "APPROVED", "2026-11-20T10:00:00Z", 2, commit=OLDER),
        review("fay.lead", "APPROVED", "2026-11-20T12:00:00Z", 3, commit=HEAD),  # approved again
        review("omar.compliance", "APPROVED", "2026-11-20T09:00:00Z", 4, commit=None),  # commit gone (force-push)
    ]
    got = approvals_from_reviews(reviews, config, author="dana.ds", head_sha=HEAD)
    assert got.current == [{"approver": "fay.lead", "group": None}]
    assert got.stale == [{"approver": "omar.compliance", "group": "risk", "commit": None},
                         {"approver": "rita.risk", "group": "risk", "commit": OLDER}]
    # a later approval on an older commit does not bring a stale one back, nor does a comment
    reviews.append(review("rita.risk", "COMMENTED", "2026-11-20T13:00:00Z", 5, commit=HEAD))
    assert approvals_from_reviews(reviews, config, head_sha=HEAD).stale[1]["approver"] == "rita.risk"
    # without the head commit (off Actions) nothing can be stale
    assert approvals_from_reviews(reviews, config, author="dana.ds").stale == []


def test_stale_approvals_keep_counts_every_approval(config) -> None:
    keep = config.model_copy(update={"stale_approvals": "keep"})
    reviews = [review("rita.risk", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=OLDER)]
    got = approvals_from_reviews(reviews, keep, head_sha=HEAD)
    assert got.current == [{"approver": "rita.risk", "group": "risk"}] and got.stale == []


def test_approved_by_flags(config) -> None:
    assert parse_approved_by(["rita.risk", "sam.sre", "x.ext:auditors"], config) == [
        {"approver": "rita.risk", "group": "risk"},
        {"approver": "sam.sre", "group": "ml-platform"},
        {"approver": "x.ext", "group": "auditors"},
    ]
    for bad in ("rita.risk:", ":risk"):
        with pytest.raises(InputError, match="USER or USER:GROUP"):
            parse_approved_by([bad], config)


def test_build_context_on_actions_reads_reviews(tmp_path: Path, config) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(write(tmp_path, payload())),
           "GITHUB_EVENT_NAME": "pull_request"}
    with FakeGitHub() as gh:
        gh.reviews[42] = [review("rita.risk", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=HEAD),
                          review("fay.lead", "APPROVED", "2026-11-20T10:00:00Z", 2, commit=OLDER)]
        c = GitHubClient("t0ken", gh.url)
        ctx = build_context(config=config, env=env, labels=["extra"], fetch_reviews=c.list_reviews)
        assert [r.path for r in gh.requests] == ["/repos/acme/models/pulls/42/reviews"]
    assert ctx.approvals == [{"approver": "rita.risk", "group": "risk"}]
    assert ctx.stale_approvals == [{"approver": "fay.lead", "group": None, "commit": OLDER}]
    assert ctx.to_json()["stale_approvals"] == ctx.stale_approvals and "stale_approvals" not in ctx.to_policy()
    assert ctx.labels == ["extra", "high-tier", "model-change"]
    # flags override the payload and the API
    ctx = build_context(config=config, env=env, author="eli.mle", approved_by=["fay.lead"],
                        fetch_reviews=lambda *a: pytest.fail("reviews must not be read"))
    assert ctx.author == "eli.mle" and ctx.approvals == [{"approver": "fay.lead", "group": None}]


def test_build_context_off_actions_uses_flags_only(tmp_path: Path, config) -> None:
    env = {"GITHUB_EVENT_PATH": str(write(tmp_path, payload()))}  # not on Actions: payload ignored
    ctx = build_context(config=config, env=env, author="kim.ds", labels=["x"], pr_number=3)
    assert (ctx.author, ctx.labels, ctx.pr_number, ctx.base_sha) == ("kim.ds", ["x"], 3, None)


# --- workflow_run: the report workflow reads the PR from the API ------------------------------------------

RUN_HEAD = "d" * 40


def run_payload(number: int | None = 42, head: str = RUN_HEAD) -> dict:
    """A ``workflow_run`` (completed) payload as GitHub sends it to the report workflow (the fields read)."""
    pulls = [] if number is None else [{"number": number, "head": {"ref": "feature", "sha": head},
                                        "base": {"ref": "main", "sha": "b" * 40}}]
    return {"action": "completed", "repository": {"full_name": "acme/models"},
            "workflow_run": {"id": 555, "name": "govops PR check", "event": "pull_request", "head_sha": head,
                             "head_branch": "feature", "conclusion": "success", "pull_requests": pulls}}


def run_env(tmp_path: Path, doc: dict) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(write(tmp_path, doc)),
            "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_REPOSITORY": "acme/models"}


def gh_pull(head: str = RUN_HEAD, **kw) -> dict:
    from tests.helpers.fake_github import pull

    return pull(42, author="dana.ds", base_sha="b" * 40, head_sha=head, labels=("model-change",), **kw)


@pytest.mark.slow
def test_workflow_run_reads_the_pr_from_the_api(tmp_path: Path, config) -> None:
    with FakeGitHub() as gh:
        gh.pulls[42] = gh_pull()
        gh.reviews[42] = [review("rita.risk", "APPROVED", "2026-11-20T10:00:00Z", 1, commit=RUN_HEAD)]
        c = GitHubClient("t0ken", gh.url)
        ctx = build_context(config=config, env=run_env(tmp_path, run_payload()), fetch_pull=c.get_pull,
                            fetch_reviews=c.list_reviews)
        assert [r.path for r in gh.requests] == ["/repos/acme/models/pulls/42", "/repos/acme/models/pulls/42/reviews"]
    assert (ctx.author, ctx.labels, ctx.target_branch, ctx.pr_number) == ("dana.ds", ["model-change"], "main", 42)
    assert (ctx.base_sha, ctx.head_sha, ctx.repository, ctx.event) == ("b" * 40, RUN_HEAD, "acme/models",
                                                                        "workflow_run")
    assert ctx.approvals == [{"approver": "rita.risk", "group": "risk"}]
    # flags still override what the API says
    with FakeGitHub() as gh:
        gh.pulls[42] = gh_pull()
        ctx = build_context(config=config, env=run_env(tmp_path, run_payload()), author="eli.mle", labels=["x"],
                            fetch_pull=GitHubClient("t0ken", gh.url).get_pull)
    assert ctx.author == "eli.mle" and ctx.labels == ["model-change", "x"]


def test_workflow_run_refuses_a_pr_that_moved_on(tmp_path: Path, config) -> None:
    """The statuses go on the head the validation run checked; if the PR has a newer head, nothing is posted."""
    with FakeGitHub() as gh:
        gh.pulls[42] = gh_pull(head="e" * 40)
        with pytest.raises(InputError) as exc:
            build_context(config=config, env=run_env(tmp_path, run_payload()),
                          fetch_pull=GitHubClient("t0ken", gh.url).get_pull)
    assert exc.value.exit_code == 2
    assert exc.value.message == (
        f"pull request #42 moved on: its head is now {'e' * 12}, but the run being reported checked "
        f"{'d' * 12}; nothing reported for the old head (the run for the new head will report)")


def test_workflow_run_needs_a_pr_number_and_a_token(tmp_path: Path, config) -> None:
    env = run_env(tmp_path, run_payload(number=None))  # a PR from a fork: GitHub links no pull request
    with pytest.raises(InputError, match="names no pull request .* pass --pr-number N"):
        build_context(config=config, env=env, fetch_pull=lambda *a: pytest.fail("no PR to read"))
    with pytest.raises(InputError, match="reading pull request #42 from the GitHub API needs a token"):
        build_context(config=config, env=run_env(tmp_path, run_payload()))
    with FakeGitHub() as gh:  # --pr-number names it; the head must still be the run's
        gh.pulls[42] = gh_pull()
        ctx = build_context(config=config, env=env, pr_number=42, fetch_pull=GitHubClient("t0ken", gh.url).get_pull)
    assert (ctx.pr_number, ctx.head_sha, ctx.author) == (42, RUN_HEAD, "dana.ds")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"workflow_run": {"pull_requests": []}}, "missing workflow_run.head_sha"),
        (run_payload(head="HEAD~1"), "workflow_run.head_sha is not a commit SHA: 'HEAD~1'"),
        ({"workflow_run": {"head_sha": RUN_HEAD, "pull_requests": [{"number": "42"}]}},
         "workflow_run.pull_requests[0].number must be int"),
        ({"workflow_run": {"head_sha": RUN_HEAD, "pull_requests": {}}}, "workflow_run.pull_requests must be list"),
    ],
)
def test_malformed_workflow_run_payload(tmp_path: Path, config, doc: dict, message: str) -> None:
    with pytest.raises(InputError) as exc:
        build_context(config=config, env=run_env(tmp_path, doc), fetch_pull=lambda *a: pytest.fail("not read"))
    assert message in exc.value.message and exc.value.file == str(tmp_path / "event.json")


def test_malformed_pull_from_the_api(tmp_path: Path, config) -> None:
    with FakeGitHub() as gh:
        broken = gh_pull()
        del broken["user"]
        gh.pulls[42] = broken
        with pytest.raises(InputError, match=r"malformed pull request #42 from the GitHub API: missing user.login"):
            build_context(config=config, env=run_env(tmp_path, run_payload()),
                          fetch_pull=GitHubClient("t0ken", gh.url).get_pull)


def test_a_payload_without_pull_request_reads_the_pr_named_by_number(tmp_path: Path, config) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(write(tmp_path, {"ref": "refs/heads/main"})),
           "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REPOSITORY": "acme/models"}
    with pytest.raises(InputError, match="has no pull_request"):  # without a number: as before
        build_context(config=config, env=env)
    with FakeGitHub() as gh:
        gh.pulls[42] = gh_pull(head="f" * 40)
        ctx = build_context(config=config, env=env, pr_number=42, fetch_pull=GitHubClient("t0ken", gh.url).get_pull)
    assert (ctx.author, ctx.head_sha, ctx.base_sha, ctx.event) == ("dana.ds", "f" * 40, "b" * 40, "workflow_dispatch")
