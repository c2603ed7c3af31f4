"""The model spec (``apiVersion: govops/v1``, ``kind: Model``) as typed pydantic models.

This is the contract a team writes in Git. Field names are camelCase in YAML (as in
Kubernetes manifests) and snake_case in Python. Unknown fields are refused, so a
typo never silently disables a control. Cross-field rules (declared versions, known
check names) live in ``engine.spec.semantics`` so they can point at the exact field.
The committed JSON Schema (``engine/spec/schemas/model.schema.json``) is exported from here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
VERSION_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._+-]{0,62})$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
RUNTIME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"

# tenant and model names: a DNS label without '--', because '--' joins them into the MLServer name
# (tenant--name); with it, tenant 'lab--eu' + model 'x' and tenant 'lab' + model 'eu--x' would collide
MODEL_NAME_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# feature names reach file columns, metric labels and alert headers: no control characters
FEATURE_NAME_PATTERN = r"^[A-Za-z0-9_.:/ -]{1,128}$"

Name = Annotated[str, Field(pattern=MODEL_NAME_PATTERN, max_length=63,
                            description="a DNS label: lowercase letters, digits, single '-' between them")]
VersionId = Annotated[str, Field(pattern=VERSION_PATTERN, description="a version id such as 1.2.0")]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="lowercase hex sha256 of the file's bytes")]
SecretName = Annotated[
    str,
    Field(
        pattern=SECRET_NAME_PATTERN,
        description="the *name* of a secret (environment variable or key in the secrets file), never the secret",
    ),
]


INT64_MAX = 2**63 - 1


def _check_int64(value: Any) -> Any:
    """Integers a policy input (JSON, Rego) can carry exactly: 64-bit, as ``check`` requires."""
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ValueError("an integer beyond 64 bits cannot reach a policy; write it as a string")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
        allow_inf_nan=False,  # NaN/inf cannot reach a policy (JSON) and make every comparison false
    )


class Metadata(_Model):
    """Who the model belongs to. The model's id is ``tenant/name``."""

    name: Name = Field(description="the model's name, unique within its tenant")
    tenant: Name = Field(description="the owning team, declared in govops.yaml")
    owners: list[str] = Field(min_length=1, description="people (handles or emails) accountable for the model")
    description: str = Field(default="", description="what the model decides, in a sentence")
    tags: list[str] = Field(default_factory=list)
    limitations: str | None = Field(
        default=None,
        max_length=10_000,
        description="known limitations, caveats and uses the model is not fit for (free text; the model card's "
        "'Caveats and recommendations')",
    )


FeatureType = Literal["float", "integer", "string", "boolean", "category"]


class Feature(_Model):
    """One input or output column of the model's interface."""

    name: str = Field(min_length=1, max_length=128, pattern=FEATURE_NAME_PATTERN,
                      description="letters, digits, space and _ . : / - (no control characters)")
    type: FeatureType
    description: str = ""
    sensitive: bool = Field(default=False, description="a protected attribute, used by bias checks")
    model_input: bool = Field(
        default=True,
        description="fed to the model; false for columns kept only for bias checks and slicing",
    )
    nullable: bool = False
    min: float | None = Field(default=None, description="smallest valid value (numeric)")
    max: float | None = Field(default=None, description="largest valid value (numeric)")
    categories: list[str | int | float | bool] | None = Field(
        default=None, description="the allowed values (category/string/integer)"
    )

    @field_validator("categories")
    @classmethod
    def _int64_categories(cls, v: list[str | int | float | bool] | None) -> list[str | int | float | bool] | None:
        for item in v or []:
            _check_int64(item)
        return v

    @model_validator(mode="after")
    def _range(self) -> Feature:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Interface(_Model):
    """The model's inputs and outputs, with types and which inputs are sensitive."""

    inputs: list[Feature] = Field(min_length=1)
    outputs: list[Feature] = Field(min_length=1)


class DataRef(_Model):
    """A file the engine reads: a repository-relative path, ``file://``, ``s3://`` or ``gs://``."""

    uri: str = Field(min_length=1)
    sha256: Sha256 | None = None
    format: Literal["csv", "parquet", "joblib", "pickle", "skops", "onnx", "json"] | None = None


class CodeRef(_Model):
    """The code that trained a version."""

    repo: str = Field(min_length=1)
    commit: str = Field(pattern=r"^[0-9a-f]{7,64}$")


class Lineage(_Model):
    """Where a version came from: training data, code, parent version."""

    training_data: DataRef | None = None
    code: CodeRef | None = None
    parent: VersionId | None = None


class Version(_Model):
    """One trained artifact of the model."""

    id: VersionId
    artifact: DataRef
    runtime: str = Field(
        pattern=RUNTIME_PATTERN,
        description="the MLServer implementation, e.g. mlserver_sklearn.SKLearnModel",
    )
    lineage: Lineage | None = None
    metrics: dict[str, float] = Field(default_factory=dict, description="claimed offline metrics")
    created: datetime | None = None
    description: str = ""


ChallengerMode = Literal["canary", "ab", "shadow"]


class Challenger(_Model):
    """A version receiving part of the traffic (canary, ab) or a mirror of it (shadow)."""

    version: VersionId
    mode: ChallengerMode
    weight: float | None = Field(default=None, ge=0, le=100, description="percent of traffic (canary, ab)")

    @model_validator(mode="after")
    def _weight(self) -> Challenger:
        if self.mode in ("canary", "ab") and self.weight is None:
            raise ValueError(f"a {self.mode} challenger needs a weight (percent of traffic)")
        if self.mode == "shadow" and self.weight is not None:
            raise ValueError("a shadow challenger takes no weight: it sees a copy of all traffic")
        return self


QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"


class Resources(_Model):
    """Kubernetes-style resource requests for each replica."""

    cpu: str = Field(default="500m", pattern=QUANTITY)
    memory: str = Field(default="512Mi", pattern=QUANTITY)


class AdaptiveBatching(_Model):
    """MLServer adaptive batching (off unless declared)."""

    max_batch_size: int = Field(ge=1, le=4096)
    max_batch_time_ms: float = Field(ge=0, le=10_000)


class MLServerSettings(_Model):
    """MLServer settings that change how a version is served."""

    parallel_workers: int = Field(default=1, ge=0, le=64)
    adaptive_batching: AdaptiveBatching | None = None


class Deployment(_Model):
    """Which versions serve: the champion, challengers and a failover."""

    environment: str = Field(default="production", pattern=NAME_PATTERN)
    champion: VersionId
    challengers: list[Challenger] = Field(default_factory=list)
    failover: VersionId | None = None
    replicas: int = Field(default=1, ge=0, le=1000)
    resources: Resources = Field(default_factory=Resources)
    mlserver: MLServerSettings = Field(default_factory=MLServerSettings)


class CheckConfig(_Model):
    """One validation check: on or off, and thresholds that override the tier's defaults."""

    enabled: bool = True
    thresholds: dict[str, float] = Field(default_factory=dict)


class Validation(_Model):
    """The data the tier's checks run on, and per-check thresholds."""

    reference_data: DataRef = Field(description="the training/reference sample")
    evaluation_data: DataRef = Field(description="held-out data the candidate is judged on")
    label: str = Field(min_length=1, description="the label column in both datasets")
    positive_class: str | int | None = Field(default=None, description="for binary classification metrics")
    slice_columns: list[str] = Field(default_factory=list)
    time_column: str | None = None
    checks: dict[str, CheckConfig] = Field(default_factory=dict)

    @field_validator("positive_class")
    @classmethod
    def _int64_class(cls, v: str | int | None) -> str | int | None:
        return _check_int64(v)


class Kpi(_Model):
    """A business KPI: an expression over logged fields with bounds (e.g. approval rate)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    expression: str = Field(min_length=1, max_length=500)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Kpi:
        if self.min is None and self.max is None:
            raise ValueError("a KPI needs a min, a max or both")
        return self


class AlertThresholds(_Model):
    """Alert thresholds per metric kind (names from the monitoring catalogue)."""

    drift: dict[str, float] = Field(default_factory=dict)
    performance: dict[str, float] = Field(default_factory=dict)
    bias: dict[str, float] = Field(default_factory=dict)
    anomaly: dict[str, float] = Field(default_factory=dict)
    operational: dict[str, float] = Field(default_factory=dict)
    kpis: list[Kpi] = Field(default_factory=list)


class HealthScore(_Model):
    """How the 0-1 health score is weighted, and the minimum below which a model is red."""

    minimum: float = Field(default=0.7, ge=0, le=1)
    weights: dict[Literal["drift", "performance", "bias", "anomaly", "operational", "kpi"], float] = Field(
        default_factory=dict
    )

    @field_validator("weights")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if w < 0:
                raise ValueError(f"weight of {k} must be >= 0")
        return v


_LOOKS_LIKE_SECRET = re.compile(r"^(https?://|xox[abp]-|[A-Fa-f0-9]{32}$)")


class _Channel(_Model):
    @model_validator(mode="before")
    @classmethod
    def _no_secret_values(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if key.endswith("Secret") and isinstance(value, str) and _LOOKS_LIKE_SECRET.search(value):
                    raise ValueError(
                        f"{key} holds what looks like a secret value; put the secret in the environment "
                        "or the secrets file and write its name here"
                    )
        return data


class SlackChannel(_Channel):
    """A Slack incoming webhook, referred to by the name of the secret holding its URL."""

    type: Literal["slack"]
    webhook_secret: SecretName
    channel: str | None = None


class PagerDutyChannel(_Channel):
    """PagerDuty Events API v2, referred to by the name of the secret holding the routing key."""

    type: Literal["pagerduty"]
    routing_key_secret: SecretName
    severity: Literal["critical", "error", "warning", "info"] = "error"


class EmailChannel(_Channel):
    """Email over SMTP (server and credentials come from govops.yaml's secrets)."""

    type: Literal["email"]
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(min_length=1)


Channel = Annotated[SlackChannel | PagerDutyChannel | EmailChannel, Field(discriminator="type")]


class AutoShutdown(_Model):
    """What govops does on its own when the model is critically unhealthy."""

    enabled: bool = False
    critical_health: float = Field(default=0.4, ge=0, le=1, description="health below which to act")
    action: Literal["failover", "stop"] = "failover"


class Monitoring(_Model):
    """Production monitoring: thresholds, health score, channels, automatic shutdown."""

    window: str = Field(default="1h", pattern=r"^[0-9]+[smhd]$")
    thresholds: AlertThresholds = Field(default_factory=AlertThresholds)
    health: HealthScore = Field(default_factory=HealthScore)
    channels: list[Channel] = Field(default_factory=list)
    auto_shutdown: AutoShutdown = Field(default_factory=AutoShutdown)


class ModelBody(_Model):
    """The governed content of a model spec."""

    tier: str = Field(pattern=NAME_PATTERN, description="a risk tier defined in govops.yaml (low, medium, high)")
    task: Literal["classification", "regression"]
    interface: Interface
    versions: list[Version] = Field(min_length=1)
    deployment: Deployment | None = None
    validation: Validation | None = None
    monitoring: Monitoring | None = None


class ModelSpec(_Model):
    """A model spec file: ``apiVersion: govops/v1``, ``kind: Model``."""

    api_version: Literal["govops/v1"]
    kind: Literal["Model"]
    metadata: Metadata
    spec: ModelBody

    @property
    def id(self) -> str:
        """``tenant/name``: the model's id everywhere in govops."""
        return f"{self.metadata.tenant}/{self.metadata.name}"

    def version(self, version_id: str) -> Version | None:
        """The declared version with this id, if any."""
        return next((v for v in self.spec.versions if v.id == version_id), None)

    def model_inputs(self) -> list[str]:
        """Columns fed to the model, in order: models are trained on exactly these columns."""
        return [f.name for f in self.spec.interface.inputs if f.model_input]

    def to_data(self) -> dict[str, Any]:
        """The spec as plain JSON data, with the YAML field names (what policies see)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a model spec, as committed for editors and CI."""
    schema = ModelSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://govops.dev/schemas/model.schema.json"
    return schema
