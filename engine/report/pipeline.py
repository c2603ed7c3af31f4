"""The PR check as a library call: plan -> policy -> validation -> a ``PrReport``.

``govops pr-check`` is a thin shell around this module: it turns its flags into a
``PrCheckRequest``, owns the status sender (passed in as ``send``) and prints. Here each
stage's result is computed once and handed on: the base's rules (and with them the
config) are read once, the plan is made once, and both go to the policy stage
(``run_check(plan=..., rules=...)``) and to the validators.

Report is the stage after validation, so this module imports only spec, change, policy,
validation and report, never rollout, gateway, monitoring or audit (a PR check writes no
evidence). It prints nothing and never reads ``os.environ`` (the caller passes its
environment); it reads the PR from GitHub only through the callables it is given, and
sends statuses only through ``send``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.change.context import ChangeContext, build_context
from engine.change.github import GitHubClient
from engine.change.gitread import Plan, plan_between
from engine.policy.check import run_check
from engine.policy.judge import Rules, rules_for_change
from engine.report import PrReport, get, one_line, run_url
from engine.report import statuses as st
from engine.spec.config import Governance
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT, EXIT_OK, GovopsError, InputError, UsageError
from engine.spec.settings import Settings, get_settings
from engine.validation.dag import build_plan_dag

Send = Callable[[str | None, list[dict[str, Any]]], None]
"""Where statuses go: ``send(sha, statuses)`` (the command sends them, or prints them on a dry run)."""

FetchPull = Callable[[str, int], dict[str, Any]]


@dataclass
class PrCheckRequest:
    """What to check and how: the flags of ``govops pr-check``, without the ones about printing."""

    root: Path
    base: str | None = None
    head: str | None = None
    config_path: Path | None = None
    author: str | None = None
    approved_by: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    pr_number: int | None = None
    target_branch: str | None = None
    sha: str | None = None
    """The commit the statuses are set on (default: the event's head SHA, else the plan's head)."""
    github_repo: str | None = None
    validate: bool = True
    validation_results: Path | None = None
    """Read the validators' verdicts from here (untrusted data) instead of running them."""
    executor: str = "local"
    jobs: int = 2
    timeout: float = 300
    backend: str | None = None
    out: Path | None = None
    """The ``--out`` directory: validation results go to its ``validation/`` folder."""


@dataclass
class Target:
    """Which change this is, as the event (or the flags) say, before anything is read from Git."""

    base: str
    head: str
    sha: str | None
    repository: str | None
    url: str | None


@dataclass
class PrCheckRun:
    """What ``check_change`` found, and the commit its statuses belong on."""

    report: PrReport
    sha: str | None


def locate(request: PrCheckRequest, env: Mapping[str, str], fetch_pull: FetchPull | None) -> Target:
    """Base, head, status commit and repository of the change (on workflow_run the PR comes from the API)."""
    where = build_context(config=None, env=dict(env), pr_number=request.pr_number,
                          target_branch=request.target_branch, fetch_pull=fetch_pull)
    base = request.base or where.base_sha
    head = request.head or where.head_sha or "HEAD"
    if not base:
        raise InputError("pass --base REF (outside a pull_request event there is no base to read)")
    repository = request.github_repo or where.repository or env.get("GITHUB_REPOSITORY")
    return Target(base, head, request.sha or where.head_sha, repository, run_url(env))


def check_change(
    request: PrCheckRequest, target: Target, env: Mapping[str, str], send: Send,
    fetch_pull: FetchPull | None = None, settings: Settings | None = None,
) -> PrCheckRun:
    """Plan, judge and validate the change; statuses go through ``send`` (pending first, error on failure).

    A ``GovopsError`` on the way is reported as error statuses, then raised again.
    """
    if request.validation_results is not None and not request.validate:
        raise UsageError("--validation-results and --no-validate contradict each other: choose one")
    settings = settings or Settings()
    sha = target.sha
    send(sha, st.pending(request.validate, target.url))
    try:
        rules, ctx, plan = prepare(request, target, env, fetch_pull, settings)
        if sha is None and plan.head_sha != "WORKTREE":
            sha = plan.head_sha
        report = judge_plan(request, target, plan, rules, ctx, settings)
        if request.validate:
            run_validators(request, plan, rules.config, report, sha, ctx, env)
    except GovopsError as exc:
        send(sha, failure_statuses(exc, request.validate, target.url))
        raise
    return PrCheckRun(report, sha)


def prepare(
    request: PrCheckRequest, target: Target, env: Mapping[str, str], fetch_pull: FetchPull | None,
    settings: Settings,
) -> tuple[Rules, ChangeContext, Plan]:
    """The base's rules (with the config), the change's context, and its plan: each read once."""
    # the change's rules are the base's, read from Git
    rules = rules_for_change(request.root, target.base, target.head, settings.policy_dir, request.config_path)
    reviews_client = GitHubClient()
    ctx = build_context(
        config=rules.config, env=dict(env), author=request.author, approved_by=request.approved_by,
        labels=request.labels, pr_number=request.pr_number, target_branch=request.target_branch,
        fetch_reviews=reviews_client.list_reviews if reviews_client.has_token else None,
        fetch_pull=fetch_pull,
    )
    rules.admit(ctx.to_policy())
    plan = plan_between(request.root, target.base, target.head, rules.config)
    ctx.changed_files = list(plan.changed_files)
    return rules, ctx, plan


def judge_plan(
    request: PrCheckRequest, target: Target, plan: Plan, rules: Rules, ctx: ChangeContext, settings: Settings,
) -> PrReport:
    """The policy verdict on an already computed plan, judged by already read rules."""
    outcome = run_check(request.root, base=target.base, head=target.head, context=ctx.to_policy(),
                        backend=request.backend, config_path=request.config_path, settings=settings,
                        rules=rules, plan=plan)
    return PrReport(
        plan=plan, context=ctx, config=rules.config, policy_diagnostics=outcome.findings.diagnostics,
        decisions=outcome.decisions, models_checked=outcome.findings.models_checked, run_url=target.url,
    )


def run_validators(
    request: PrCheckRequest, plan: Plan, config: Governance, report: PrReport, sha: str | None,
    ctx: ChangeContext, env: Mapping[str, str],
) -> None:
    """The tier's validators for the plan's models: run here, on Argo, or read from a handed-over directory."""
    tasks = build_plan_dag(plan, config)
    report.validation_ran = True
    report.tasks = tasks
    if not tasks:
        return
    if request.validation_results is not None:
        from engine.report.handover import read_results

        # results from a validation run of a PR that edits .github/ come from the PR's own workflow
        report.results = read_results(request.validation_results, tasks, changed_files=plan.changed_files)
        return
    root = request.root
    out_dir = (request.out / "validation") if request.out else root / ".govops" / "runs" / (sha or "worktree")[:12]
    if request.executor == "argo":
        from engine.validation.executors.argo import run_validation_argo  # Hera loads only when Argo is asked for

        if not sha:
            raise InputError("validation on Argo needs the head commit SHA (--sha)")
        # by reference to the templates rendered from the base's govops.yaml; govops/policy keeps the CI run's link
        tiers = {m: s.spec.spec.tier for m, s in plan.head_specs.items()}
        argo_run = run_validation_argo(root, tasks, out_dir, head_sha=sha, timeout_s=request.timeout,
                                       repository=ctx.repository, pr_number=ctx.pr_number, config=config,
                                       tiers=tiers, settings=get_settings(env))
        report.argo_runs = list(argo_run.runs)
        report.results = list(argo_run.results)
        return
    from engine.validation.executors.local import run_validation

    run = run_validation(root, tasks, out_dir, jobs=request.jobs, timeout_s=request.timeout)
    report.results = list(run.results)


def failure_statuses(exc: GovopsError, validate: bool, url: str | None) -> list[dict[str, Any]]:
    """The statuses of a check that could not finish (empty fields left out)."""
    failed = [{"state": "error", "context": st.POLICY, "description": one_line(exc.render()), "target_url": url}]
    if validate:
        failed.append({"state": "error", "context": st.VALIDATION, "description": "not run: the check failed",
                       "target_url": url})
    return [{k: v for k, v in s.items() if v} for s in failed]


def write_report(report: PrReport, *, summary_file: Path | None, out: Path | None) -> None:
    """Append the Markdown summary to ``summary_file``; with ``out``, write pr-check.json and summary.md there."""
    markdown = get("markdown").render(report)
    if summary_file is not None:
        with summary_file.open("a", encoding="utf-8") as fh:
            fh.write(markdown)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "pr-check.json").write_text(get("json").render(report))
        (out / "summary.md").write_text(markdown)


def exit_code(report: PrReport) -> int:
    """0 the change may merge, 1 a policy denies or a validator fails, 2 the plan found invalid input."""
    if any(d.severity == "error" for d in report.plan.diagnostics):
        return EXIT_INPUT
    return EXIT_OK if report.ok else EXIT_GOVERNANCE
