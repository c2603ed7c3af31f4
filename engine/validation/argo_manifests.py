"""The committed ``argo/`` directory: one WorkflowTemplate per tier, RBAC and a kustomization.

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
from engine.validation.k8s_names import dns_label
from engine.validation.workflow import ARGO_VERSIONS, WorkflowOptions, tier_template

HEADER = (
    "# Rendered by `govops argo render` from govops.yaml and engine/validation/workflow.py: do not edit by hand.\n"
    f"# For {ARGO_VERSIONS}. Install: kubectl apply -k argo/\n"
)
SUBMITTER = "govops-submitter"


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
                {"apiGroups": ["argoproj.io"], "resources": ["workflowtemplates"], "verbs": ["get", "list"]},
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


def render_objects(config: Governance, namespace: str, options: WorkflowOptions) -> dict[str, list[dict[str, Any]]]:
    """``{file name: [objects]}`` for the whole ``argo/`` directory."""
    files: dict[str, list[dict[str, Any]]] = {}
    for tier in sorted(config.tiers):
        files[template_file(tier)] = [dict(tier_template(tier, config, options).to_dict())]
    files["rbac.yaml"] = rbac(namespace, options)
    files["kustomization.yaml"] = [
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespace,
            "resources": ["rbac.yaml", *(template_file(t) for t in sorted(config.tiers))],
        }
    ]
    return files


def render_files(config: Governance, namespace: str, options: WorkflowOptions) -> dict[str, str]:
    """``{file name: YAML text}`` for the whole ``argo/`` directory."""
    return {name: to_yaml(*objs) for name, objs in render_objects(config, namespace, options).items()}
