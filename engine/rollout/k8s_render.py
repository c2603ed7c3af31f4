"""Kubernetes manifests of a desired state: Seldon Core v2 and KServe, as plain dictionaries.

Merge stage, kubernetes target. Seldon Core v2: one ``Server`` (MLServer) per namespace,
one ``Model`` per served version, one ``Experiment`` per model with challengers
(canary/ab as weighted ``candidates`` with the champion as ``default``; shadow as the
``mirror``, whose responses are dropped). KServe: one ``InferenceService`` per model in
RawDeployment mode, challengers as ``spec.canary[]`` entries with ``trafficPercent``
(``canaryTrafficPercent`` only works in Serverless mode and is ignored in RawDeployment,
KServe issue 5335), the failover as its own ``InferenceService``. Every name is a valid
RFC 1123 name or the model is refused with a message: this module never emits an
invalid name. Pure functions: no files, no cluster.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any
from urllib.parse import urlparse

from engine.rollout.desired import DesiredModel, DesiredState, DesiredVersion
from engine.spec.errors import InputError
from engine.spec.settings import get_settings

DEFAULT_ARTIFACT_BASE = "s3://govops-artifacts"
SERVER_NAME = "govops-mlserver"
MANAGED = {"app.kubernetes.io/managed-by": "govops"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# MLServer runtime → (Seldon requirement, KServe modelFormat)
FORMATS = {
    "mlserver_sklearn.SKLearnModel": ("sklearn", "sklearn"),
    "mlserver_xgboost.XGBoostModel": ("xgboost", "xgboost"),
    "mlserver_lightgbm.LightGBMModel": ("lightgbm", "lightgbm"),
    "mlserver_mlflow.MLflowRuntime": ("mlflow", "mlflow"),
}


def _label(value: str, what: str) -> str:
    if not _DNS_LABEL.match(value) or len(value) > 63:
        raise InputError(
            f"cannot render a valid Kubernetes name for {what}: '{value}' is not an RFC 1123 label "
            "(lowercase letters, digits and '-', at most 63 characters); shorten the tenant, name or version"
        )
    return value


def version_part(version: str) -> str:
    """A version id as a name segment: lowercase, '.', '_' and '+' become '-'."""
    return re.sub(r"[^a-z0-9-]", "-", version.lower()).strip("-")


def model_name(model_id: str) -> str:
    """``tenant/name`` → ``tenant-name`` (refused if longer than 63 characters)."""
    return _label(model_id.replace("/", "-"), f"model {model_id}")


def version_names(model: DesiredModel) -> dict[str, str]:
    """Version id → Seldon ``Model`` name; two versions that map to one name are refused."""
    base = model_name(model.model)
    out: dict[str, str] = {}
    for v in model.versions:
        out[v.version] = _label(f"{base}-{version_part(v.version)}", f"{model.model} version {v.version}")
    if len(set(out.values())) != len(out):
        raise InputError(
            f"{model.model}: versions {', '.join(sorted(out))} map to the same Kubernetes name; "
            "version ids must differ in more than case and punctuation"
        )
    return out


def storage_uri(version: DesiredVersion, base: str | None) -> str:
    """The folder holding the artifact, in object storage (repository paths go under ``base``)."""
    parsed = urlparse(version.artifact_uri)
    if parsed.scheme in ("s3", "gs"):
        return version.artifact_uri.rsplit("/", 1)[0]
    if parsed.scheme == "file":
        raise InputError(
            f"{version.model} {version.version}: artifact {version.artifact_uri} is a local file a cluster cannot "
            "read; publish it to object storage (s3:// or gs://) or use a repository path with --artifact-base"
        )
    prefix = (base or get_settings().artifact_base or DEFAULT_ARTIFACT_BASE).rstrip("/")
    return f"{prefix}/{posixpath.dirname(version.artifact_uri)}"


def _formats(version: DesiredVersion) -> tuple[str, str]:
    try:
        return FORMATS[version.runtime]
    except KeyError:
        raise InputError(
            f"{version.model} {version.version}: runtime {version.runtime} has no Kubernetes model format; "
            f"supported: {', '.join(sorted(FORMATS))}"
        ) from None


def _annotations(model: DesiredModel, versions: list[DesiredVersion]) -> dict[str, str]:
    return {
        "govops.dev/model": model.model,
        "govops.dev/file": model.file,
        "govops.dev/versions": json.dumps(
            [
                {
                    "version": v.version,
                    "role": v.role,
                    "weight": v.weight,
                    "artifact_uri": v.artifact_uri,
                    "sha256": v.sha256,
                    "runtime": v.runtime,
                }
                for v in versions
            ],
            sort_keys=True,
            separators=(",", ":"),
        ),
    }


def _labels(model: DesiredModel, role: str | None = None) -> dict[str, str]:
    tenant, name = model.model.split("/", 1)
    labels = {**MANAGED, "govops.dev/tenant": tenant, "govops.dev/model": name}
    if role:
        labels["govops.dev/role"] = role
    return labels


def _weights(model: DesiredModel) -> list[tuple[DesiredVersion, int]]:
    """Champion and weighted challengers as integer weights (Seldon takes int32)."""
    weighted = [v for v in model.versions if v.role in ("canary", "ab")]
    champion_share = 100.0 - sum(v.weight or 0.0 for v in weighted)
    if champion_share < 0:
        raise InputError(f"{model.model}: challenger weights add up to more than 100%")
    pairs = [(model.champion, champion_share)] + [(v, float(v.weight or 0.0)) for v in weighted]
    scale = 1 if all(float(w).is_integer() for _, w in pairs) else 100
    return [(v, round(w * scale)) for v, w in pairs]


def render_seldon(state: DesiredState, artifact_base: str | None = None, namespace: str | None = None) -> list[dict]:
    """Seldon Core v2 objects: ``Server`` per namespace, ``Model`` per version, ``Experiment`` per model."""
    objects: list[dict[str, Any]] = []
    servers: dict[str, int] = {}
    for model in state.models.values():
        ns = namespace or state.namespace(model.environment)
        servers[ns] = max(servers.get(ns, 1), model.replicas)
        names = version_names(model)
        for v in model.versions:
            requirement, _ = _formats(v)
            objects.append(
                {
                    "apiVersion": "mlops.seldon.io/v1alpha1",
                    "kind": "Model",
                    "metadata": {
                        "name": names[v.version],
                        "namespace": ns,
                        "labels": {**_labels(model, v.role), "govops.dev/version": version_part(v.version)},
                        "annotations": _annotations(model, [v]),
                    },
                    "spec": {
                        "storageUri": storage_uri(v, artifact_base),
                        "requirements": [requirement],
                        "memory": model.memory,
                        "replicas": model.replicas,
                        "server": SERVER_NAME,
                    },
                }
            )
        shadows = [v for v in model.versions if v.role == "shadow"]
        if len(shadows) > 1:
            raise InputError(f"{model.model}: Seldon experiments take one mirror; the spec has {len(shadows)} shadows")
        if len(_weights(model)) > 1 or shadows:
            spec: dict[str, Any] = {
                "default": names[model.champion.version],
                "candidates": [{"name": names[v.version], "weight": w} for v, w in _weights(model)],
            }
            if shadows:
                spec["mirror"] = {"name": names[shadows[0].version], "percent": 100}
            objects.append(
                {
                    "apiVersion": "mlops.seldon.io/v1alpha1",
                    "kind": "Experiment",
                    "metadata": {
                        "name": model_name(model.model),
                        "namespace": ns,
                        "labels": _labels(model),
                        "annotations": {"govops.dev/model": model.model},
                    },
                    "spec": spec,
                }
            )
    for ns in sorted(servers):
        objects.insert(
            0,
            {
                "apiVersion": "mlops.seldon.io/v1alpha1",
                "kind": "Server",
                "metadata": {"name": SERVER_NAME, "namespace": ns, "labels": dict(MANAGED)},
                "spec": {"serverConfig": "mlserver", "replicas": servers[ns]},
            },
        )
    return objects


def _kserve_predictor(model: DesiredModel, v: DesiredVersion, base: str | None) -> dict[str, Any]:
    _, fmt = _formats(v)
    resources = {"cpu": model.cpu, "memory": model.memory}
    return {
        "minReplicas": model.replicas,
        "maxReplicas": max(model.replicas, 1),
        "model": {
            "modelFormat": {"name": fmt},
            "runtime": "kserve-mlserver",
            "protocolVersion": "v2",
            "storageUri": storage_uri(v, base),
            "resources": {"requests": dict(resources), "limits": dict(resources)},
        },
    }


def render_kserve(
    state: DesiredState, artifact_base: str | None = None, namespace: str | None = None
) -> tuple[list[dict], list[str]]:
    """KServe ``InferenceService`` objects (RawDeployment, ``spec.canary[]``) and notes on what KServe cannot say."""
    objects: list[dict[str, Any]] = []
    notes: list[str] = []
    for model in state.models.values():
        ns = namespace or state.namespace(model.environment)
        name = model_name(model.model)
        champion = model.champion
        canaries = [v for v in model.versions if v.role in ("canary", "ab")]
        shadows = [v for v in model.versions if v.role == "shadow"]
        served = [champion, *canaries]
        annotations = {"serving.kserve.io/deploymentMode": "RawDeployment", **_annotations(model, served)}
        if shadows:
            annotations["govops.dev/shadow-not-rendered"] = ",".join(v.version for v in shadows)
            notes.append(
                f"{model.model}: KServe has no traffic mirror; shadow version(s) "
                f"{', '.join(v.version for v in shadows)} are not rendered (use --flavor seldon)"
            )
        spec: dict[str, Any] = {"predictor": _kserve_predictor(model, champion, artifact_base)}
        if canaries:
            spec["canary"] = []
            for v in canaries:
                predictor = _kserve_predictor(model, v, artifact_base)
                # a named canary: the CRD requires a name (a DNS label starting with a letter)
                predictor["model"]["name"] = _label(f"{v.role}-{version_part(v.version)}", f"{model.model} {v.version}")
                spec["canary"].append({"trafficPercent": round(v.weight or 0), "predictor": predictor})
        objects.append(
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": name, "namespace": ns, "labels": _labels(model, "champion"),
                             "annotations": annotations},
                "spec": spec,
            }
        )
        failover = next((v for v in model.versions if v.role == "failover"), None)
        if failover is not None:
            fname = _label(f"{name}-failover", f"{model.model} failover")
            objects.append(
                {
                    "apiVersion": "serving.kserve.io/v1beta1",
                    "kind": "InferenceService",
                    "metadata": {
                        "name": fname,
                        "namespace": ns,
                        "labels": _labels(model, "failover"),
                        "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment",
                                        **_annotations(model, [failover])},
                    },
                    "spec": {"predictor": _kserve_predictor(model, failover, artifact_base)},
                }
            )
    return objects, notes
