"""PR runs by reference: a small Workflow whose steps name the committed tier WorkflowTemplates.

Stage: *validate* (distributed engine). ``argo/`` (rendered by ``govops argo render`` from
the trusted ``govops.yaml`` and this engine) is the single source of the validation steps.
A pull request's submission carries only the run's parameters (head SHA, models, checks,
thresholds) and, per step, a ``templateRef`` to ``govops-validate-<tier>`` (template
``check`` or ``check-vs-champion``); the container, image, command and security settings
live in the installed templates.

Pinning: every rendered WorkflowTemplate carries ``govops.dev/template-digest`` (sha256 of
its canonical ``spec``, 16 hex digits). Before a submission, ``verify_installed`` reads each
referenced template from the Argo Server and refuses (``TemplateDriftError``) when it is
missing, when its input parameters are not the ones the submission passes, or when its
label or its content differ from this commit's render: the message says to apply ``argo/``.
The submission carries the same digests as labels (``template.govops.dev/<tier>``), so the
cluster's record of a run says which template version ran it.

What this module must never do: let a value a pull request controls choose a template (the
template names come from the base's ``govops.yaml`` tiers; a tier the config does not define
is refused), or carry Argo template syntax into the manifest (``workflow._check_task``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from hera.workflows import DAG, Parameter, Task, Workflow
from hera.workflows.models import TemplateRef

from engine.spec.config import Governance
from engine.spec.errors import GovopsError, InputError
from engine.validation.dag import ValidationTask
from engine.validation.k8s_names import argo_field_name, dns_label, label_value, unique_names
from engine.validation.workflow import (
    _EXIT_STATES,
    CHAMPION_TEMPLATE,
    CHECK_TEMPLATE,
    ENTRYPOINT,
    EXIT_TEMPLATE,
    LABEL_PREFIX,
    STATUS_TEMPLATE,
    STEP_PARAMS,
    PlannedWorkflow,
    RunContext,
    WorkflowOptions,
    _annotations,
    _check_task,
    _chunks,
    _labels,
    _run_parameters,
    _spec_common,
    _step_arguments,
    tier_template,
)

DIGEST_LABEL = f"{LABEL_PREFIX}/template-digest"
TEMPLATES_LABEL = f"{LABEL_PREFIX}/templates-digest"
SUBMISSION_LABEL = f"{LABEL_PREFIX}/submission"
TEMPLATES_ANNOTATION = f"{LABEL_PREFIX}/templates"
TIER_DIGEST_PREFIX = f"template.{LABEL_PREFIX}"
APPLY_HINT = "apply this commit's argo/ to the cluster (`govops argo render`, then `kubectl apply -k argo/`)"
# the parameters each referenced step template must take: exactly what the submission passes
EXPECTED_INPUTS = {
    CHECK_TEMPLATE: sorted(p for p in STEP_PARAMS if p != "champion"),
    CHAMPION_TEMPLATE: sorted(STEP_PARAMS),
    STATUS_TEMPLATE: ["description", "state"],
}


class TemplateDriftError(GovopsError):
    """The cluster's WorkflowTemplates are missing or are not this commit's ``argo/`` (exit 2)."""


def template_name(tier: str) -> str:
    """``govops-validate-<tier>``: the WorkflowTemplate of one tier."""
    return dns_label(f"govops-validate-{tier}", what="tier")


def spec_digest(spec: Mapping[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of a template's ``spec``."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def pinned_template(tier: str, config: Governance, options: WorkflowOptions) -> dict[str, Any]:
    """The tier's WorkflowTemplate as plain data, labelled with the digest of its spec."""
    doc = dict(tier_template(tier, config, options).to_dict())
    doc["metadata"].setdefault("labels", {})[DIGEST_LABEL] = spec_digest(doc["spec"])
    return doc


def expected_templates(config: Governance, options: WorkflowOptions) -> dict[str, dict[str, Any]]:
    """``template name -> pinned template`` for every tier of the (trusted) config."""
    return {template_name(t): pinned_template(t, config, options) for t in sorted(config.tiers)}


def step_names(tasks: list[ValidationTask]) -> dict[str, str]:
    """``task.key -> DAG task name`` saying model, version and check: ``tenant-name-v1-2-0-check``.

    The name is what the Argo UI shows for the step; characters Argo refuses become ``-``
    and names that would collide get a hash of the task key appended.
    """
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise InputError(f"the same (model, check) appears twice: {', '.join(dup)}")

    def name(t: ValidationTask) -> str:
        raw = f"{t.model}-v{t.version}-{t.check}"
        flat = re.sub(r"[^A-Za-z0-9-]+", "-", raw).strip("-").lower()
        return argo_field_name(re.sub(r"-{2,}", "-", flat) or raw, what="model/version/check")

    return unique_names(keys, {t.key: name(t) for t in tasks})


def _tier_of(task: ValidationTask, tiers: Mapping[str, str], config: Governance) -> str:
    tier = tiers.get(task.model)
    if tier is None:
        return sorted(config.tiers)[0]  # every tier template holds the same step templates
    if tier not in config.tiers:
        raise InputError(f"{task.model} names tier {tier!r}, which govops.yaml does not define", file=task.spec_file)
    return tier


def _digest_labels(digests: Mapping[str, str], tiers_used: list[str]) -> dict[str, str]:
    labels = {f"{TIER_DIGEST_PREFIX}/{label_value(t)}": digests[template_name(t)] for t in tiers_used}
    combined = json.dumps({template_name(t): digests[template_name(t)] for t in tiers_used}, sort_keys=True)
    labels[TEMPLATES_LABEL] = hashlib.sha256(combined.encode()).hexdigest()[:16]
    labels[SUBMISSION_LABEL] = "by-reference"
    if len(tiers_used) == 1:  # the Argo UI's "Tier" column (``argo_links.ui_columns``)
        labels[f"{LABEL_PREFIX}/tier"] = label_value(tiers_used[0])
    return labels


def ref_workflows(
    tasks: list[ValidationTask],
    run: RunContext,
    config: Governance,
    options: WorkflowOptions | None = None,
    tiers: Mapping[str, str] | None = None,
) -> list[PlannedWorkflow]:
    """The Workflow(s) validating one change by reference to the committed tier templates.

    Same parts, labels and parameters as ``workflow.pr_workflows``; each DAG task is a
    ``templateRef`` to its model's tier template instead of an inline container.
    """
    run = run.checked()
    options = options or WorkflowOptions()
    tiers = tiers or {}
    if not tasks:
        raise InputError("nothing to validate: no (model, check) tasks")
    for t in tasks:
        _check_task(t)
    expected = expected_templates(config, options)
    digests = {name: doc["metadata"]["labels"][DIGEST_LABEL] for name, doc in expected.items()}
    names = step_names(tasks)
    chunks = _chunks(tasks, options)
    parts = len(chunks)
    prefix = "govops" + (f"-pr-{run.pr_number}" if run.pr_number is not None else "")
    prefix += f"-{run.head_sha[:7]}" if run.head_sha else ""
    out: list[PlannedWorkflow] = []
    for i, chunk in enumerate(chunks, start=1):
        used = sorted({_tier_of(t, tiers, config) for t in chunk})
        context = options.status_context if parts == 1 else f"{options.status_context} ({i}/{parts})"
        annotations = _annotations(run, chunk)
        annotations[TEMPLATES_ANNOTATION] = json.dumps({template_name(t): digests[template_name(t)] for t in used})
        with Workflow(
            generate_name=dns_label(prefix if parts == 1 else f"{prefix}-p{i}", max_len=52) + "-",
            labels={**_labels(run, chunk, i, parts), **_digest_labels(digests, used)},
            annotations=annotations,
            arguments=_run_parameters(run, options, context),
            **_spec_common(options),
        ) as wf:
            with DAG(name=EXIT_TEMPLATE):
                for phase, state, description in _EXIT_STATES:
                    Task(
                        name=f"report-{state}",
                        template_ref=TemplateRef(name=template_name(used[0]), template=STATUS_TEMPLATE),
                        when=f"'{{{{workflow.status}}}}' == '{phase}' && "
                        "'{{workflow.parameters.report-status}}' == 'true'",
                        arguments=[Parameter(name="state", value=state),
                                   Parameter(name="description", value=description)],
                    )
            with DAG(name=ENTRYPOINT):
                for t in chunk:
                    step = CHAMPION_TEMPLATE if t.champion is not None else CHECK_TEMPLATE
                    Task(
                        name=names[t.key],
                        template_ref=TemplateRef(name=template_name(_tier_of(t, tiers, config)), template=step),
                        arguments=_step_arguments(t),
                    )
        planned = PlannedWorkflow(wf, {names[t.key]: t for t in chunk}, i, parts)
        size = len(json.dumps(planned.to_dict()))
        if size > options.max_workflow_bytes:
            raise InputError(f"workflow part {i} would be {size} bytes (budget {options.max_workflow_bytes})")
        out.append(planned)
    return out


def referenced_templates(planned: list[PlannedWorkflow]) -> list[str]:
    """Names of the WorkflowTemplates the submitted workflows reference."""
    names: set[str] = set()
    for p in planned:
        for template in p.to_dict()["spec"].get("templates", []):
            for task in (template.get("dag") or {}).get("tasks", []):
                if task.get("templateRef"):
                    names.add(task["templateRef"]["name"])
    return sorted(names)


def _inputs(doc: Mapping[str, Any], name: str) -> list[str] | None:
    for t in (doc.get("spec") or {}).get("templates") or []:
        if isinstance(t, dict) and t.get("name") == name:
            return sorted(str(p.get("name")) for p in (t.get("inputs") or {}).get("parameters") or [])
    return None


def check_installed(name: str, namespace: str, installed: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Refuse an installed template that is not this commit's render (parameters, label, content)."""
    where = f"WorkflowTemplate {name} in namespace {namespace}"
    for step, want in EXPECTED_INPUTS.items():
        got = _inputs(installed, step)
        if got != want:
            raise TemplateDriftError(
                f"{where}: template {step!r} takes parameters {got or 'none'}, this commit passes {want} "
                f"(the template's parameters changed); {APPLY_HINT}"
            )
    want_digest = expected["metadata"]["labels"][DIGEST_LABEL]
    labels = (installed.get("metadata") or {}).get("labels") or {}
    if labels.get(DIGEST_LABEL) != want_digest:
        raise TemplateDriftError(
            f"{where} is version {labels.get(DIGEST_LABEL) or 'unlabelled'}, this commit's argo/ is "
            f"{want_digest}: refusing to run PR validation on other templates; {APPLY_HINT}"
        )
    content = spec_digest(installed.get("spec") or {})
    if content != want_digest:
        raise TemplateDriftError(
            f"{where} is labelled {want_digest} but its content digests to {content} (edited in the cluster "
            f"after it was applied); {APPLY_HINT}"
        )


def verify_installed(
    fetch: Callable[[str], Mapping[str, Any] | None],
    namespace: str,
    names: list[str],
    expected: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """Check every referenced template; ``fetch(name)`` returns it as plain data, ``None`` when absent.

    Returns ``name -> digest`` of the verified templates.
    """
    out: dict[str, str] = {}
    for name in names:
        if name not in expected:
            raise InputError(f"the submission references {name}, which this commit's govops.yaml does not render")
        installed = fetch(name)
        if installed is None:
            raise TemplateDriftError(
                f"WorkflowTemplate {name} is not installed in namespace {namespace}; {APPLY_HINT}"
            )
        check_installed(name, namespace, installed, expected[name])
        out[name] = str(expected[name]["metadata"]["labels"][DIGEST_LABEL])
    return out
