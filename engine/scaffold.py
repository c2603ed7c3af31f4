"""``govops init``: scaffold a new GitOps repository that passes ``govops lint`` at once.

Writes govops.yaml, one example spec with a real (tiny) model and data whose digests
are pinned, the default policy library and the GitHub workflows. It never overwrites
an existing file: an existing non-empty target is refused.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

from engine.spec.errors import InputError

TEMPLATES = Path(__file__).parent / "templates"
SOURCE_TREE = Path(__file__).resolve().parents[1]


def policies_dir() -> Path | None:
    """The default policy library shipped with govops (the source tree's ``policies/``)."""
    candidate = SOURCE_TREE / "policies"
    return candidate if candidate.is_dir() else None


def init_repo(target: Path) -> list[str]:
    """Scaffold ``target``; returns the files written (relative paths)."""
    from engine.examples import build_iris

    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a directory", file=str(target))
    if target.exists() and any(target.iterdir()):
        raise InputError(
            f"{target} is not empty; govops init never overwrites files: choose a new directory",
            file=str(target),
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(TEMPLATES / "govops.yaml", target / "govops.yaml")
    digests = build_iris(target)
    spec = string.Template((TEMPLATES / "model.yaml.tmpl").read_text()).substitute(digests)
    (target / "specs" / "example").mkdir(parents=True)
    (target / "specs" / "example" / "iris-species.yaml").write_text(spec)
    policies = policies_dir()
    if policies is not None:
        shutil.copytree(policies, target / "policies", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    workflows = TEMPLATES / "github"
    if workflows.is_dir():
        dest = target / ".github" / "workflows"
        dest.mkdir(parents=True)
        for wf in sorted(workflows.glob("*.yml")):
            shutil.copy(wf, dest / wf.name)
    (target / ".gitignore").write_text(".govops/\n.venv/\n")
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
