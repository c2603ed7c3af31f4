"""Check a pull request: plan -> policy -> validation -> report (``govops pr-check``).

The change is ``--base...--head`` (on GitHub Actions both default to the event's SHAs).
The context (author, approvals, labels) comes from the event payload and the reviews API,
or from ``--author``, ``--approved-by USER[:GROUP]`` and ``--label``. Policies judge every
changed model; the tier's validators run on the models whose behaviour the change can
alter (``--no-validate`` skips them). The result is reported as commit statuses
(``govops/policy``, ``govops/<tenant>/<model>/<check>``, ``govops/validation``),
workflow-command annotations, a Markdown step summary and, with ``--out DIR``, JSON.
Without a token, or with ``--dry-run``, the statuses are printed instead of sent.

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
Exit codes: 0 the change may merge, 1 a policy denies or a validator fails, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from engine.commands._common import repo_root
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT, EXIT_OK, GovopsError, InputError, UsageError

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
    """Sends statuses, or prints them on a dry run (never both, never the token)."""

    def __init__(self, args: argparse.Namespace, repo: str | None) -> None:
        from engine.change.github import GitHubClient

        self.client = GitHubClient()
        self.repo = repo
        self.dry = bool(args.dry_run or not self.client.has_token or not repo)
        self.sent: list[dict[str, Any]] = []

    def send(self, sha: str | None, statuses: list[dict[str, Any]]) -> None:
        import json

        from engine.report.statuses import publish

        for s in statuses:
            self.sent.append(s)
        if self.dry or not sha or not self.repo:
            why = "dry run" if self.dry else "no commit SHA"
            for s in statuses:
                print(f"would send status ({why}): {json.dumps(s, sort_keys=True)}")
            return
        publish(self.client.create_status, self.repo, sha, statuses)


def run(args: argparse.Namespace) -> int:
    """Run the check and report it."""
    from engine.change.context import build_context
    from engine.change.gitread import plan_between
    from engine.report import PrReport, get, one_line, run_url
    from engine.report import statuses as st

    env = dict(os.environ)
    root = repo_root(args)
    config_path = Path(args.config).resolve() if args.config else None
    from engine.policy.judge import rules_for_change
    from engine.spec.settings import Settings

    settings = Settings()
    # the event (or the flags) say which change this is; its rules are the base's, read from Git.
    # On workflow_run (the report workflow) the PR comes from the API, read once for both contexts.
    fetch_pull = _pull_reader()
    where = build_context(config=None, env=env, pr_number=args.pr_number, target_branch=args.target_branch,
                          fetch_pull=fetch_pull)
    base = args.base or where.base_sha
    head = args.head or where.head_sha or "HEAD"
    if not base:
        raise InputError("pass --base REF (outside a pull_request event there is no base to read)")
    repo_slug = args.github_repo or where.repository or env.get("GITHUB_REPOSITORY")
    sender = _Sender(args, repo_slug)
    url = run_url(env)
    validate = not args.no_validate
    if args.validation_results is not None and not validate:
        raise UsageError("--validation-results and --no-validate contradict each other: choose one")
    sha = args.sha or where.head_sha
    sender.send(sha, st.pending(validate, url))

    try:
        rules = rules_for_change(root, base, head, settings.policy_dir, config_path)
        config = rules.config
        from engine.change.github import GitHubClient

        reviews_client = GitHubClient()
        ctx = build_context(
            config=config, env=env, author=args.author, approved_by=args.approved_by, labels=args.label,
            pr_number=args.pr_number, target_branch=args.target_branch,
            fetch_reviews=reviews_client.list_reviews if reviews_client.has_token else None,
            fetch_pull=fetch_pull,
        )
        rules.admit(ctx.to_policy())
        plan = plan_between(root, base, head, config)
        if sha is None and plan.head_sha != "WORKTREE":
            sha = plan.head_sha
        ctx.changed_files = list(plan.changed_files)
        try:
            from engine.policy.check import run_check
        except ImportError:  # pragma: no cover - the policy stage is part of govops
            raise InputError("pr-check needs engine.policy (not installed)") from None
        outcome = run_check(root, base=base, head=head, context=ctx.to_policy(), backend=args.backend,
                            config_path=config_path, settings=settings, rules=rules)
        report = PrReport(
            plan=plan, context=ctx, config=config, policy_diagnostics=outcome.findings.diagnostics,
            decisions=outcome.decisions, models_checked=outcome.findings.models_checked, run_url=url,
        )
        if validate:
            _run_validators(args, root, plan, config, report, sha, ctx)
    except GovopsError as exc:
        failed = [{"state": "error", "context": st.POLICY, "description": one_line(exc.render()), "target_url": url}]
        if validate:
            failed.append({"state": "error", "context": st.VALIDATION, "description": "not run: the check failed",
                           "target_url": url})
        sender.send(sha, [{k: v for k, v in s.items() if v} for s in failed])
        raise

    annotate = args.annotations == "always" or (args.annotations == "auto" and env.get("GITHUB_ACTIONS") == "true")
    if annotate:
        sys.stdout.write(get("annotations").render(report))
    markdown = get("markdown").render(report)
    summary_file = args.summary or (Path(env["GITHUB_STEP_SUMMARY"]) if env.get("GITHUB_STEP_SUMMARY") else None)
    if summary_file is not None:
        with summary_file.open("a", encoding="utf-8") as fh:
            fh.write(markdown)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "pr-check.json").write_text(get("json").render(report))
        (args.out / "summary.md").write_text(markdown)
    for d in sorted(report.policy_diagnostics):
        print(d.render(), file=sys.stderr)
    final = st.build(report)
    sender.send(sha, final)
    for s in final:
        print(f"{s['state']:>8}  {s['context']}  {s['description']}")
    verdict = "passed" if report.ok else "FAILED"
    print(f"govops pr-check: {verdict}: {len(plan.changed())} model(s) changed")
    if any(d.severity == "error" for d in plan.diagnostics):
        return EXIT_INPUT
    return EXIT_OK if report.ok else EXIT_GOVERNANCE


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


def _run_validators(args: argparse.Namespace, root: Path, plan: Any, config: Any, report: Any,
                    sha: str | None, ctx: Any) -> None:
    from engine.validation.dag import build_plan_dag

    tasks = build_plan_dag(plan, config)
    report.validation_ran = True
    report.tasks = tasks
    if not tasks:
        return
    if getattr(args, "validation_results", None) is not None:
        from engine.report.handover import read_results

        # results from a validation run of a PR that edits .github/ come from the PR's own workflow
        report.results = read_results(args.validation_results, tasks, changed_files=plan.changed_files)
        return
    out_dir = (args.out / "validation") if args.out else root / ".govops" / "runs" / (sha or "worktree")[:12]
    if args.executor == "argo":
        from engine.validation.executors.argo import run_validation_argo

        if not sha:
            raise InputError("validation on Argo needs the head commit SHA (--sha)")
        argo_run = run_validation_argo(root, tasks, out_dir, head_sha=sha, timeout_s=args.timeout,
                                       repository=ctx.repository, pr_number=ctx.pr_number)
        if argo_run.ui_urls and not os.environ.get("GOVOPS_RUN_URL"):
            report.run_url = argo_run.ui_urls[0]
        report.results = list(argo_run.results)
        return
    else:
        try:
            from engine.validation.executors.local import run_validation
        except ImportError:  # pragma: no cover - the executor ships with govops
            print("warning: engine.validation.executors.local is not installed: validators not run", file=sys.stderr)
            report.validation_ran = False
            report.tasks = []
            return
        run = run_validation(root, tasks, out_dir, jobs=args.jobs, timeout_s=args.timeout)
    report.results = list(run.results)
