"""The cluster's periodic work as Argo CronWorkflows (hera): the policy re-check of main and monitoring.

Stage: *validate* (install side), committed under ``argo/`` by ``govops argo render`` and
checked for drift like the WorkflowTemplates. Two kinds:

- ``govops-policy-recheck``: ``govops check --all`` on a fresh checkout of the default
  branch, which catches waivers that expired and freezes that began since the last merge
  (the same engine that judged the PRs decides, so a re-check never disagrees with it).
- ``govops-monitor-<tenant>``: ``govops monitor --once --tenant T``, one per tenant of
  ``govops.yaml`` (``all`` when it declares none), so a slow or failing group never delays
  another and each group's history is its own.

Every CronWorkflow uses ``concurrencyPolicy: Forbid`` (a run still going when the next is
due skips that slot instead of piling up), bounded history, UTC schedules and the labels
the validation runs carry. ``spec.schedules`` is an Argo Workflows 3.6+ field (4.x removed
``schedule``). Nothing here contacts a cluster or writes a secret value; the step is an argv
list, never a shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hera.workflows import Container, CronWorkflow, GitArtifact, Parameter, Resources
from hera.workflows.models import (
    ConfigMapEnvSource,
    EnvFromSource,
    PodGC,
    PodSecurityContext,
    SecretKeySelector,
    TTLStrategy,
)

from engine.spec.config import Governance
from engine.validation.k8s_names import dns_label, label_value
from engine.validation.workflow import LABEL_PREFIX, REPO_PATH, RUN_AS_USER, WorkflowOptions, _security

CRON_VERSIONS = "Argo Workflows 3.6 and 4.x"
MONITOR_CONFIG = "govops-monitoring"  # optional ConfigMap: GOVOPS_* settings of the monitoring pods
ALL_GROUP = "all"


@dataclass(frozen=True)
class CronOptions:
    """Schedules and retention of the CronWorkflows (cron syntax, evaluated in ``timezone``)."""

    git_url: str = ""
    branch: str = "main"
    recheck_schedule: str = "17 5 * * *"
    monitor_schedule: str = "*/30 * * * *"
    timezone: str = "UTC"
    successful_history: int = 3
    failed_history: int = 5
    starting_deadline_s: int = 600
    deadline_s: int = 3600


def groups(config: Governance) -> list[str]:
    """The model groups monitored separately: the tenants of ``govops.yaml``, else one group."""
    return sorted(config.tenants) or [ALL_GROUP]


def _labels(kind: str, group: str | None) -> dict[str, str]:
    labels = {"app.kubernetes.io/managed-by": "govops", f"{LABEL_PREFIX}/kind": kind}
    if group is not None:
        labels[f"{LABEL_PREFIX}/tenant"] = label_value(group)
    return labels


def _step(name: str, args: list[str], options: WorkflowOptions, *, monitoring: bool) -> Container:
    git = GitArtifact(
        name="repo",
        path=REPO_PATH,
        repo="{{workflow.parameters.git-url}}",
        revision="{{workflow.parameters.branch}}",
        username_secret=SecretKeySelector(name=options.git_secret, key="username") if options.git_secret else None,
        password_secret=SecretKeySelector(name=options.git_secret, key="token") if options.git_secret else None,
    )
    extra: dict[str, Any] = {}
    if monitoring:
        extra["env_from"] = [EnvFromSource(config_map_ref=ConfigMapEnvSource(name=MONITOR_CONFIG, optional=True))]
    return Container(
        name=name,
        image=options.image,
        command=["govops"],
        args=args,
        working_dir=REPO_PATH,
        inputs=[git],
        resources=Resources(cpu_request="250m", memory_request="512Mi", memory_limit="2Gi"),
        security_context=_security(),
        **extra,
    )


def _cron(
    name: str, kind: str, group: str | None, schedule: str, args: list[str],
    options: WorkflowOptions, cron: CronOptions, *, monitoring: bool = False,
) -> dict[str, Any]:
    labels = _labels(kind, group)
    with CronWorkflow(
        name=name,
        labels=labels,
        annotations={
            f"{LABEL_PREFIX}/argo-versions": CRON_VERSIONS,
            f"{LABEL_PREFIX}/command": "govops " + " ".join(args),
        },
        schedules=[schedule],
        timezone=cron.timezone,
        concurrency_policy="Forbid",
        successful_jobs_history_limit=cron.successful_history,
        failed_jobs_history_limit=cron.failed_history,
        starting_deadline_seconds=cron.starting_deadline_s,
        entrypoint="run",
        service_account_name=options.service_account,
        active_deadline_seconds=cron.deadline_s,
        pod_gc=PodGC(strategy="OnPodSuccess"),
        ttl_strategy=TTLStrategy(
            seconds_after_success=options.ttl_after_success_s, seconds_after_failure=options.ttl_after_failure_s
        ),
        security_context=PodSecurityContext(
            run_as_non_root=True, run_as_user=RUN_AS_USER, run_as_group=RUN_AS_USER, fs_group=RUN_AS_USER
        ),
        arguments=[Parameter(name="git-url", value=cron.git_url), Parameter(name="branch", value=cron.branch)],
    ) as cw:
        _step("run", args, options, monitoring=monitoring)
    doc = dict(cw.to_dict())
    doc["spec"]["workflowMetadata"] = {"labels": labels}  # every run carries the CronWorkflow's labels
    return doc


def cron_workflows(
    config: Governance, options: WorkflowOptions, cron: CronOptions | None = None
) -> dict[str, dict[str, Any]]:
    """``{file name: CronWorkflow}``: the policy re-check and one monitoring job per model group."""
    cron = cron or CronOptions()
    out = {
        "cronworkflow-policy-recheck.yaml": _cron(
            "govops-policy-recheck", "policy-recheck", None, cron.recheck_schedule, ["check", "--all"], options, cron
        )
    }
    for group in groups(config):
        args = ["monitor", "--once"] + ([] if group == ALL_GROUP else ["--tenant", group])
        name = dns_label(f"govops-monitor-{group}", max_len=52, what="tenant")
        out[f"cronworkflow-{name.removeprefix('govops-')}.yaml"] = _cron(
            name, "monitoring", group, cron.monitor_schedule, args, options, cron, monitoring=True
        )
    return out
