"""Run the tier's validation checks for models and report one line per check.

Validation stage, command side. Builds the tasks with ``engine.validation.dag.build_dag``, runs them
with an executor (``local``: worker processes on this machine), prints a table (model,
check, status, key metric vs threshold) or the summary as JSON, and exits 1 when any
check fails or errors. Writes result files under ``--out`` only; never edits specs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.commands._common import add_format, repo_root, workspace
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT, EXIT_OK, UsageError

NAME = "validate"
HELP = "run the tier's validation checks (local executor) and write one result per check"
ORDER = 50


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops validate``."""
    parser.add_argument("--model", action="append", default=[], metavar="ID",
                        help="a model id tenant/name (repeatable)")
    parser.add_argument("--all", action="store_true", help="every model in the repository")
    parser.add_argument("--base", default=None, metavar="REF",
                        help="validate the models a change touches: the merge base of REF and --head vs --head")
    parser.add_argument("--head", default=None, metavar="REF",
                        help="with --base: the checked-out commit (default) or WORKTREE for uncommitted work")
    parser.add_argument("--executor", default="local", choices=["local", "argo"],
                        help="where checks run (default: local)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for result files (default: <repo>/.govops/validation)")
    parser.add_argument("--jobs", type=int, default=2, help="checks run in parallel (default: 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="time limit per check in seconds (default: 300)")
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Select models, build the DAG, run it, print the outcome."""
    from engine.validation.dag import build_dag
    from engine.validation.executors import get as get_executor

    if args.head and not args.base:
        raise UsageError("--head needs --base (the ref the change is compared with)")
    if not args.model and not args.all and not args.base:
        raise UsageError("say which models to validate: --model ID (repeatable), --all, or --base REF [--head REF]")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    ws = workspace(args)
    root = repo_root(args)
    errors = [d for d in ws.diagnostics if d.severity == "error"]
    for d in errors:
        print(d.render(), file=sys.stderr)
    by_id = ws.by_id()
    head_sha: str | None = None
    judged_by = ws.config  # the config whose tiers the Argo templates were rendered from
    if args.base:
        from engine.policy.judge import config_for_change
        from engine.validation.dag import build_plan_dag

        # a change is validated as the base's govops.yaml says (tiers, required checks, thresholds)
        base_config = config_for_change(root, args.base, Path(args.config).resolve() if args.config else None)
        plan, head_sha = _plan(root, args.base, args.head, base_config)
        judged_by = base_config
        tasks = build_plan_dag(plan, base_config)
        selected = sorted({t.model for t in tasks})
        print(f"validating {len(selected)} model(s) changed between {args.base} and {args.head or 'HEAD'}: "
              f"{', '.join(selected) or 'none'}", file=sys.stderr)
    else:
        if args.all:
            chosen = list(by_id.values())
        else:
            unknown = [m for m in args.model if m not in by_id]
            if unknown:
                known = ", ".join(sorted(by_id)) or "none"
                raise UsageError(f"unknown model(s) {', '.join(unknown)}; models in this repository: {known}")
            chosen = [by_id[m] for m in dict.fromkeys(args.model)]
        if errors and not chosen:
            return EXIT_INPUT
        tasks = build_dag(chosen, ws.config)
        selected = [s.id for s in chosen]
    root = repo_root(args)
    out = (args.out if args.out is not None else root / ".govops" / "validation").resolve()
    if args.executor == "argo" and head_sha is None:
        head_sha = _checked_out_sha(root)
    tiers = {s.id: s.spec.spec.tier for s in ws.specs}
    executor = get_executor(args.executor, head_sha=head_sha, config=judged_by, tiers=tiers)
    run_ = executor.run(root, tasks, out, jobs=args.jobs, timeout_s=args.timeout)
    if args.format == "json":
        doc = json.loads(run_.summary_path.read_text())
        doc["summary_path"] = str(run_.summary_path)
        doc["results_full"] = run_.results
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(render_table(run_.results))
        c = run_.counts
        sys.stdout.write(
            f"govops validate: {'ok' if run_.ok else 'FAILED'}: {len(run_.results)} check(s) on "
            f"{len(selected)} model(s): {c.get('pass', 0)} passed, {c.get('fail', 0)} failed, "
            f"{c.get('error', 0)} error(s); results in {run_.out_dir}\n"
        )
    if errors:
        return EXIT_INPUT
    return EXIT_OK if run_.ok else EXIT_GOVERNANCE


def _checked_out_sha(root: Path) -> str:
    from engine.change.gitread import open_repo, resolve_commit

    with open_repo(root) as repo:
        return resolve_commit(repo, "HEAD", "head")


def _plan(root: Path, base: str, head: str | None, config: Any) -> tuple[Any, str | None]:
    """The change plan, refusing a head that is not what the working tree holds (checks read the tree)."""
    from engine.change.gitread import open_repo, plan_between, resolve_commit

    plan = plan_between(root, base, head or "HEAD", config)
    for d in plan.diagnostics:
        print(d.render(), file=sys.stderr)
    if head == "WORKTREE":
        return plan, None
    with open_repo(root) as repo:
        checked_out = resolve_commit(repo, "HEAD", "head")
    if plan.head_sha != checked_out:
        raise UsageError(
            f"validation reads specs, models and data from the working tree, which holds {checked_out[:12]}, "
            f"not --head {head} ({plan.head_sha[:12]}): check out {head} first, or pass --head WORKTREE"
        )
    return plan, plan.head_sha


def key_metric(result: dict[str, Any]) -> str:
    """The metric that decided the status: the first failed gate, else the closest call, else the error."""
    if result["status"] == "error":
        return (result.get("error") or result.get("summary") or "")[:100]
    gates = [m for m in result.get("metrics", []) if m.get("gate") and m.get("threshold") is not None]
    judged = [m for m in gates if m.get("passed") is not None and m.get("value") is not None]
    pick = next((m for m in gates if m.get("passed") is False), None) or (
        min(judged, key=_margin) if judged else None)
    if pick is None:
        return "-"
    value = "n/a" if pick["value"] is None else f"{pick['value']:.4g}"
    scope = "" if pick.get("scope") in (None, "overall") else f" [{pick['scope']}]"
    why = f": {pick['note']}" if pick["value"] is None and pick.get("note") else ""
    return f"{pick['name']}{scope} {value} (needs {pick['op']} {pick['threshold']:g}){why}"


def _margin(m: dict[str, Any]) -> float:
    """How far a passing value is from its threshold (smallest = the closest call)."""
    gap = float(m["value"]) - float(m["threshold"])
    return gap if m["op"] == ">=" else -gap


def render_table(results: list[dict[str, Any]]) -> str:
    """One aligned line per check: model, version, check, status, key metric vs threshold."""
    rows = [("MODEL", "VERSION", "CHECK", "STATUS", "KEY METRIC")]
    rows += [(r["model"], r["version"], r["check"], r["status"].upper(), key_metric(r)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(4)) + "  " + row[4] for row in rows]
    return "\n".join(lines) + "\n"
