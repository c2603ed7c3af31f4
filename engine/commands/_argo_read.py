"""``govops argo status [PR|WORKFLOW]`` and ``govops argo logs WORKFLOW [--step CHECK]``.

The terminal view of what the Argo UI shows (``engine.validation.argo_inspect``): each run of a
PR (or one workflow) with its phase, and each step with its phase and its node's UI link;
the main container's log of one step or all. Exit 0 when every run shown succeeded, 1 when
one failed, 2 for a bad target, an unreachable server or a refused token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from engine.spec.errors import EXIT_GOVERNANCE, EXIT_OK


def configure_read(sub: Any) -> None:
    """Add the ``status`` and ``logs`` sub-commands."""
    status = sub.add_parser("status", help="the validation runs of a PR (number) or one workflow, step by step")
    status.add_argument("target", metavar="PR|WORKFLOW", help="a PR number or a workflow name")
    status.add_argument("--repository", default=None, metavar="OWNER/NAME",
                        help="with a PR number: only that repository's runs (default: $GITHUB_REPOSITORY)")
    status.add_argument("--namespace", default=None, help="default: GOVOPS_ARGO_NAMESPACE")
    status.add_argument("--format", choices=["text", "json"], default="text")
    logs = sub.add_parser("logs", help="the log of a workflow's steps (main container)")
    logs.add_argument("workflow", metavar="WORKFLOW", help="the workflow name")
    logs.add_argument("--step", default=None, metavar="CHECK", help="only this check (or step name)")
    logs.add_argument("--namespace", default=None, help="default: GOVOPS_ARGO_NAMESPACE")


def _print_run(run: dict[str, Any]) -> None:
    print(f"{run['name']}  {run['phase']}  ({run['submission']}, PR {run['pr'] or '-'}, "
          f"head {str(run['head_sha'] or '-')[:12]})")
    print(f"  {run['url']}")
    width = max((len(s["step"]) for s in run["steps"]), default=4)
    for s in run["steps"]:
        note = f"  {s['message']}" if s["message"] and s["phase"] != "Succeeded" else ""
        print(f"  {s['step'].ljust(width)}  {s['phase'].ljust(9)}  {s['url']}{note}")


def run_read(args: argparse.Namespace) -> int:
    """Dispatch ``status`` or ``logs``."""
    from engine.spec.settings import get_settings
    from engine.validation.argo_inspect import connect, describe, find_runs, logs

    conn = connect(get_settings(), args.namespace)
    try:
        if args.argo_command == "logs":
            wf = find_runs(conn, args.workflow)[0]
            for step, line in logs(conn, wf, args.step):
                print(f"{step}: {line}")
            return EXIT_OK
        repo = args.repository or (os.environ.get("GITHUB_REPOSITORY") if args.target.isdigit() else None)
        runs = [describe(conn, wf) for wf in find_runs(conn, args.target, repo)]
    finally:
        conn.close()
    if args.format == "json":
        sys.stdout.write(json.dumps({"runs": runs}, indent=2) + "\n")
    else:
        for run in runs:
            _print_run(run)
    latest = runs[0]["phase"] if runs else "Pending"
    return EXIT_GOVERNANCE if latest in ("Failed", "Error") else EXIT_OK
