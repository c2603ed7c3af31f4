"""Repository-level governance config (``govops.yaml``): tiers, tenants, groups, freezes.

Owned by the risk/compliance team. Tiers say which checks must run with which default
thresholds and how many approvals a change needs; tenants say which paths a team owns;
freezes say when nothing may change. Policies receive this document as ``input.config``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from engine.spec.model import MODEL_NAME_PATTERN, NAME_PATTERN, SECRET_NAME_PATTERN
from engine.spec.repo_paths import spec_dir_problem

TenantName = Annotated[str, Field(pattern=MODEL_NAME_PATTERN, max_length=63)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True, allow_inf_nan=False
    )


class Approvals(_Model):
    """How many distinct approvers a change needs, and from which groups."""

    count: int = Field(default=1, ge=0, le=10)
    groups: list[str] = Field(default_factory=list, description="one approval needed from each group listed")


class TierConfig(_Model):
    """What a risk tier demands."""

    description: str = ""
    required_checks: list[str] = Field(default_factory=list)
    defaults: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="default thresholds: check -> threshold -> value"
    )
    approvals: Approvals = Field(default_factory=Approvals)
    max_first_canary_weight: float = Field(default=100, ge=0, le=100)
    require_lineage: bool = False
    require_alerting: bool = False
    require_auto_shutdown: bool = False
    require_progressive_rollout: bool = Field(
        default=False, description="a new champion must first have run as shadow or canary"
    )
    forbid_sensitive_features: bool = Field(
        default=False, description="sensitive attributes may be declared for bias checks but not fed to the model"
    )
    require_packs: list[str] | None = Field(
        default=None,
        description="regulation packs (policies/packs/<name>.yaml) whose every control a production rollout of "
        "this tier's models must cover (policy GOV-PACK-001/002)",
    )


class Tenant(_Model):
    """A team: the paths it owns, and who may change and approve its specs."""

    paths: list[str] = Field(min_length=1)
    owners: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    secrets: list[Annotated[str, Field(pattern=SECRET_NAME_PATTERN)]] = Field(
        default_factory=list,
        description="names of the secrets this tenant's alert channels may use (webhookSecret, routingKeySecret); "
        "any other name is refused at check and at send time",
    )


class Environment(_Model):
    """A serving environment (local MLServer, or a Kubernetes namespace)."""

    target: Literal["local", "kubernetes"] = "local"
    namespace: str = Field(default="models", pattern=NAME_PATTERN)


class Freeze(_Model):
    """A change-freeze window: no spec change merges inside it."""

    name: str = Field(min_length=1)
    start: datetime
    end: datetime
    tenants: list[str] = Field(default_factory=list, description="empty: every tenant")

    @model_validator(mode="after")
    def _order(self) -> Freeze:
        if self.end <= self.start:
            raise ValueError("a freeze must end after it starts")
        return self


class Secrets(_Model):
    """Where secrets referred to by name come from (besides the environment)."""

    file: str | None = Field(default=None, description="a YAML/JSON file of name: value, outside Git")


class Ledger(_Model):
    """The audit ledger: who may sign its notes commits (``allowed_signers`` lines, as in ssh-keygen(1))."""

    allowed_signers: list[str] = Field(
        default_factory=list,
        description="lines of an ssh allowed_signers file: 'principal [options] key-type base64-key'; the CI "
        "identity that signs ledger notes commits (verified with git's ssh-keygen -Y verify path)",
    )
    require_evidence: bool = Field(
        default=True, description="a rollout fails when no PR evidence note is found for the merged change"
    )


class Limits(_Model):
    """Caps on what a spec can make govops read (defaults in ``engine.spec.limits``)."""

    max_data_bytes: int | None = Field(
        default=None,
        ge=1,
        description="largest data file or model artifact a spec URI may name, in bytes (default 2 GiB); "
        "GOVOPS_MAX_DATA_BYTES overrides it",
    )


def _plain_spec_dir(value: str) -> str:
    problem = spec_dir_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


SpecDir = Annotated[str, AfterValidator(_plain_spec_dir)]
"""A ``specPaths`` entry in its one plain spelling (``engine.spec.repo_paths``)."""


class Governance(_Model):
    """The ``govops.yaml`` document."""

    api_version: Literal["govops/v1"] = "govops/v1"
    kind: Literal["Governance"] = "Governance"
    spec_paths: list[SpecDir] = Field(default_factory=lambda: ["specs"])
    tiers: dict[str, TierConfig]
    tenants: dict[TenantName, Tenant] = Field(
        default_factory=dict, description="tenant name (a DNS label without '--') -> its paths, people and secrets")
    groups: dict[str, list[str]] = Field(default_factory=dict)
    risk_group: str = "risk"
    environments: dict[str, Environment] = Field(default_factory=lambda: {"production": Environment()})
    allowed_runtimes: list[str] = Field(
        default_factory=lambda: ["mlserver_sklearn.SKLearnModel"], description="MLServer implementations allowed"
    )
    personal_data: list[str] = Field(
        default_factory=list, description="column names that are personal data and may never be model inputs"
    )
    freezes: list[Freeze] = Field(default_factory=list)
    secrets: Secrets = Field(default_factory=Secrets)
    signed_commits: bool = False
    limits: Limits | None = Field(default=None, description="caps on the files a spec may make govops read")
    ledger: Ledger | None = Field(default=None, description="declares the signed, hash-chained audit ledger")
    stale_approvals: Literal["dismiss", "keep"] = Field(
        "dismiss",
        description="an approving review given on an older commit of the pull request: dismiss (it does not "
        "count until the reviewer approves the latest commit, like GitHub's 'dismiss stale approvals') or keep",
    )

    def to_data(self) -> dict[str, Any]:
        """Plain JSON data with the YAML field names (what policies see as ``input.config``)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
