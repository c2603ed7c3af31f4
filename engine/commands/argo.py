"""Argo Workflows: ``govops argo render|workflow|ui-config|status|logs``.

``render --out argo/`` writes one WorkflowTemplate per tier (labelled with its digest), the
CronWorkflows (policy re-check of main, monitoring per tenant), the RBAC and a kustomization
(``kubectl apply -k argo/``); with ``--check`` it writes nothing and exits 1 when the files
on disk differ from a fresh render (CI's drift check). ``workflow`` prints the Workflow(s)
validating some models, self-contained for review or ``argo submit`` (``--by-reference``:
the form PR runs submit, steps referencing the installed templates). ``ui-config`` prints
the workflow-controller ConfigMap ``links``/``columns``. ``status [PR|WORKFLOW]`` and
``logs WORKFLOW [--step CHECK]`` read a run through the Argo Server API. Manifests are for
Argo Workflows 3.5, 3.6 and 4.x (CronWorkflows: 3.6+). The validator image comes from
``--image`` or ``GOVOPS_VALIDATOR_IMAGE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.spec.errors import EXIT_GOVERNANCE, EXIT_OK, ConfigError, UsageError

NAME = "argo"
HELP = "render argo/ (templates, CronWorkflows), show a change's Workflow, read runs' status and logs"
ORDER = 60

if TYPE_CHECKING:
    from engine.validation.workflow import WorkflowOptions


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops argo``."""
    sub = parser.add_subparsers(dest="argo_command", metavar="SUBCOMMAND")
    render = sub.add_parser("render", help="write the WorkflowTemplates, CronWorkflows, RBAC and kustomization")
    render.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (default: <repo>/argo)")
    render.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files differ")
    render.add_argument("--namespace", default=None, help="namespace of the RBAC subjects (default: argo)")
    render.add_argument("--image", default=None, help="validator image (default: GOVOPS_VALIDATOR_IMAGE)")
    render.add_argument("--git-url", default="", metavar="URL",
                        help="the repository the CronWorkflows clone (their git-url parameter)")
    wf = sub.add_parser("workflow", help="print the Workflow(s) validating some models, as YAML")
    wf.add_argument("--model", action="append", default=None, metavar="ID", help="a model id (repeatable)")
    wf.add_argument("--all", action="store_true", help="every model")
    wf.add_argument("--repository", default=None, metavar="OWNER/NAME")
    wf.add_argument("--pr", type=int, default=None, metavar="N")
    wf.add_argument("--head-sha", default=None, metavar="SHA")
    wf.add_argument("--image", default=None, help="validator image (default: GOVOPS_VALIDATOR_IMAGE)")
    wf.add_argument("--by-reference", action="store_true",
                    help="the form PR runs submit: steps reference argo/'s WorkflowTemplates (default: inline)")
    ui = sub.add_parser("ui-config", help="print the workflow-controller ConfigMap links and columns for the Argo UI")
    ui.add_argument("--github-url", default="https://github.com", metavar="URL", help="GitHub (Enterprise) web URL")
    from engine.commands._argo_read import configure_read

    configure_read(sub)


def _options(image: str | None) -> WorkflowOptions:
    from engine.spec.settings import get_settings
    from engine.validation.workflow import WorkflowOptions

    settings = get_settings()
    return WorkflowOptions(
        image=image or settings.validator_image,
        service_account=settings.argo_service_account,
        git_secret=settings.argo_git_secret,
        github_secret=settings.argo_github_secret,
    )


def run(args: argparse.Namespace) -> int:
    """Dispatch to the sub-command."""
    if args.argo_command == "render":
        return _render(args)
    if args.argo_command == "workflow":
        return _workflow(args)
    if args.argo_command == "ui-config":
        from engine.validation.argo_manifests import ui_config_text

        sys.stdout.write(ui_config_text(args.github_url))
        return EXIT_OK
    if args.argo_command in ("status", "logs"):
        from engine.commands._argo_read import run_read

        return run_read(args)
    raise UsageError("govops argo needs a sub-command: render, workflow, ui-config, status or logs")


def _render(args: argparse.Namespace) -> int:
    from engine.commands._common import repo_root, workspace
    from engine.validation.argo_manifests import render_files
    from engine.validation.cron import CronOptions

    ws = workspace(args)
    if ws.config is None:
        raise ConfigError("govops.yaml is missing or invalid; run `govops lint`", file=ws.config_file)
    options = _options(args.image)
    files = render_files(ws.config, args.namespace or "argo", options, CronOptions(git_url=args.git_url))
    out = args.out if args.out is not None else repo_root(args) / "argo"
    if args.check:
        stale = sorted(n for n, text in files.items() if not (out / n).is_file() or (out / n).read_text() != text)
        extra = sorted(p.name for p in out.glob("*.yaml") if p.name not in files) if out.is_dir() else []
        for name in stale:
            print(f"{out / name}: differs from a fresh render", file=sys.stderr)
        for name in extra:
            print(f"{out / name}: not produced by a fresh render", file=sys.stderr)
        if stale or extra:
            print("run `govops argo render` and commit the result", file=sys.stderr)
            return EXIT_GOVERNANCE
        print(f"{out}: up to date ({len(files)} files)")
        return EXIT_OK
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    print(f"wrote {len(files)} files to {out}")
    return EXIT_OK


def _workflow(args: argparse.Namespace) -> int:
    from engine.commands._common import workspace
    from engine.spec.diagnostics import has_errors
    from engine.validation.argo_manifests import to_yaml
    from engine.validation.dag import build_dag
    from engine.validation.workflow import ARGO_VERSIONS, RunContext, pr_workflows

    if not args.all and not args.model:
        raise UsageError("name the models with --model ID (repeatable) or use --all")
    ws = workspace(args)
    for d in ws.diagnostics:
        print(d.render(), file=sys.stderr)
    if has_errors(ws.diagnostics):
        raise ConfigError("fix the errors above first (govops lint)")
    specs = ws.specs
    if args.model:
        known = ws.by_id()
        missing = [m for m in args.model if m not in known]
        if missing:
            raise UsageError(f"unknown model(s): {', '.join(missing)}; see `govops catalog`")
        specs = [known[m] for m in args.model]
    options = _options(args.image)
    run = RunContext(repository=args.repository, pr_number=args.pr, head_sha=args.head_sha)
    tasks = build_dag(specs, ws.config)
    if not args.by_reference or ws.config is None:
        planned = pr_workflows(tasks, run, options)
    else:
        from engine.validation.submit import ref_workflows

        planned = ref_workflows(tasks, run, ws.config, options, {s.id: s.spec.spec.tier for s in ws.specs})
    header = (
        f"# Rendered by `govops argo workflow` for {ARGO_VERSIONS}; {len(planned)} workflow(s).\n"
        "# Submit with `argo submit` or `kubectl create -f` (each part separately).\n"
    )
    sys.stdout.write(to_yaml(*(p.to_dict() for p in planned), header=header))
    return EXIT_OK
