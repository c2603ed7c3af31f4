"""Scaffold a new GitOps repository: govops.yaml, specs/, policies/, .github/workflows/.

The result passes ``govops lint`` at once and holds one example model with real data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "init"
HELP = "scaffold a new GitOps repository that passes `govops lint` at once"
ORDER = 10


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops init``."""
    parser.add_argument("dir", type=Path, help="the directory to create (must be new or empty)")


def run(args: argparse.Namespace) -> int:
    """Write the scaffold and say what was written."""
    from engine.scaffold import init_repo, policies_dir

    files = init_repo(args.dir)
    if policies_dir() is None:
        print("warning: this govops installation ships no policy library (engine/policy/default_library is "
              "missing): add your Rego policies under policies/", file=sys.stderr)
    print(f"scaffolded {args.dir} ({len(files)} files):")
    for f in files:
        print(f"  {f}")
    print(f"next: cd {args.dir} && git init && govops lint && govops catalog")
    print("on GitHub: govops-pr-report.yml posts the statuses once it is on the default branch (workflow_run "
          "runs only that copy); make govops/policy and govops/validation required checks for main")
    print("with an Argo cluster: kubectl apply -k argo/, then set the repository variable ARGO_SERVER and the "
          "secret ARGO_TOKEN (the govops-submitter token): PR validation then runs there; without them it runs "
          "in the Actions job")
    return 0
