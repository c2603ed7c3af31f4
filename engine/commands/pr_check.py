"""Check a pull request: plan -> policy -> validation -> report (``govops pr-check``).

The change is ``--base...--head`` (on GitHub Actions both default to the event's SHAs).
The context (author, approvals, labels) comes from the event payload and the reviews API,
or from ``--author``, ``--approved-by USER[:GROUP]`` and ``--label``. Policies judge every
changed model; the tier's validators run on the models whose behaviour the change can
alter (``--no-validate`` skips them). The result is reported as check runs
(``govops/policy``, ``govops/<tenant>/<model>/<check>``, ``govops/validation``, with
annotations at file:line and the summary; commit statuses of the same names where the
token may not create check runs: ``engine.report.publish``), one sticky PR comment with
the summary (edited in place on every run), workflow-command annotations, a Markdown
step summary and, with ``--out DIR``, JSON. Without a token, or with ``--dry-run``, the
statuses are printed instead of sent.

Split workflow (validation away from the token): a validation job with no token runs
``govops validate --base B --head H --out DIR`` (model artifacts are only ever loaded in
sandboxed prediction workers) and uploads ``DIR``; a reporting job holding ``statuses: write``
(in a ``workflow_run`` workflow, so it runs the default branch's copy, never the PR's)
runs ``govops pr-check --validation-results DIR``: it plans and judges policies itself (the
head read from Git objects, never checked out) and takes only the verdict of each validator
it expects from ``DIR`` (``engine.report.handover``), so it never loads an artifact.
On ``workflow_run`` (the report workflow, run from the default branch's copy) the PR is read
from the API by the number GitHub recorded for the validation run; results handed over by a
run of a change that edits ``.github/`` are not trusted (that run used the PR's own workflow).
The pipeline itself is a library call (``engine.report.pipeline``); this command turns its
flags into a request, sends or prints the statuses, writes the summary and prints the verdict.
Exit codes: 0 the change may merge, 1 a policy denies or a validator fails, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from engine.commands._common import repo_root

NAME = "pr-check"
HELP = "check a pull request: plan, policies, validators; report statuses, annotations, summary"
ORDER = 45


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops pr-check``."""
    parser.add_argument("--base", metavar="REF", help="the target branch or commit (default: the event's base SHA)")
    parser.add_argument("--head", metavar="REF",
                        help="the changed commit (default: the event's head SHA, else HEAD); WORKTREE allowed")
    parser.add_argument("--author", help="who made the change (default: the PR author)")
    parser.add_argument("--approved-by", action="append", default=[], metavar="USER[:GROUP]",
                        help="an approval (repeatable); replaces the approvals read from GitHub")
    parser.add_argument("--label", action="append", default=[], metavar="LABEL", help="a PR label (repeatable)")
    parser.add_argument("--pr-number", type=int,
                        help="the pull request number (default: from the event); on workflow_run, or with a "
                             "payload that has no pull_request, the PR is read from the API")
    parser.add_argument("--target-branch", help="the branch the change merges into (default: from the event)")
    parser.add_argument("--no-validate", action="store_true", help="skip the validators (policy only)")
    parser.add_argument("--validation-results", type=Path, metavar="DIR",
                        help="do not run the validators: read their results from DIR, written by "
                             "`govops validate --out DIR` in another job (read as untrusted data)")
    parser.add_argument("--executor", choices=["local", "argo"], default="local",
                        help="where validators run (default: local processes)")
    parser.add_argument("--jobs", type=int, default=2, help="validators run at once by the local executor")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS", help="per-validator time limit")
    parser.add_argument("--backend", choices=["regopy", "opa"], default=None, help="policy backend")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write pr-check.json, summary.md and the validation results here")
    parser.add_argument("--summary", type=Path, metavar="FILE",
                        help="append the Markdown summary here (default: $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--github-repo", metavar="OWNER/NAME", help="default: $GITHUB_REPOSITORY")
    parser.add_argument("--sha", help="the commit the statuses are set on (default: the head SHA)")
    parser.add_argument("--dry-run", action="store_true", help="print the statuses instead of sending them")
    parser.add_argument("--annotations", choices=["auto", "always", "never"], default="auto",
                        help="print workflow-command annotations (auto: on GitHub Actions)")


class _Sender:
    """Sends check runs (statuses where the token may not), or prints statuses on a dry run (never the token)."""

    def __init__(self, args: argparse.Namespace, repo: str | None) -> None:
        from engine.change.github import GitHubClient
        from engine.report.publish import Publisher

        self.client = GitHubClient()
        self.repo = repo
        self.dry = bool(args.dry_run or not self.client.has_token or not repo)
        self.sent: list[dict[str, Any]] = []
        self.publisher = Publisher(self.client, repo or "", lambda text: print(f"govops: {text}", file=sys.stderr))

    def send(self, sha: str | None, statuses: list[dict[str, Any]]) -> None:
        import json

        for s in statuses:
            self.sent.append(s)
        if self.dry or not sha or not self.repo:
            why = "dry run" if self.dry else "no commit SHA"
            for s in statuses:
                print(f"would send status ({why}): {json.dumps(s, sort_keys=True)}")
            return
        self.publisher.send(sha, statuses)

    def finish(self, sha: str | None, statuses: list[dict[str, Any]], report: Any) -> None:
        """The final verdicts with annotations and summary, then the one sticky PR comment."""
        if self.dry or not sha or not self.repo:
            self.send(sha, statuses)
            return
        self.sent.extend(statuses)
        self.publisher.finish(sha, statuses, report)


def run(args: argparse.Namespace) -> int:
    """Run the check (``engine.report.pipeline``) and report it."""
    from engine.report import get
    from engine.report import statuses as st
    from engine.report.pipeline import PrCheckRequest, check_change, exit_code, locate, write_report
    from engine.spec.settings import Settings

    env = dict(os.environ)
    settings = Settings()
    request = PrCheckRequest(
        root=repo_root(args), base=args.base, head=args.head,
        config_path=Path(args.config).resolve() if args.config else None,
        author=args.author, approved_by=args.approved_by, labels=args.label, pr_number=args.pr_number,
        target_branch=args.target_branch, sha=args.sha, github_repo=args.github_repo,
        validate=not args.no_validate, validation_results=args.validation_results, executor=args.executor,
        jobs=args.jobs, timeout=args.timeout, backend=args.backend, out=args.out,
    )
    # On workflow_run (the report workflow) the PR comes from the API, read once for both contexts.
    fetch_pull = _pull_reader()
    target = locate(request, env, fetch_pull)
    sender = _Sender(args, target.repository)
    done = check_change(request, target, env, sender.send, fetch_pull, settings)
    report = done.report

    annotate = args.annotations == "always" or (args.annotations == "auto" and env.get("GITHUB_ACTIONS") == "true")
    if annotate:
        sys.stdout.write(get("annotations").render(report))
    summary_file = args.summary or (Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None)
    write_report(report, summary_file=summary_file, out=args.out)
    for d in sorted(report.policy_diagnostics):
        print(d.render(), file=sys.stderr)
    final = st.build(report)
    sender.finish(done.sha, final, report)
    for s in final:
        print(f"{s['state']:>8}  {s['context']}  {s['description']}")
    verdict = "passed" if report.ok else "FAILED"
    print(f"govops pr-check: {verdict}: {len(report.plan.changed())} model(s) changed")
    return exit_code(report)


def _pull_reader() -> Any:
    """``get_pull`` of a token-holding client, memoised (both contexts see the same PR), or None."""
    from engine.change.github import GitHubClient

    client = GitHubClient()
    if not client.has_token:
        return None
    seen: dict[tuple[str, int], dict[str, Any]] = {}

    def fetch(repo: str, number: int) -> dict[str, Any]:
        if (repo, number) not in seen:
            seen[(repo, number)] = client.get_pull(repo, number)
        return seen[(repo, number)]

    return fetch
