"""Automatic shutdown: route traffic away now, and record the change the GitOps way.

Monitoring stage, the one place monitoring acts. When a model with ``autoShutdown.enabled``
falls below ``criticalHealth``:

1. the gateway override (:mod:`engine.gateway.overrides`) sends its traffic to the
   failover version, or stops serving it, at once (a running gateway is asked to reload);
2. a commit on a new branch ``govops/shutdown/<tenant>-<name>-<UTC timestamp>`` changes the
   spec (``champion`` → the failover version, challengers and ``failover`` removed; or
   ``replicas: 0`` and challengers removed for ``action: stop``), authored and committed by
   the govops bot (``GOVOPS_BOT_NAME``/``GOVOPS_BOT_EMAIL``), with the triggering metrics in
   the message. It is built with git plumbing in a temporary index, so the working tree,
   the index and the checked-out branch are never touched;
3. where a GitHub token allows (``GITHUB_TOKEN`` and ``GITHUB_REPOSITORY``), the branch is
   pushed to ``origin`` and a pull request is opened with ``engine.change.github.GitHubClient``.

A human merges the permanent change; history stays the one audit trail. This module never
merges, never force-pushes and never passes a user-controlled string where git reads options.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

from engine.gateway.overrides import set_override
from engine.monitoring.health import Health
from engine.monitoring.measure import Measured
from engine.spec.errors import GovopsError, InputError
from engine.spec.model import ModelSpec


class ShutdownError(GovopsError):
    """The shutdown could not be recorded in Git (the routing override may still be in place)."""


@dataclass
class ShutdownResult:
    """What an automatic shutdown did."""

    model: str
    action: str  # failover | stop
    from_version: str | None
    to_version: str | None
    at: str
    branch: str | None = None
    commit: str | None = None
    pull_request: str | None = None
    gateway: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """JSON form (kept in the monitoring state)."""
        return dict(self.__dict__)


def _git(repo: Path, *args: str, input_text: str | None = None, env: dict[str, str] | None = None) -> str:
    git = ["git", "-C", str(repo), "-c", "core.useReplaceRefs=false"]
    proc = subprocess.run([*git, *args], input=input_text, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        raise ShutdownError(f"git {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def plan_action(spec: ModelSpec) -> tuple[str, str | None, str | None]:
    """``(action, from_version, to_version)``: failover when declared and asked for, else stop."""
    mon = spec.spec.monitoring
    dep = spec.spec.deployment
    champion = dep.champion if dep is not None else None
    wanted = mon.auto_shutdown.action if mon is not None else "failover"
    if wanted == "failover" and dep is not None and dep.failover is not None and dep.failover != dep.champion:
        return "failover", champion, dep.failover
    return "stop", champion, None


def edit_spec_text(text: str, action: str, to_version: str | None) -> str:
    """The spec YAML with the shutdown applied, comments and layout kept (ruamel round-trip)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    doc = yaml.load(text)
    dep = doc["spec"]["deployment"]
    if action == "failover":
        dep["champion"] = to_version
        dep.pop("failover", None)
    else:
        dep["replicas"] = 0
    dep.pop("challengers", None)
    out = StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def commit_message(spec: ModelSpec, action: str, from_v: str | None, to_v: str | None, health: Health,
                   measured: list[Measured], window: dict[str, Any]) -> str:
    """The bot commit's message: what happened, why (the metrics), and what a human should do."""
    score = "n/a" if health.score is None else f"{health.score:.3f}"
    what = (f"route {spec.id} to failover {to_v} (was champion {from_v})" if action == "failover"
            else f"stop serving {spec.id} (champion {from_v}, challengers removed)")
    lines = [
        f"govops: automatic shutdown of {spec.id} (health {score} < {health.critical})",
        "",
        f"govops monitor found {spec.id} critically unhealthy and acted: {what}.",
        "The gateway already applies this; merging this change makes it permanent in the desired state.",
        "",
        f"Window: {window.get('since')} .. {window.get('until')} ({window.get('rows')} served rows)",
        f"Health: {score} (minimum {health.minimum}, critical {health.critical})",
        "Kind scores: " + ", ".join(f"{k}={'n/a' if v is None else f'{v:.2f}'}" for k, v in health.kinds.items()),
        "",
        "Metrics outside their bounds:",
    ]
    failing = [m for m in measured if m.gate and m.passed is False]
    lines += [f"- {m.describe()}" for m in failing] or ["- (none; the health score itself is below the threshold)"]
    lines += ["", "Govops-Action: shutdown", f"Govops-Model: {spec.id}", f"Govops-Shutdown: {action}"]
    return "\n".join(lines) + "\n"


def commit_shutdown(root: Path, spec_file: str, new_text: str, message: str, branch: str,
                    base_ref: str = "HEAD") -> str:
    """Create ``branch`` at a new commit on ``base_ref`` that changes one file; returns the commit sha."""
    from engine.spec.settings import get_settings

    settings = get_settings()
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    rel = (Path(_git(root, "rev-parse", "--show-prefix").strip() or ".") / spec_file).as_posix()
    rel = os.path.normpath(rel)
    base = _git(root, "rev-parse", "--verify", "--end-of-options", f"{base_ref}^{{commit}}").strip()
    listing = _git(top, "ls-tree", base, "--", rel).split()
    if not listing:
        raise ShutdownError(f"{rel} is not in commit {base[:12]}; the spec must be committed before a shutdown")
    mode = listing[0]
    blob = _git(top, "hash-object", "-w", "--stdin", input_text=new_text).strip()
    ident = {"GIT_AUTHOR_NAME": settings.bot_name, "GIT_AUTHOR_EMAIL": settings.bot_email,
             "GIT_COMMITTER_NAME": settings.bot_name, "GIT_COMMITTER_EMAIL": settings.bot_email}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **ident}
        _git(top, "read-tree", base, env=env)
        _git(top, "update-index", "--cacheinfo", f"{mode},{blob},{rel}", env=env)
        tree = _git(top, "write-tree", env=env).strip()
    commit = _git(top, "commit-tree", tree, "-p", base, "-F", "-", input_text=message, env=ident).strip()
    # create only: an existing branch of that name is never moved
    _git(top, "update-ref", f"refs/heads/{branch}", commit, "0" * 40)
    return commit


def open_pull_request(root: Path, branch: str, base_branch: str, title: str, body: str) -> str | None:
    """Push the branch to ``origin`` and open a PR when ``GITHUB_TOKEN`` and ``GITHUB_REPOSITORY`` are set."""
    repo = os.environ.get("GITHUB_REPOSITORY")
    if not os.environ.get("GITHUB_TOKEN") or not repo:
        return None
    from engine.change.github import GitHubClient

    _git(root, "push", "origin", f"refs/heads/{branch}:refs/heads/{branch}")
    client = GitHubClient()
    try:
        resp = client.request("POST", f"/repos/{repo}/pulls",
                              json={"title": title, "head": branch, "base": base_branch, "body": body})
        data = resp.json()
    finally:
        client.close()
    return str(data.get("html_url") or data.get("url") or data.get("number"))


def current_branch(root: Path) -> str:
    """The checked-out branch name (the PR's base), ``main`` when detached."""
    try:
        name = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD").strip()
    except ShutdownError:
        return "main"
    return name or "main"


def shutdown(root: Path, spec: ModelSpec, spec_file: str, health: Health, measured: list[Measured],
             window: dict[str, Any], *, base_ref: str = "HEAD", now: datetime | None = None) -> ShutdownResult:
    """Route traffic away now, then record the change on a bot branch (and a PR where possible)."""
    now = now or datetime.now(UTC)
    action, from_v, to_v = plan_action(spec)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    result = ShutdownResult(spec.id, action, from_v, to_v, now.isoformat(timespec="seconds"))
    branch = f"govops/shutdown/{spec.metadata.tenant}-{spec.metadata.name}-{stamp}"
    set_override(root, spec.id, {"action": action, "version": to_v, "from": from_v, "at": result.at,
                                 "reason": f"health {health.score} < critical {health.critical}", "branch": branch})
    from engine.mlserver.local_serving import notify_reload

    result.gateway = notify_reload(root)
    message = commit_message(spec, action, from_v, to_v, health, measured, window)
    try:
        base = _git(root, "rev-parse", "--verify", "--end-of-options", f"{base_ref}^{{commit}}").strip()
        text = _git(root, "cat-file", "blob", f"{base}:./{spec_file}")
        result.commit = commit_shutdown(root, spec_file, edit_spec_text(text, action, to_v), message, branch,
                                        base_ref)
        result.branch = branch
    except (ShutdownError, KeyError, TypeError) as exc:
        result.problems.append(f"not recorded in Git: {exc}")
        return result
    try:
        result.pull_request = open_pull_request(root, branch, current_branch(root), message.splitlines()[0],
                                                message)
    except (ShutdownError, InputError) as exc:
        result.problems.append(f"no pull request: {exc}")
    return result
