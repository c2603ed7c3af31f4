"""The committed ``argo/`` directory: a WorkflowTemplate per tier, the CronWorkflows, RBAC, a kustomization.

Stage: *validate* (install side). ``render_files(config, …)`` returns ``{file name: YAML text}``;
``govops argo render --out argo/`` writes them and a golden test fails when the committed
files differ from a fresh render. Everything here is derived from ``govops.yaml`` and
``engine.validation.workflow``; this module never contacts a cluster and never writes a secret value.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML

from engine.spec.config import Governance
from engine.validation.cron import CRON_VERSIONS, CronOptions
from engine.validation.k8s_names import dns_label
from engine.validation.workflow import ARGO_VERSIONS, WorkflowOptions

HEADER = (
    "# Rendered by `govops argo render` from govops.yaml and engine/validation/workflow.py: do not edit by hand.\n"
    f"# For {ARGO_VERSIONS}. Install: kubectl apply -k argo/\n"
)
SUBMITTER = "govops-submitter"
UI_HEADER = (
    "# Rendered by `govops argo render`: the links and columns to merge into the Argo installation's\n"
    "# workflow-controller-configmap (not part of `kubectl apply -k argo/`: that ConfigMap belongs to Argo).\n"
    "# The UI then links each validation run to its pull request and commit, and lists model, tier and PR.\n"
)


def to_yaml(*docs: dict[str, Any], header: str = HEADER) -> str:
    """Documents as block-style YAML (several are separated by ``---``), after a comment ``header``."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    parts = []
    for doc in docs:
        buf = io.StringIO()
        yaml.dump(doc, buf)
        parts.append(buf.getvalue())
    return header + "---\n".join(parts)


def rbac(namespace: str, options: WorkflowOptions) -> list[dict[str, Any]]:
    """ServiceAccounts, Roles and RoleBindings: the pods' identity and the CI submitter's.

    ``govops-validator`` (the workflow pods) may only report task results, as Argo's
    emissary executor needs (``workflowtaskresults`` create/patch). ``govops-submitter``
    (the token in ``GOVOPS_ARGO_TOKEN``) may create, read, list and delete workflows and read
    the templates; its long-lived token comes from the ``kubernetes.io/service-account-token``
    Secret rendered here (Kubernetes fills in the value).
    """
    pods = options.service_account
    meta = {"app.kubernetes.io/managed-by": "govops"}

    def sa(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "labels": meta}}

    def role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "labels": meta},
            "rules": rules,
        }

    def binding(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "labels": meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }

    return [
        sa(pods),
        role(
            pods,
            [{"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}],
        ),
        binding(pods),
        sa(SUBMITTER),
        role(
            SUBMITTER,
            [
                {
                    "apiGroups": ["argoproj.io"],
                    "resources": ["workflows"],
                    "verbs": ["create", "get", "list", "watch", "delete"],
                },
                {"apiGroups": ["argoproj.io"], "resources": ["workflowtemplates", "cronworkflows"],
                 "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
            ],
        ),
        binding(SUBMITTER),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": f"{SUBMITTER}.service-account-token",
                "labels": meta,
                "annotations": {"kubernetes.io/service-account.name": SUBMITTER},
            },
        },
    ]


def template_file(tier: str) -> str:
    """``workflowtemplate-<tier>.yaml``."""
    return f"workflowtemplate-{dns_label(tier, what='tier')}.yaml"


def render_objects(
    config: Governance, namespace: str, options: WorkflowOptions, cron: CronOptions | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``{file name: [objects]}`` for the whole ``argo/`` directory.

    The tier WorkflowTemplates (each labelled with the digest of its spec, which PR runs
    pin), the CronWorkflows, the RBAC and the kustomization. The Argo UI snippet is
    ``ui_config_text`` (``govops argo ui-config``): it belongs to the Argo installation.
    """
    from engine.validation.cron import cron_workflows
    from engine.validation.submit import pinned_template

    files: dict[str, list[dict[str, Any]]] = {}
    for tier in sorted(config.tiers):
        files[template_file(tier)] = [pinned_template(tier, config, options)]
    crons = cron_workflows(config, options, cron)
    files.update({name: [doc] for name, doc in crons.items()})
    files["rbac.yaml"] = rbac(namespace, options)
    files["kustomization.yaml"] = [
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespace,
            "resources": ["rbac.yaml", *(template_file(t) for t in sorted(config.tiers)), *crons],
        }
    ]
    from engine.validation.manifest_schemas import check_argo_object

    for objs in files.values():
        for obj in objs:
            check_argo_object(obj)  # refused here, before `govops argo render` writes anything
    return files


def render_files(
    config: Governance, namespace: str, options: WorkflowOptions, cron: CronOptions | None = None
) -> dict[str, str]:
    """``{file name: YAML text}`` for the whole ``argo/`` directory (``ui/…`` is a sub-folder)."""
    def header(name: str) -> str:
        if name.startswith("cronworkflow-"):
            return HEADER.replace(ARGO_VERSIONS, f"{CRON_VERSIONS} (spec.schedules)")
        return HEADER

    objects = render_objects(config, namespace, options, cron)
    return {name: to_yaml(*objs, header=header(name)) for name, objs in objects.items()}


def ui_config_text(github_url: str = "https://github.com") -> str:
    """The workflow-controller ConfigMap ``links``/``columns`` snippet as YAML (``govops argo ui-config``)."""
    from engine.validation.argo_links import ui_configmap

    doc = ui_configmap(github_url)
    head = to_yaml({k: v for k, v in doc.items() if k != "data"}, header=UI_HEADER)
    blocks = "".join(  # literal blocks, as the ConfigMap is usually written by hand
        f"  {key}: |\n" + "".join(f"    {line}\n" for line in text.splitlines()) for key, text in doc["data"].items()
    )
    return head + "data:\n" + blocks
