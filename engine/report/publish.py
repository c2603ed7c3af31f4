"""Sending a PR check's verdicts to GitHub: check runs first, commit statuses as the fallback, one comment.

``Publisher.send`` is the pipeline's ``send`` callback (``engine.report.pipeline``): it takes
the statuses the pipeline builds and reports each as a check run of the same name, created
once and updated as the check goes on. The Checks API only takes writes from a GitHub App
token with ``checks: write``; when creating a run is forbidden (403) the publisher says so
once and sends commit statuses from then on, exactly as before check runs existed.
``Publisher.finish`` sends the final verdicts with their annotations (at most 50 per request:
the rest follow in updates, which append) and then edits the one sticky PR comment
(``engine.report.comment``). A comment that cannot be written is reported, not fatal: the
verdicts are already on the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.change.github import GitHubClient, GitHubError
from engine.report import PrReport, get
from engine.report import comment as sticky
from engine.report.checks import ANNOTATIONS_PER_REQUEST, final_runs, run_payload
from engine.report.statuses import publish as publish_statuses

ACTIONS_LOGIN = "github-actions[bot]"
"""Who GitHub Actions' ``GITHUB_TOKEN`` writes as, when the API does not say."""


class Publisher:
    """Check runs (or statuses) and the sticky comment for one PR check run; ``warn`` prints a note for the user."""

    def __init__(self, client: GitHubClient, repo: str, warn: Callable[[str], None]) -> None:
        self.client = client
        self.repo = repo
        self.warn = warn
        self.use_checks = True
        self.run_ids: dict[str, int] = {}
        self.app_login: str | None = None

    # --- verdicts -----------------------------------------------------------------------------------

    def send(self, sha: str | None, statuses: list[dict[str, Any]]) -> None:
        """Report ``statuses`` on ``sha`` (no annotations: the pending and failure verdicts)."""
        if sha is None:
            return
        self._send(sha, statuses, [(run_payload(s, sha), []) for s in statuses])

    def finish(self, sha: str | None, statuses: list[dict[str, Any]], report: PrReport) -> None:
        """The final verdicts, with annotations and the summary, then the sticky comment."""
        if sha is not None:
            markdown = get("markdown").render(report)
            self._send(sha, statuses, final_runs(report, statuses, sha, markdown))
        self.comment(report)

    def _send(self, sha: str, statuses: list[dict[str, Any]],
              runs: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        for i, (body, notes) in enumerate(runs):
            if not self.use_checks:
                publish_statuses(self.client.create_status, self.repo, sha, statuses[i:])
                return
            try:
                self._check_run(body, notes)
            except GitHubError as exc:
                if exc.status != 403:
                    raise
                self.use_checks = False
                self.warn("the token may not create check runs (403; the workflow needs `checks: write`, and only "
                          "a GitHub App token such as GITHUB_TOKEN can have it): reporting commit statuses instead")
                publish_statuses(self.client.create_status, self.repo, sha, statuses[i:])
                return

    def _check_run(self, body: dict[str, Any], notes: list[dict[str, Any]]) -> None:
        """Create or update the run named ``body["name"]``, its annotations 50 at a time."""
        first = {**body, "output": {**body["output"], "annotations": notes[:ANNOTATIONS_PER_REQUEST]}}
        if not notes:
            first["output"].pop("annotations")
        name = body["name"]
        if name in self.run_ids:
            update = {k: v for k, v in first.items() if k not in ("name", "head_sha")}
            self.client.update_check_run(self.repo, self.run_ids[name], update)
        else:
            created = self.client.create_check_run(self.repo, first)
            if isinstance(created.get("id"), int):
                self.run_ids[name] = created["id"]
            app = created.get("app")
            if self.app_login is None and isinstance(app, dict) and isinstance(app.get("slug"), str):
                self.app_login = f"{app['slug']}[bot]"  # who this token writes as
        run_id = self.run_ids.get(name)
        if run_id is None:
            return
        for start in range(ANNOTATIONS_PER_REQUEST, len(notes), ANNOTATIONS_PER_REQUEST):
            more = {"output": {**body["output"], "annotations": notes[start:start + ANNOTATIONS_PER_REQUEST]}}
            self.client.update_check_run(self.repo, run_id, more)

    # --- the comment --------------------------------------------------------------------------------

    def identity(self) -> str:
        """Who the token writes as: the App of its check runs, else ``GET /user``, else Actions' bot."""
        return self.app_login or self.client.authenticated_login() or ACTIONS_LOGIN

    def comment(self, report: PrReport) -> str | None:
        """Create or edit the sticky comment; ``"created"``, ``"updated"``, or None when there is no PR or no right."""
        number = report.context.pr_number
        if number is None:
            return None
        repo, client = self.repo, self.client
        try:
            return sticky.upsert(
                lambda: client.list_issue_comments(repo, number),
                lambda text: client.create_issue_comment(repo, number, text),
                lambda cid, text: client.update_issue_comment(repo, cid, text),
                self.identity(), sticky.body(report),
            )
        except GitHubError as exc:
            why = "the workflow needs `pull-requests: write`" if exc.status == 403 else str(exc)
            self.warn(f"could not write the summary comment on PR #{number}: {why}")
            return None
