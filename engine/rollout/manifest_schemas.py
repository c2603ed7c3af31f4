"""The schema each Kubernetes object the rollout renders is checked against (``engine/rollout/schemas``).

Seldon Core v2 ``Model``/``Server``/``Experiment`` and KServe ``InferenceService``: every
object ``engine.rollout.k8s_render`` produces is one of them, and is checked
(``engine.spec.manifest_check``) before it is written or applied. An object of any other
kind is refused: there is nothing to check it against.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.spec.manifest_check import ManifestError, check_manifest

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMAS = {
    ("mlops.seldon.io/v1alpha1", "Model"): "seldon-v2-model.schema.json",
    ("mlops.seldon.io/v1alpha1", "Server"): "seldon-v2-server.schema.json",
    ("mlops.seldon.io/v1alpha1", "Experiment"): "seldon-v2-experiment.schema.json",
    ("serving.kserve.io/v1beta1", "InferenceService"): "kserve-inferenceservice.schema.json",
}


def check_object(obj: Mapping[str, Any]) -> None:
    """Raise ``ManifestError`` (exit 2) unless the cluster would accept ``obj`` as rendered."""
    name = SCHEMAS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if name is None:
        raise ManifestError(f"govops rendered {obj.get('kind')} of {obj.get('apiVersion')}, a kind it has no "
                            "schema for; nothing was written or applied")
    check_manifest(obj, SCHEMA_DIR / name)
