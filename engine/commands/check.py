"""Lint + plan + policy: judge a change (``--base/--head``), every model (``--all``) or named models.

Exit 0 when nothing is denied (warnings pass), 1 when a policy denies, 2 when a spec
is invalid or no decision could be reached (policy compile/builtin error, wrong
result shape, undefined result, OPA unreachable). Reads only; writes nothing but the
decision cache in the cache directory (``GOVOPS_CACHE_DIR``, outside the checkout).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.commands._common import add_format, emit, repo_root
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT, EXIT_OK, UsageError

NAME = "check"
HELP = "lint + plan + policy for a change (--base/--head), every model (--all) or named models"
ORDER = 40


def add_scope(parser: argparse.ArgumentParser) -> None:
    """``--base/--head``, ``--all`` and model ids (shared with ``govops policy input``)."""
    parser.add_argument("models", nargs="*", metavar="MODEL", help="model ids (tenant/name) to limit the check to")
    parser.add_argument("--base", default=None, metavar="REF", help="base of the change (e.g. origin/main)")
    parser.add_argument("--head", default=None, metavar="REF", help="head of the change (a ref, or WORKTREE)")
    parser.add_argument("--all", action="store_true", dest="all_models", help="re-check every model")


def add_context(parser: argparse.ArgumentParser) -> None:
    """The change-request context flags."""
    parser.add_argument("--author", default=None, help="who authored the change")
    parser.add_argument(
        "--approved-by",
        action="append",
        default=[],
        metavar="USER[:GROUP]",
        help="an approval (repeat); GROUP as reported by the CI platform",
    )
    parser.add_argument("--label", action="append", default=[], help="a label on the change request (repeat)")
    parser.add_argument("--changed-file", action="append", default=[], help="a changed file (repeat)")
    parser.add_argument("--target-branch", default=None)
    parser.add_argument("--pr-number", type=int, default=None)
    parser.add_argument(
        "--context", type=Path, default=None, metavar="FILE", help="the change context as a JSON file"
    )


def context_from_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """The change context given by flags and/or ``--context FILE`` (None when nothing was given)."""
    ctx: dict[str, Any] = {}
    if args.context is not None:
        try:
            loaded = json.loads(Path(args.context).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--context {args.context}: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--context {args.context}: expected a JSON object")
        ctx.update(loaded)
    if args.author:
        ctx["author"] = args.author
    if args.approved_by:
        approvals = []
        for item in args.approved_by:
            user, _, group = item.partition(":")
            if not user:
                raise UsageError(f"--approved-by {item!r}: expected USER or USER:GROUP")
            approvals.append({"approver": user, "group": group or None})
        ctx["approvals"] = approvals
    if args.label:
        ctx["labels"] = list(args.label)
    if args.changed_file:
        ctx["changed_files"] = list(args.changed_file)
    if args.target_branch:
        ctx["target_branch"] = args.target_branch
    if args.pr_number is not None:
        ctx["pr_number"] = args.pr_number
    return ctx or None


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops check``."""
    add_scope(parser)
    add_context(parser)
    add_format(parser, ["text", "json", "github", "sarif"])
    parser.add_argument("--backend", default=None, help="policy backend: regopy (default) or opa (GOVOPS_OPA_URL)")
    parser.add_argument("--out", type=Path, default=None, help="write the report to FILE instead of stdout")
    parser.add_argument("--decisions", type=Path, default=None, metavar="FILE",
                        help="also write the decision records (OPA decision-log style) as JSON")


def run(args: argparse.Namespace) -> int:
    """Check and report (every model through the result cache where it can: ``engine.policy.cached_check``)."""
    if args.base is None and args.head is None and not args.models and args.decisions is None:
        import os

        from engine.policy.cached_check import cached_check_all

        config = Path(args.config).resolve() if args.config else None
        cached = cached_check_all(repo_root(args), context=context_from_args(args), backend=args.backend,
                                  config_path=config, env=os.environ)
        if cached is not None:
            emit(cached.findings, args.format, args.out)
            return _exit_code(cached.findings.diagnostics, cached.findings.ok)
    from engine.policy.check import run_check

    outcome = run_check(
        repo_root(args),
        base=args.base,
        head=args.head,
        all_models=args.all_models,
        models=args.models or None,
        context=context_from_args(args),
        backend=args.backend,
        config_path=Path(args.config).resolve() if args.config else None,
    )
    emit(outcome.findings, args.format, args.out)
    if args.decisions is not None:
        args.decisions.write_text(json.dumps(outcome.decisions, indent=2) + "\n")
    return _exit_code(outcome.findings.diagnostics, outcome.findings.ok)


def _exit_code(diags: list[Any], ok: bool) -> int:
    """2 when a spec is invalid (a finding that is no policy's), 1 when a policy denies, else 0."""
    if any(d.severity == "error" and not d.rule.startswith("GOV-") for d in diags):
        return EXIT_INPUT
    return EXIT_GOVERNANCE if not ok else EXIT_OK
