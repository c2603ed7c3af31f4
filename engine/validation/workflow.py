"""Validation as Argo Workflows, built with hera from the one DAG description (``engine.validation.dag``).

Stage: *validate* (distributed engine). ``build_dag`` gives one task per (model, check);
this module renders the very same tasks as Argo objects:

- ``pr_workflows(tasks, run, options)``: the Workflow(s) for one pull request. Each DAG task
  is a container step running ``python -m runners CHECK --spec FILE --model ID --version V
  [--champion V] --thresholds JSON --out /tmp/result.json --summary /tmp/summary.md`` from the
  validator image, in a checkout of the PR's head commit (an Argo ``git`` input artifact). The
  result document and its Markdown summary (``runners.summary``) are output artifacts ``result``
  and ``summary``, stored unarchived, so the Argo Server returns them as is and the UI shows both.
- ``tier_template(tier, config, options)``: one ``WorkflowTemplate`` per tier (committed under
  ``argo/`` by ``govops argo render``) that validates one model with the tier's checks. PR runs
  reference its ``check``/``check-vs-champion``/``github-status`` templates by default
  (``engine.validation.submit``); ``pr_workflows`` is the self-contained (inline) form.

The manifests target **Argo Workflows 3.5, 3.6 and 4.x** (hera 7 targets Argo Workflows 4;
nothing here uses a field removed in 4 or added after 3.5).

What this module must never do: interpolate a value into a shell (there is no shell: the
command is an argv list and every value is its own list item), emit a name Kubernetes or
Argo would reject (``engine.validation.k8s_names`` maps or refuses), or let a parameter value carry
Argo template syntax (``{{``) into the manifest. Values bound to container arguments have
every ``$`` doubled, Kubernetes' escape for ``$(VAR)`` expansion in ``args``, so the step
receives exactly the original bytes.

Retries: ``retryStrategy`` uses ``retryPolicy: OnError``. Argo marks a node *Error* for
infrastructure problems (pod deleted or evicted, node lost, artifact or init failures) and
*Failed* when the container exits non-zero. The runner exits 1 when a check fails on its
merits and 2 when it cannot judge, so those nodes are *Failed* and are never retried; only
infrastructure errors are.

The exit handler sets the final commit status with a ``curl`` container calling GitHub's
statuses API (``POST /repos/{owner}/{repo}/statuses/{sha}``). The token comes from a Secret
(``govops-github``, key ``token``) as an environment variable, referenced in the header as
``$(GITHUB_TOKEN)`` — Kubernetes expands it in ``args`` without a shell. It runs only when
the workflow parameter ``report-status`` is ``true``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from hera.workflows import (
    DAG,
    Artifact,
    Container,
    GitArtifact,
    NoneArchiveStrategy,
    Parameter,
    Resources,
    RetryStrategy,
    SecretEnv,
    Task,
    Workflow,
    WorkflowTemplate,
)
from hera.workflows.models import (
    Backoff,
    Capabilities,
    LabelValueFrom,
    PodGC,
    PodSecurityContext,
    SecretKeySelector,
    SecurityContext,
    TTLStrategy,
    WorkflowMetadata,
)

from engine.spec.config import Governance
from engine.spec.errors import InputError
from engine.spec.settings import DEFAULT_VALIDATOR_IMAGE
from engine.validation.dag import ValidationTask
from engine.validation.k8s_names import argo_field_name, dns_label, label_value, unique_names

ARGO_VERSIONS = "Argo Workflows 3.5, 3.6 and 4.x"
LABEL_PREFIX = "govops.dev"
CHECK_TEMPLATE = "check"
CHAMPION_TEMPLATE = "check-vs-champion"
STATUS_TEMPLATE = "github-status"
EXIT_TEMPLATE = "exit-handler"
ENTRYPOINT = "validate"
RESULT_ARTIFACT = "result"
RESULT_PATH = "/tmp/result.json"
SUMMARY_ARTIFACT = "summary"
SUMMARY_PATH = "/tmp/summary.md"
REPO_PATH = "/work/repo"
CURL_IMAGE = "curlimages/curl:8.11.1"
RUN_AS_USER = 10001
CHECK_NAME = re.compile(r"^[a-z]([a-z0-9_]{0,61}[a-z0-9])?$")  # also a valid label value
SHA = re.compile(r"^[0-9a-f]{7,64}$")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
# Parameters of a check step, in argv order (champion only for the champion template).
STEP_PARAMS = ("check", "spec", "model", "model-label", "version", "champion", "thresholds")
ARG_PARAMS = ("check", "spec", "model", "version", "champion", "thresholds")


@dataclass(frozen=True)
class WorkflowOptions:
    """How workflows are rendered: image, resources, limits, retention, size budget."""

    image: str = DEFAULT_VALIDATOR_IMAGE
    service_account: str = "govops-validator"
    git_secret: str | None = None
    github_secret: str = "govops-github"
    github_api: str = "https://api.github.com"
    status_context: str = "govops/validation"
    cpu_request: str = "500m"
    memory_request: str = "1Gi"
    memory_limit: str = "4Gi"
    check_deadline_s: int = 1800
    workflow_deadline_s: int = 4 * 3600
    retry_limit: int = 2
    ttl_after_success_s: int = 2 * 86400
    ttl_after_failure_s: int = 7 * 86400
    parallelism: int = 20
    max_tasks_per_workflow: int = 200
    max_workflow_bytes: int = 512 * 1024


@dataclass(frozen=True)
class RunContext:
    """Which change a run validates: repository, PR number, head commit, where the UI lives."""

    repository: str | None = None
    pr_number: int | None = None
    head_sha: str | None = None
    git_url: str | None = None
    argo_ui: str | None = None
    report_status: bool = False

    def checked(self) -> RunContext:
        """Return the context after validation: a malformed repository, SHA or URL is refused (exit 2)."""
        if self.repository is not None and not REPOSITORY.match(self.repository):
            raise InputError(f"repository must look like owner/name, got {self.repository!r}")
        if self.head_sha is not None and not SHA.match(self.head_sha):
            raise InputError(f"head SHA must be lowercase hex (7-64 digits), got {self.head_sha!r}")
        if self.pr_number is not None and self.pr_number < 0:
            raise InputError(f"PR number must be a positive integer, got {self.pr_number}")
        for what, url in (("git URL", self.git_url), ("Argo UI URL", self.argo_ui)):
            if url is not None and not re.match(r"^(https?|ssh|git)://[^\s{}\"'\\]+$|^git@[^\s{}\"'\\]+$", url):
                raise InputError(f"{what} is not a plain URL: {url!r}")
        if self.report_status and not (self.repository and self.head_sha and self.argo_ui):
            raise InputError("reporting a commit status needs the repository, the head SHA and the Argo UI URL")
        return self

    @property
    def clone_url(self) -> str:
        """The URL the pods clone (``git_url``, else GitHub's HTTPS URL of ``repository``)."""
        if self.git_url:
            return self.git_url
        if self.repository:
            return f"https://github.com/{self.repository}.git"
        return ""


@dataclass
class PlannedWorkflow:
    """One rendered Workflow and the ``ValidationTask`` behind each of its DAG task names."""

    workflow: Workflow
    tasks: dict[str, ValidationTask] = field(default_factory=dict)
    part: int = 1
    parts: int = 1

    def __post_init__(self) -> None:
        """Refuse a workflow the Argo Server would refuse before anyone prints, writes or submits it."""
        from engine.validation.manifest_schemas import check_argo_object

        check_argo_object(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain data (what ``kubectl``/the Argo Server receive)."""
        return dict(self.workflow.to_dict())


# ---------------------------------------------------------------- values


def _safe(value: str, what: str) -> str:
    """Refuse values Argo would read as template syntax (never emitted into a manifest)."""
    if "{{" in value or "}}" in value:
        raise InputError(f"{what} {value!r} contains '{{{{' or '}}}}', which Argo would expand; rename it")
    if "\x00" in value:
        raise InputError(f"{what} {value!r} contains a NUL byte")
    return value


def arg_value(value: str) -> str:
    """A value bound to a container argument: ``$`` doubled so Kubernetes passes it verbatim."""
    return value.replace("$", "$$")


def unescape_arg(value: str) -> str:
    """The inverse of ``arg_value`` (what the process receives after Kubernetes' expansion)."""
    return value.replace("$$", "$")


def thresholds_json(thresholds: dict[str, float]) -> str:
    """Thresholds as the compact, key-sorted JSON the ``--thresholds`` argument takes."""
    return json.dumps(thresholds, sort_keys=True, separators=(",", ":"))


def task_names(tasks: list[ValidationTask]) -> dict[str, str]:
    """``task.key -> DAG task name``: ``tenant-name-check``, valid for Argo and unique."""
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise InputError(f"the same (model, check) appears twice: {', '.join(dup)}")
    make = {t.key: argo_field_name(t.key.replace("/", "-").replace("_", "-"), what="model/check") for t in tasks}
    return unique_names(keys, make)


def tasks_digest(tasks: list[ValidationTask]) -> str:
    """16 hex digits identifying the exact task list (models, checks, versions, thresholds)."""
    doc = json.dumps([t.to_json() for t in tasks], sort_keys=True, default=list)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def _check_task(task: ValidationTask) -> None:
    if not CHECK_NAME.match(task.check):
        raise InputError(f"check name {task.check!r} of {task.model} is not a known check name", file=task.spec_file)
    _safe(task.model, "model id")
    tenant, _, name = task.model.partition("/")
    if not (re.search(r"[A-Za-z0-9]", tenant) and re.search(r"[A-Za-z0-9]", name)):
        raise InputError(f"model id {task.model!r} is not tenant/name with letters or digits in both parts")
    _safe(task.spec_file, "spec file name")
    _safe(task.version, "version")
    if task.champion is not None:
        _safe(task.champion, "champion version")
    for name in task.thresholds:
        _safe(name, "threshold name")


# ---------------------------------------------------------------- templates


def _security() -> SecurityContext:
    return SecurityContext(
        allow_privilege_escalation=False,
        run_as_non_root=True,
        capabilities=Capabilities(drop=["ALL"]),
    )


def _check_container(name: str, options: WorkflowOptions, *, champion: bool) -> Container:
    """The step that runs one check: argv only, no shell, result JSON and Markdown summary under ``/tmp``."""
    args = [
        "{{inputs.parameters.check}}",
        "--spec",
        "{{inputs.parameters.spec}}",
        "--model",
        "{{inputs.parameters.model}}",
        "--version",
        "{{inputs.parameters.version}}",
    ]
    if champion:
        args += ["--champion", "{{inputs.parameters.champion}}"]
    args += ["--thresholds", "{{inputs.parameters.thresholds}}", "--out", RESULT_PATH, "--summary", SUMMARY_PATH]
    params = [p for p in STEP_PARAMS if champion or p != "champion"]
    git = GitArtifact(
        name="repo",
        path=REPO_PATH,
        repo="{{workflow.parameters.git-url}}",
        revision="{{workflow.parameters.head-sha}}",
        username_secret=SecretKeySelector(name=options.git_secret, key="username") if options.git_secret else None,
        password_secret=SecretKeySelector(name=options.git_secret, key="token") if options.git_secret else None,
    )
    return Container(
        name=name,
        image=options.image,
        # -I: the working directory is the PR's checkout, and a committed runners/ (or any
        # module) there must never shadow the installed package that judges it
        command=["python", "-I", "-m", "runners"],
        args=args,
        working_dir=REPO_PATH,
        inputs=[*(Parameter(name=p) for p in params), git],
        outputs=[
            Artifact(name=RESULT_ARTIFACT, path=RESULT_PATH, archive=NoneArchiveStrategy()),
            Artifact(name=SUMMARY_ARTIFACT, path=SUMMARY_PATH, archive=NoneArchiveStrategy()),
        ],
        labels={
            f"{LABEL_PREFIX}/model": "{{inputs.parameters.model-label}}",
            f"{LABEL_PREFIX}/check": "{{inputs.parameters.check}}",
        },
        annotations={
            f"{LABEL_PREFIX}/model": "{{inputs.parameters.model}}",
            f"{LABEL_PREFIX}/version": "{{inputs.parameters.version}}",
        },
        retry_strategy=RetryStrategy(
            limit=str(options.retry_limit),
            retry_policy="OnError",
            backoff=Backoff(duration="30s", factor="2", max_duration="10m"),
        ),
        active_deadline_seconds=str(options.check_deadline_s),
        resources=Resources(
            cpu_request=options.cpu_request,
            memory_request=options.memory_request,
            memory_limit=options.memory_limit,
        ),
        security_context=_security(),
    )


def _status_container(options: WorkflowOptions) -> Container:
    """POST the final commit status to GitHub; the token never appears in the manifest."""
    body = (
        '{"state":"{{inputs.parameters.state}}",'
        '"context":"{{workflow.parameters.status-context}}",'
        '"description":"{{inputs.parameters.description}}",'
        '"target_url":"{{workflow.parameters.argo-ui}}/workflows/{{workflow.namespace}}/{{workflow.name}}"}'
    )
    return Container(
        name=STATUS_TEMPLATE,
        image=CURL_IMAGE,
        command=["curl"],
        args=[
            "--fail",
            "--silent",
            "--show-error",
            "--retry",
            "3",
            "--max-time",
            "30",
            "-X",
            "POST",
            "-H",
            "Accept: application/vnd.github+json",
            "-H",
            "X-GitHub-Api-Version: 2022-11-28",
            "-H",
            "Authorization: Bearer $(GITHUB_TOKEN)",
            "--data-raw",
            body,
            "{{workflow.parameters.github-api}}/repos/{{workflow.parameters.repository}}"
            "/statuses/{{workflow.parameters.head-sha}}",
        ],
        inputs=[Parameter(name="state"), Parameter(name="description")],
        env=[SecretEnv(name="GITHUB_TOKEN", secret_name=options.github_secret, secret_key="token")],
        resources=Resources(cpu_request="10m", memory_request="16Mi", memory_limit="64Mi"),
        retry_strategy=RetryStrategy(limit="3", retry_policy="Always"),
        security_context=_security(),
    )


_EXIT_STATES = (
    ("Succeeded", "success", "every required check passed"),
    ("Failed", "failure", "a required check failed; see the Argo run"),
    ("Error", "error", "the validation run could not complete; see the Argo run"),
)


def _exit_handler(status: Container) -> None:
    """A DAG run on exit: one status call, chosen by ``workflow.status``, if reporting is on."""
    with DAG(name=EXIT_TEMPLATE):
        for phase, state, description in _EXIT_STATES:
            Task(
                name=f"report-{state}",
                template=status,
                when=f"'{{{{workflow.status}}}}' == '{phase}' && '{{{{workflow.parameters.report-status}}}}' == 'true'",
                arguments=[Parameter(name="state", value=state), Parameter(name="description", value=description)],
            )


def _run_parameters(run: RunContext, options: WorkflowOptions, context: str) -> list[Parameter]:
    return [
        Parameter(name="repository", value=run.repository or ""),
        Parameter(name="pr", value=str(run.pr_number) if run.pr_number is not None else ""),
        Parameter(name="head-sha", value=run.head_sha or "HEAD"),
        Parameter(name="git-url", value=run.clone_url),
        Parameter(name="github-api", value=options.github_api),
        Parameter(name="argo-ui", value=(run.argo_ui or "").rstrip("/")),
        Parameter(name="status-context", value=context),
        Parameter(name="report-status", value="true" if run.report_status else "false", enum=["true", "false"]),
    ]


def _spec_common(options: WorkflowOptions) -> dict[str, Any]:
    return {
        "entrypoint": ENTRYPOINT,
        "on_exit": EXIT_TEMPLATE,
        "service_account_name": options.service_account,
        "active_deadline_seconds": options.workflow_deadline_s,
        "parallelism": options.parallelism,
        "pod_gc": PodGC(strategy="OnPodSuccess"),
        "ttl_strategy": TTLStrategy(
            seconds_after_success=options.ttl_after_success_s,
            seconds_after_failure=options.ttl_after_failure_s,
        ),
        "security_context": PodSecurityContext(
            run_as_non_root=True, run_as_user=RUN_AS_USER, run_as_group=RUN_AS_USER, fs_group=RUN_AS_USER
        ),
    }


def _step_arguments(task: ValidationTask) -> list[Parameter]:
    values = {
        "check": arg_value(task.check),
        "spec": arg_value(task.spec_file),
        "model": arg_value(task.model),
        "model-label": label_value(task.model),
        "version": arg_value(task.version),
        "thresholds": arg_value(thresholds_json(task.thresholds)),
    }
    if task.champion is not None:
        values["champion"] = arg_value(task.champion)
    return [Parameter(name=p, value=values[p]) for p in STEP_PARAMS if p in values]


# ---------------------------------------------------------------- per-PR workflows


def _chunks(tasks: list[ValidationTask], options: WorkflowOptions) -> list[list[ValidationTask]]:
    """Split by model (a model's checks stay together) so each workflow stays within budget."""
    by_model: dict[str, list[ValidationTask]] = {}
    for t in tasks:
        by_model.setdefault(t.model, []).append(t)
    chunks: list[list[ValidationTask]] = [[]]
    size = 0
    for group in by_model.values():
        group_size = sum(len(json.dumps(t.to_json(), default=list)) + 400 for t in group)
        current = chunks[-1]
        too_many = len(current) + len(group) > options.max_tasks_per_workflow
        too_big = size + group_size > options.max_workflow_bytes // 2
        if current and (too_many or too_big):
            chunks.append([])
            size = 0
        chunks[-1].extend(group)
        size += group_size
    return [c for c in chunks if c]


def _labels(run: RunContext, tasks: list[ValidationTask], part: int, parts: int) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/managed-by": "govops",
        f"{LABEL_PREFIX}/kind": "validation",
        f"{LABEL_PREFIX}/tasks-digest": tasks_digest(tasks),
        f"{LABEL_PREFIX}/part": f"{part}-of-{parts}",
    }
    if run.repository:
        labels[f"{LABEL_PREFIX}/repository"] = label_value(run.repository)
    if run.pr_number is not None:
        labels[f"{LABEL_PREFIX}/pr"] = str(run.pr_number)
    if run.head_sha:
        labels[f"{LABEL_PREFIX}/head-sha"] = run.head_sha
    models = sorted({t.model for t in tasks})
    tenants = sorted({m.split("/", 1)[0] for m in models})
    if len(models) == 1:
        labels[f"{LABEL_PREFIX}/model"] = label_value(models[0])
    if len(tenants) == 1:
        labels[f"{LABEL_PREFIX}/tenant"] = label_value(tenants[0])
    for tenant in tenants:  # findable per tenant and model even when a run covers several
        labels[f"tenant.{LABEL_PREFIX}/{label_value(tenant)}"] = "true"
    for model in models:
        labels[f"model.{LABEL_PREFIX}/{label_value(model)}"] = "true"
    return labels


def _annotations(run: RunContext, tasks: list[ValidationTask]) -> dict[str, str]:
    ann = {
        f"{LABEL_PREFIX}/models": json.dumps(sorted({t.model for t in tasks})),
        f"{LABEL_PREFIX}/tasks": str(len(tasks)),
        f"{LABEL_PREFIX}/argo-versions": ARGO_VERSIONS,
    }
    if run.repository:
        ann[f"{LABEL_PREFIX}/repository"] = run.repository
        ann["govops-repository"] = run.repository
    if run.pr_number is not None:
        ann[f"{LABEL_PREFIX}/pr"] = str(run.pr_number)
        ann["govops-pr"] = str(run.pr_number)
    if run.head_sha:
        ann[f"{LABEL_PREFIX}/head-sha"] = run.head_sha
        ann["govops-head-sha"] = run.head_sha
    # the dot-free keys are for the Argo UI's link placeholders (``argo_links.ui_links``), which
    # resolve ``${workflow.metadata.annotations.KEY}`` as a dotted path
    return ann


def pr_workflows(
    tasks: list[ValidationTask],
    run: RunContext | None = None,
    options: WorkflowOptions | None = None,
) -> list[PlannedWorkflow]:
    """The Workflow(s) validating one change: one DAG task per ``ValidationTask``.

    Usually one workflow; when the tasks would exceed ``max_tasks_per_workflow`` or the
    byte budget (Kubernetes keeps objects under ~1.5 MB in etcd, and Argo's status grows
    with every node), they are split by model into parts ``1-of-N`` … ``N-of-N``, each with
    its own commit-status context. Raises ``InputError`` for names or values that cannot be
    emitted safely.
    """
    run = (run or RunContext()).checked()
    options = options or WorkflowOptions()
    if not tasks:
        raise InputError("nothing to validate: no (model, check) tasks")
    for t in tasks:
        _check_task(t)
    names = task_names(tasks)
    chunks = _chunks(tasks, options)
    parts = len(chunks)
    prefix = "govops"
    if run.pr_number is not None:
        prefix += f"-pr-{run.pr_number}"
    if run.head_sha:
        prefix += f"-{run.head_sha[:7]}"
    out: list[PlannedWorkflow] = []
    for i, chunk in enumerate(chunks, start=1):
        context = options.status_context if parts == 1 else f"{options.status_context} ({i}/{parts})"
        gen = dns_label(prefix if parts == 1 else f"{prefix}-p{i}", max_len=52) + "-"
        with Workflow(
            generate_name=gen,
            labels=_labels(run, chunk, i, parts),
            annotations=_annotations(run, chunk),
            arguments=_run_parameters(run, options, context),
            **_spec_common(options),
        ) as wf:
            plain = _check_container(CHECK_TEMPLATE, options, champion=False)
            versus = _check_container(CHAMPION_TEMPLATE, options, champion=True)
            _exit_handler(_status_container(options))
            with DAG(name=ENTRYPOINT):
                for t in chunk:
                    Task(
                        name=names[t.key],
                        template=versus if t.champion is not None else plain,
                        arguments=_step_arguments(t),
                    )
        planned = PlannedWorkflow(wf, {names[t.key]: t for t in chunk}, i, parts)
        size = len(json.dumps(planned.to_dict()))
        if size > options.max_workflow_bytes:
            raise InputError(
                f"workflow part {i} would be {size} bytes (budget {options.max_workflow_bytes}); "
                "lower max_tasks_per_workflow"
            )
        out.append(planned)
    return out


# ---------------------------------------------------------------- per-tier templates


def tier_template(tier: str, config: Governance, options: WorkflowOptions | None = None) -> WorkflowTemplate:
    """``govops-validate-<tier>``: one model through the tier's required checks.

    Submit it from the UI or CLI (``argo submit --from workflowtemplate/govops-validate-high
    -p model=clinical/readmission-triage -p model-label=clinical.readmission-triage -p spec=…
    -p version=… -p champion=… -p head-sha=… -p git-url=…``). The default thresholds are the
    tier's, one parameter per check (``thresholds-<check>``). The champion comparison runs
    only when ``champion`` is not empty.
    """
    options = options or WorkflowOptions()
    if tier not in config.tiers:
        raise InputError(f"unknown tier {tier!r}; govops.yaml defines {', '.join(sorted(config.tiers))}")
    tcfg = config.tiers[tier]
    name = dns_label(f"govops-validate-{tier}", what="tier")
    checks = list(tcfg.required_checks)
    for check in checks:
        if not CHECK_NAME.match(check):
            raise InputError(f"tier {tier!r} requires {check!r}, which is not a valid check name")
    check_params = [
        Parameter(name=f"thresholds-{c.replace('_', '-')}", value=thresholds_json(dict(tcfg.defaults.get(c, {}))))
        for c in checks
    ]
    model_params = [
        Parameter(name="model", description="tenant/name"),
        Parameter(name="model-label", description="tenant.name (a valid label value)"),
        Parameter(name="spec", description="the spec file, relative to the repository root"),
        Parameter(name="version", description="the candidate version"),
        Parameter(name="champion", value="", description="the champion version (empty: no comparison)"),
    ]
    run = RunContext()
    with WorkflowTemplate(
        name=name,
        labels={"app.kubernetes.io/managed-by": "govops", f"{LABEL_PREFIX}/tier": tier},
        annotations={
            f"{LABEL_PREFIX}/argo-versions": ARGO_VERSIONS,
            f"{LABEL_PREFIX}/checks": json.dumps(checks),
        },
        arguments=[*model_params, *_run_parameters(run, options, options.status_context), *check_params],
        workflow_metadata=WorkflowMetadata(
            labels={"app.kubernetes.io/managed-by": "govops", f"{LABEL_PREFIX}/tier": tier},
            labels_from={
                f"{LABEL_PREFIX}/model": LabelValueFrom(expression="workflow.parameters['model-label']"),
                f"{LABEL_PREFIX}/head-sha": LabelValueFrom(expression="workflow.parameters['head-sha']"),
            },
        ),
        **_spec_common(options),
    ) as wt:
        plain = _check_container(CHECK_TEMPLATE, options, champion=False)
        versus = _check_container(CHAMPION_TEMPLATE, options, champion=True)
        _exit_handler(_status_container(options))
        with DAG(name=ENTRYPOINT):
            for check in checks:
                args = [Parameter(name="check", value=check)]
                args += [
                    Parameter(name=p, value=f"{{{{workflow.parameters.{p}}}}}")
                    for p in ("spec", "model", "model-label", "version")
                ]
                per_check = f"thresholds-{check.replace('_', '-')}"
                args.append(Parameter(name="thresholds", value=f"{{{{workflow.parameters.{per_check}}}}}"))
                if check == "champion":
                    args.append(Parameter(name="champion", value="{{workflow.parameters.champion}}"))
                    Task(
                        name=argo_field_name(check.replace("_", "-")),
                        template=versus,
                        arguments=args,
                        when="'{{workflow.parameters.champion}}' != ''",
                    )
                else:
                    Task(name=argo_field_name(check.replace("_", "-")), template=plain, arguments=args)
    return wt


# ---------------------------------------------------------------- reading manifests back


def manifest_tasks(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The check steps of a rendered Workflow as plain parameters (argv values unescaped).

    Each item: ``{"name", "check", "spec_file", "model", "version", "champion", "thresholds"}``.
    Used to prove parity with ``build_dag`` and to map Argo nodes back to tasks.
    """
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    dag = templates[manifest["spec"]["entrypoint"]]["dag"]["tasks"]
    out: list[dict[str, Any]] = []
    for task in dag:
        if task["template"] not in (CHECK_TEMPLATE, CHAMPION_TEMPLATE):
            continue
        params = {p["name"]: p.get("value", "") for p in task.get("arguments", {}).get("parameters", [])}
        out.append(
            {
                "name": task["name"],
                "check": unescape_arg(params["check"]),
                "spec_file": unescape_arg(params["spec"]),
                "model": unescape_arg(params["model"]),
                "version": unescape_arg(params["version"]),
                "champion": unescape_arg(params["champion"]) if "champion" in params else None,
                "thresholds": json.loads(unescape_arg(params["thresholds"])),
            }
        )
    return out
