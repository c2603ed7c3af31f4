"""Reports of a PR check: one small protocol, one module per format, picked by name.

Modelled on conftest's ``Outputter``: every format renders the same ``PrReport``
(``statuses``: the commit statuses to send; ``annotations``: GitHub workflow commands;
``markdown``: the step summary; ``json``: the report for any other CI system). Formats
only render; sending statuses over HTTP is ``engine.report.statuses.publish``'s job, and
nothing here decides whether a change passes (policies and validators do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.spec.diagnostics import Diagnostic, has_errors
from engine.spec.errors import UsageError

if TYPE_CHECKING:
    from engine.change.context import ChangeContext
    from engine.change.gitread import Plan
    from engine.spec.config import Governance
    from engine.validation.dag import ValidationTask

DESCRIPTION_MAX = 140


def result_passed(result: dict[str, Any] | None) -> bool:
    """``engine.spec.check_result.document_passes``, imported when first needed.

    That module pulls in pydantic; ``lint`` and ``check`` render through ``engine.report.output``
    (a sub-package of this one) and their warm, cached path must not pay for it.
    """
    from engine.spec.check_result import document_passes

    return document_passes(result)



@dataclass
class PrReport:
    """Everything a PR check found: the plan, the context, policy findings, validation results."""

    plan: Plan
    context: ChangeContext
    config: Governance | None
    policy_diagnostics: list[Diagnostic]
    decisions: list[dict[str, Any]] = field(default_factory=list)
    models_checked: int = 0
    validation_ran: bool = False
    tasks: list[ValidationTask] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    run_url: str | None = None
    argo_runs: list[dict[str, Any]] = field(default_factory=list)
    """Identity of each Argo run that validated the change: name, namespace, uid, url, phase, templates."""

    @property
    def policy_ok(self) -> bool:
        """No blocking policy finding (deny) and no invalid spec."""
        return not has_errors(self.policy_diagnostics)

    def result_for(self, model: str, check: str) -> dict[str, Any] | None:
        """The validation result of one (model, check), if any."""
        return next((r for r in self.results if r.get("model") == model and r.get("check") == check), None)

    @property
    def validation_ok(self) -> bool:
        """Every task has a result and every result passed (True when validation did not run)."""
        if not self.validation_ran:
            return True
        return all(result_passed(self.result_for(t.model, t.check)) for t in self.tasks)

    @property
    def ok(self) -> bool:
        """The change may merge as far as govops is concerned."""
        return self.policy_ok and self.validation_ok


class Reporter(Protocol):
    """Renders a PR report to text."""

    def render(self, report: PrReport) -> str:
        """The whole output, ending with a newline."""
        ...


def one_line(text: str, limit: int = DESCRIPTION_MAX) -> str:
    """``text`` on one line, at most ``limit`` characters (ellipsis when cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def run_url(env: Mapping[str, str] | None = None, argo_url: str | None = None) -> str | None:
    """The link a status points to: ``GOVOPS_RUN_URL``, else the Argo UI, else the Actions run."""
    from engine.spec.settings import get_settings

    env = os.environ if env is None else env
    configured = get_settings(env).run_url
    if configured:
        return configured
    if argo_url:
        return argo_url
    server, repo, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return None


def get(name: str) -> Reporter:
    """The reporter registered under ``name``."""
    from engine.report.annotations import AnnotationsReporter
    from engine.report.json_report import JsonReporter
    from engine.report.markdown import MarkdownReporter
    from engine.report.statuses import StatusesReporter

    formats: dict[str, Reporter] = {
        "statuses": StatusesReporter(),
        "annotations": AnnotationsReporter(),
        "markdown": MarkdownReporter(),
        "json": JsonReporter(),
    }
    if name not in formats:
        raise UsageError(f"unknown report format '{name}'; choose one of: {', '.join(formats)}")
    return formats[name]
