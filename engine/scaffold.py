"""``govops init``: scaffold a new GitOps repository that passes ``govops lint`` at once.

Writes govops.yaml, one example spec with a real (tiny) model and data whose digests
are pinned, the default policy library, ``argo/`` (for a repository with an Argo Server),
the GitHub workflows and a ``.pre-commit-config.yaml``
using govops' own hooks (``.pre-commit-hooks.yaml``). The spec and govops.yaml start with a
``# yaml-language-server: $schema=`` line (``engine.spec.published``), so editors validate them
at once. It never overwrites an existing file: an existing non-empty target is refused.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

from engine.spec.errors import InputError
from engine.spec.published import REPOSITORY_URL, modeline, version_tag

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_LIBRARY = Path(__file__).parent / "policy" / "default_library"


def policies_dir() -> Path | None:
    """The default policy library shipped with govops.

    ``engine/policy/default_library`` is a link to the source tree's ``policies/`` in a
    checkout, and the library's files themselves in an installed wheel (package data).
    """
    candidate = DEFAULT_LIBRARY
    return candidate if candidate.is_dir() else None


def _render(template: str, **values: str) -> str:
    """A template with ``${name}`` filled in (the schema line, digests, the pre-commit repo and rev)."""
    return string.Template((TEMPLATES / template).read_text()).substitute(values)


def _scaffold_argo(target: Path) -> None:
    """``argo/``: the WorkflowTemplates, CronWorkflows, RBAC and kustomization for the new govops.yaml.

    Used when the repository has an Argo Server (``ARGO_SERVER``); ``govops argo render --check``
    keeps it in step with govops.yaml.
    """
    from engine.spec.workspace import load_config
    from engine.validation.argo_manifests import render_files
    from engine.validation.workflow import WorkflowOptions

    config, _, _ = load_config(target)
    if config is None:
        return
    out = target / "argo"
    out.mkdir()
    for name, text in render_files(config, "argo", WorkflowOptions()).items():
        (out / name).write_text(text)


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
    (target / "govops.yaml").write_text(_render("govops.yaml", modeline=modeline("governance")))
    digests = build_iris(target)
    spec = _render("model.yaml.tmpl", modeline=modeline("model"), **digests)
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
    _scaffold_argo(target)
    (target / ".gitignore").write_text(".govops/\n.venv/\n")
    (target / ".pre-commit-config.yaml").write_text(
        _render("pre-commit-config.yaml", repo=REPOSITORY_URL, rev=version_tag()))
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
