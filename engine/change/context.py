"""The change-request context: who changed what, with whose approval (input to the policy stage).

On GitHub Actions it comes from the event payload (``GITHUB_EVENT_PATH``: author,
labels, base/head SHAs, PR number) and the reviews API (approvals: the latest review
per reviewer, APPROVED only and, with `staleApprovals: dismiss`, given on the head commit,
with the govops.yaml group each approver belongs to);
anywhere else from flags (``--author``, ``--approved-by USER[:GROUP]``, ``--label``).
Flags given explicitly add to or override the payload. A malformed payload is an input
error (exit 2). This module never decides anything: policies judge the context.

The report workflow runs on ``workflow_run`` (always from the default branch's copy, so a
PR cannot rewrite the job that holds ``statuses: write``). Its payload has no
``pull_request``: the PR number and the head SHA the validation run checked come from
``workflow_run`` (GitHub's own record of that run, never from its artifact) and the rest
(author, labels, base, current head) from ``GET /repos/{repo}/pulls/{n}``. If the PR's head
has moved on since that run, nothing is reported (exit 2): the run for the new head will.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from engine.spec.config import Governance
from engine.spec.errors import InputError
from engine.spec.limits import DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_EVENT_DEPTH, env_limit, load_json_capped

PR_EVENTS = ("pull_request", "pull_request_target", "pull_request_review")
WORKFLOW_RUN = "workflow_run"
_SHA = re.compile(r"[0-9a-f]{40}")
DECISIVE_REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


@dataclass
class ChangeContext:
    """The context of one change request (the policy input's ``context``, plus where it came from)."""

    author: str | None = None
    approvals: list[dict[str, str | None]] = field(default_factory=list)
    stale_approvals: list[dict[str, str | None]] = field(default_factory=list)
    """Approvals of an older commit that do not count (``staleApprovals: dismiss``); for reports only."""
    labels: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    target_branch: str | None = None
    pr_number: int | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    repository: str | None = None
    event: str | None = None

    def to_policy(self) -> dict[str, Any]:
        """The ``context`` document policies receive (``{"author", "approvals", ...}``)."""
        return {
            "author": self.author,
            "approvals": [dict(a) for a in self.approvals],
            "labels": list(self.labels),
            "changed_files": list(self.changed_files),
            "target_branch": self.target_branch,
            "pr_number": self.pr_number,
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, for reports."""
        return {**self.to_policy(), "stale_approvals": [dict(a) for a in self.stale_approvals],
                "base_sha": self.base_sha, "head_sha": self.head_sha,
                "repository": self.repository, "event": self.event}


def group_of(person: str, config: Governance | None) -> str | None:
    """The first govops.yaml group (in file order) that lists ``person``."""
    if config is None:
        return None
    return next((g for g, members in config.groups.items() if person in members), None)


def _need(obj: Any, path: str, kind: type | tuple[type, ...], file: str | None,
          what: str = "event payload") -> Any:
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise InputError(f"malformed {what}: missing {path}", file=file)
        cur = cur[part]
    if not isinstance(cur, kind) or (kind is int and isinstance(cur, bool)):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"malformed {what}: {path} must be {want}, got {type(cur).__name__}", file=file)
    return cur


def _label_names(labels: list[Any], where: str, file: str | None, what: str) -> list[str]:
    names = []
    for i, label in enumerate(labels):
        if not isinstance(label, dict) or not isinstance(label.get("name"), str):
            raise InputError(f"malformed {what}: {where}[{i}].name must be str", file=file)
        names.append(label["name"])
    return names


def _load_event(path: Path) -> dict[str, Any]:
    shown = str(path)
    # size and nesting bounded before json sees it: a deep payload is exit 2, never a RecursionError
    doc = load_json_capped(
        path,
        shown,
        max_bytes=env_limit("MAX_EVENT_BYTES", DEFAULT_MAX_EVENT_BYTES),
        max_depth=env_limit("MAX_EVENT_DEPTH", DEFAULT_MAX_EVENT_DEPTH),
        what="event",
    )
    if not isinstance(doc, dict):
        raise InputError("malformed event payload: the document must be a JSON object", file=shown)
    return doc


def _repository(doc: dict[str, Any]) -> str | None:
    repo = doc.get("repository", {}).get("full_name") if isinstance(doc.get("repository"), dict) else None
    return repo if isinstance(repo, str) else None


def from_event_file(path: Path, event_name: str | None = None, *, require_pr: bool = True) -> ChangeContext:
    """The context from a GitHub Actions event payload (``GITHUB_EVENT_PATH``).

    With ``require_pr=False`` a payload without ``pull_request`` gives an empty context
    (only the repository): the caller reads the PR from the API by its number.
    """
    shown = str(path)
    doc = _load_event(path)
    if "pull_request" not in doc and not require_pr:
        return ChangeContext(repository=_repository(doc), event=event_name)
    if "pull_request" not in doc:
        raise InputError(
            f"the event payload has no pull_request (event {event_name or 'unknown'}); run pr-check on "
            "pull_request events, or pass --base/--head and the context flags",
            file=shown,
        )
    pr = _need(doc, "pull_request", dict, shown)
    number = doc.get("number", pr.get("number"))
    if not isinstance(number, int) or isinstance(number, bool):
        raise InputError("malformed event payload: number must be int", file=shown)
    labels = _need(doc, "pull_request.labels", list, shown)
    names = _label_names(labels, "pull_request.labels", shown, "event payload")
    return ChangeContext(
        author=_need(doc, "pull_request.user.login", str, shown),
        labels=names,
        target_branch=_need(doc, "pull_request.base.ref", str, shown),
        pr_number=number,
        base_sha=_need(doc, "pull_request.base.sha", str, shown),
        head_sha=_need(doc, "pull_request.head.sha", str, shown),
        repository=_repository(doc),
        event=event_name,
    )


def from_workflow_run_file(path: Path) -> ChangeContext:
    """What a ``workflow_run`` payload says about the run it follows: its head SHA and PR number.

    ``workflow_run.head_sha`` is the commit the validation run checked (the statuses go on
    it); ``workflow_run.pull_requests[0].number`` the PR (empty for a PR from a fork, which
    GitHub does not link: then ``--pr-number`` must say which). Nothing else is taken from it.
    """
    shown = str(path)
    doc = _load_event(path)
    head = _need(doc, "workflow_run.head_sha", str, shown)
    if not _SHA.fullmatch(head):
        raise InputError(f"malformed event payload: workflow_run.head_sha is not a commit SHA: {head[:60]!r}",
                         file=shown)
    pulls = _need(doc, "workflow_run.pull_requests", list, shown)
    number = None
    if pulls:
        first = pulls[0]
        number = first.get("number") if isinstance(first, dict) else None
        if not isinstance(number, int) or isinstance(number, bool):
            raise InputError("malformed event payload: workflow_run.pull_requests[0].number must be int", file=shown)
    return ChangeContext(head_sha=head, pr_number=number, repository=_repository(doc), event=WORKFLOW_RUN)


def from_pull(pull: dict[str, Any], number: int) -> ChangeContext:
    """The context from ``GET /repos/{repo}/pulls/{n}`` (author, labels, base, current head)."""
    what = f"pull request #{number} from the GitHub API"
    names = _label_names(_need(pull, "labels", list, None, what), "labels", None, what)
    return ChangeContext(
        author=_need(pull, "user.login", str, None, what),
        labels=names,
        target_branch=_need(pull, "base.ref", str, None, what),
        pr_number=number,
        base_sha=_need(pull, "base.sha", str, None, what),
        head_sha=_need(pull, "head.sha", str, None, what),
    )


class ReviewApprovals(NamedTuple):
    """The approvals that count, and those given on an older commit that do not."""

    current: list[dict[str, str | None]]
    stale: list[dict[str, str | None]]


def approvals_from_reviews(
    reviews: list[dict[str, Any]],
    config: Governance | None,
    author: str | None = None,
    head_sha: str | None = None,
) -> ReviewApprovals:
    """Approvals: each reviewer's latest decisive review (APPROVED / CHANGES_REQUESTED / DISMISSED).

    A later COMMENTED review does not withdraw an approval (as on GitHub); the author's own
    review never counts. Reviews come oldest first from the API; ``submitted_at`` breaks ties.
    With ``staleApprovals: dismiss`` (the default) and the head commit known, an approval
    whose ``commit_id`` is not the head is stale: the reviewer approved something other
    than what would merge, so it counts again only once they approve the latest commit.
    """
    ordered = sorted(enumerate(reviews), key=lambda ir: (str(ir[1].get("submitted_at") or ""), ir[0]))
    latest: dict[str, dict[str, Any]] = {}
    for _, r in ordered:
        user = r.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        if isinstance(login, str) and r.get("state") in DECISIVE_REVIEW_STATES:
            latest[login] = r
    dismiss = head_sha is not None and (config is None or config.stale_approvals == "dismiss")
    current: list[dict[str, str | None]] = []
    stale: list[dict[str, str | None]] = []
    for login, r in sorted(latest.items()):
        if r.get("state") != "APPROVED" or login == author:
            continue
        approval: dict[str, str | None] = {"approver": login, "group": group_of(login, config)}
        commit = r.get("commit_id")
        if dismiss and commit != head_sha:
            stale.append({**approval, "commit": commit if isinstance(commit, str) else None})
        else:
            current.append(approval)
    return ReviewApprovals(current, stale)


def parse_approved_by(values: list[str], config: Governance | None) -> list[dict[str, str | None]]:
    """``--approved-by USER[:GROUP]`` flags (the group from govops.yaml when not given)."""
    out = []
    for v in values:
        user, _, group = v.partition(":")
        if not user or (":" in v and not group):
            raise InputError(f"--approved-by takes USER or USER:GROUP, got {v!r}")
        out.append({"approver": user, "group": group or group_of(user, config)})
    return out


def build_context(
    *,
    config: Governance | None,
    env: dict[str, str] | None = None,
    author: str | None = None,
    approved_by: list[str] | None = None,
    labels: list[str] | None = None,
    pr_number: int | None = None,
    target_branch: str | None = None,
    fetch_reviews: Any = None,
    fetch_pull: Callable[[str, int], dict[str, Any]] | None = None,
) -> ChangeContext:
    """The context from the CI environment, overridden by flags.

    ``fetch_reviews(repo, pr_number) -> list[dict]`` (the GitHub client's ``list_reviews``)
    is called on GitHub Actions when no ``--approved-by`` flag is given.
    ``fetch_pull(repo, pr_number) -> dict`` (the client's ``get_pull``) is called on a
    ``workflow_run`` event, or when the payload has no ``pull_request`` but ``pr_number``
    is given: the PR then comes from the API.
    """
    env = dict(os.environ if env is None else env)
    ctx = ChangeContext()
    event_path = env.get("GITHUB_EVENT_PATH")
    from_api = False
    if env.get("GITHUB_ACTIONS") == "true" and event_path:
        event_name = env.get("GITHUB_EVENT_NAME")
        if event_name == WORKFLOW_RUN:
            ctx = from_workflow_run_file(Path(event_path))
            from_api = True
        else:
            ctx = from_event_file(Path(event_path), event_name, require_pr=pr_number is None)
            from_api = ctx.author is None
        ctx.repository = ctx.repository or env.get("GITHUB_REPOSITORY")
    if pr_number is not None:
        ctx.pr_number = pr_number
    if from_api:
        ctx = _merge_pull(ctx, fetch_pull)
    if author is not None:
        ctx.author = author
    if labels:
        ctx.labels = sorted(set(ctx.labels) | set(labels))
    if target_branch is not None:
        ctx.target_branch = target_branch
    if approved_by:
        ctx.approvals = parse_approved_by(approved_by, config)
    elif fetch_reviews is not None and ctx.repository and ctx.pr_number is not None:
        reviews = fetch_reviews(ctx.repository, ctx.pr_number)
        ctx.approvals, ctx.stale_approvals = approvals_from_reviews(reviews, config, ctx.author, ctx.head_sha)
    return ctx


def _merge_pull(ctx: ChangeContext, fetch_pull: Callable[[str, int], dict[str, Any]] | None) -> ChangeContext:
    """``ctx`` completed from the PR as the API has it; refuses a PR whose head moved on."""
    event = ctx.event or "unknown"
    if ctx.pr_number is None:
        raise InputError(
            f"the {event} event names no pull request (workflow_run.pull_requests is empty: GitHub does not "
            "link runs of PRs from forks, nor runs not triggered by a PR); pass --pr-number N"
        )
    if not ctx.repository:
        raise InputError("reading the pull request from the API needs the repository: set GITHUB_REPOSITORY")
    if fetch_pull is None:
        raise InputError(
            f"the {event} event has no pull_request payload: reading pull request #{ctx.pr_number} from the "
            "GitHub API needs a token (GITHUB_TOKEN)"
        )
    api = from_pull(fetch_pull(ctx.repository, ctx.pr_number), ctx.pr_number)
    validated = ctx.head_sha
    if validated is not None and api.head_sha != validated:
        raise InputError(
            f"pull request #{ctx.pr_number} moved on: its head is now {str(api.head_sha)[:12]}, but the run "
            f"being reported checked {validated[:12]}; nothing reported for the old head (the run for the new "
            "head will report)"
        )
    api.repository, api.event = ctx.repository, ctx.event
    return api
