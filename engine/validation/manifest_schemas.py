"""The schema each Argo object govops renders or submits is checked against (``engine/validation/schemas``).

``Workflow``, ``WorkflowTemplate`` and ``CronWorkflow`` of ``argoproj.io/v1alpha1`` are checked
(``engine.spec.manifest_check``) against the Argo Workflows schema's own definitions before
``govops argo render``/``workflow`` writes them and before a validation run submits one.
The other objects of the ``argo/`` directory (RBAC, the kustomization) are Kubernetes' and
kustomize's own kinds, which this schema does not describe: they pass unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.spec.manifest_check import check_manifest

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "argo-workflows.schema.json"
ARGO_KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")


def check_argo_object(obj: Mapping[str, Any]) -> None:
    """Raise ``ManifestError`` (exit 2) when an Argo object would be refused; other kinds are left alone."""
    kind = obj.get("kind")
    if obj.get("apiVersion") == "argoproj.io/v1alpha1" and kind in ARGO_KINDS:
        check_manifest(obj, SCHEMA_FILE, f"io.argoproj.workflow.v1alpha1.{kind}")
