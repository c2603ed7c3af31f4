"""The pre-commit hooks' entry points: lint the staged specs, judge the staged change.

``.pre-commit-hooks.yaml`` at the root of the govops repository runs these; pre-commit passes
the staged file names (and stashes unstaged edits first, so the working tree holds what is
staged; untracked files stay, and their findings are left out when file names are given).

* ``govops hook lint FILE…`` runs ``govops lint`` on the staged files under ``specPaths`` (the changed specs
  only; other YAML files are not specs and are skipped), and on every spec when govops.yaml is
  staged (a removed tier or tenant can invalidate any spec).
* ``govops hook check [FILE…]`` is ``govops check --base HEAD --head WORKTREE``: the change is
  judged by HEAD's govops.yaml, policy library and waivers, read from Git, never by the staged
  ones (a commit that edits ``policies/`` is judged by the rules it edits, as a pull request is
  judged by its base's; ``--base origin/main`` judges the whole branch by main's rules, as CI
  will). Findings that only a pull request's reviews can settle (approvals, the author's right
  to change a tenant's specs, the risk group's sign-off on rule changes) are shown as warnings
  "at the pull request" instead of blocking every commit. Before the first commit there is no
  HEAD: the tree is judged by its own rules, as ``govops check --all`` does on main.

Exit codes as everywhere: 0 ok, 1 a policy denies, 2 invalid input.
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.commands._common import CONFIG_FILE, emit, repo_root

if TYPE_CHECKING:
    from engine.spec.diagnostics import Diagnostic, Findings

NAME = "hook"
HELP = "pre-commit entry points: `lint` the staged specs, `check` the staged change with HEAD's rules"
ORDER = 26

REVIEW_RULES = ("GOV-APP-", "GOV-TEN-003", "GOV-TEN-004", "GOV-META-")
"""Rules that only a pull request's reviews (or its author's identity on the forge) can satisfy."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops hook``."""
    parser.add_argument("action", choices=["lint", "check"])
    parser.add_argument("files", nargs="*", metavar="FILE", help="the staged files (pre-commit passes them)")
    parser.add_argument("--base", default="HEAD", metavar="REF",
                        help="check: whose rules judge, and where the change starts (default: HEAD)")


def run(args: argparse.Namespace) -> int:
    """Run the hook named by ``action``."""
    return _lint(args) if args.action == "lint" else _check(args)


def _lint(args: argparse.Namespace) -> int:
    """``govops lint`` itself (same rules, cache and output) on the staged specs; everything when govops.yaml is."""
    from engine.commands import lint
    from engine.spec.workspace import load_config

    root = repo_root(args)
    config_path = Path(args.config).resolve() if args.config else None
    config, _, _ = load_config(root, config_path)
    spec_roots = [(root / p).resolve() for p in (config.spec_paths if config else ["specs"])]
    staged = [Path(f).resolve() for f in args.files]  # relative to where pre-commit runs (the Git top level)
    specs = [p for p in staged if p.suffix in (".yaml", ".yml") and p.is_file()
             and any(p.is_relative_to(r) for r in spec_roots)]
    config_staged = any(p == (config_path or root / CONFIG_FILE).resolve() for p in staged)
    if not specs and not config_staged:
        print("govops lint: no spec staged")
        return 0
    # a staged govops.yaml can invalidate any spec (a tier or tenant removed): then every spec is linted
    return int(lint.run(argparse.Namespace(**{**vars(args), "paths": [] if config_staged else specs,
                                              "format": "text", "jobs": None})))


def _check(args: argparse.Namespace) -> int:
    from engine.change.gitread import WORKTREE
    from engine.policy.check import run_check
    from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT, EXIT_OK

    root = repo_root(args)
    config_path = Path(args.config).resolve() if args.config else None
    if _has_commit(root, args.base):
        outcome = run_check(root, base=args.base, head=WORKTREE, config_path=config_path)
    else:
        print(f"note: no commit at {args.base} yet: the staged tree is judged by its own rules (adopting govops)")
        outcome = run_check(root, all_models=True, config_path=config_path)
    findings = _for_commit(outcome.findings, _local(root, args.files))
    emit(findings, "text")
    diags = findings.diagnostics
    if any(d.severity == "error" and not d.rule.startswith("GOV-") for d in diags):
        return EXIT_INPUT
    return EXIT_GOVERNANCE if not findings.ok else EXIT_OK


def _local(root: Path, files: list[str]) -> list[str]:
    """The staged files as findings name them: relative to the directory holding govops.yaml."""
    out = []
    for f in files:
        path = Path(f).resolve()
        out.append(path.relative_to(root).as_posix() if path.is_relative_to(root) else f)
    return out


def _has_commit(root: Path, ref: str) -> bool:
    res = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                         cwd=root, capture_output=True, text=True)
    return res.returncode == 0


def _for_commit(findings: Findings, files: list[str]) -> Findings:
    """The findings on the staged files, with the ones only reviews can settle turned into warnings."""
    from engine.spec.diagnostics import Findings

    kept: list[Diagnostic] = []
    for d in findings.diagnostics:
        if files and d.file not in files:
            continue  # an untracked or unstaged file: not part of this commit
        if d.severity == "error" and d.rule.startswith(REVIEW_RULES):
            d = replace(d, severity="warning", message=f"at the pull request: {d.message}")
        kept.append(d)
    return Findings(kept, models_checked=findings.models_checked, tool="govops check (pre-commit)")
