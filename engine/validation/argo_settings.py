"""Settings for running validation on Argo Workflows, read from ``GOVOPS_*`` environment variables.

Part of the *validate* stage (Argo executor and workflow building). One typed class,
MLServer-style: each field documents itself. This module only reads settings; it never
contacts a server and never prints a token.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_IMAGE = "ghcr.io/govops/validator:0.1.0"
DEFAULT_NAMESPACE = "argo"


class ArgoSettings(BaseSettings):
    """``GOVOPS_ARGO_SERVER``, ``GOVOPS_ARGO_TOKEN``, ``GOVOPS_ARGO_NAMESPACE``, ``GOVOPS_VALIDATOR_IMAGE`` and more."""

    model_config = SettingsConfigDict(env_prefix="GOVOPS_", extra="ignore")

    argo_server: str | None = Field(
        default=None, description="Argo Server base URL, e.g. https://argo.example.com:2746 (also the UI)"
    )
    argo_token: SecretStr | None = Field(
        default=None, description="bearer token for the Argo Server (a ServiceAccount token); never logged"
    )
    argo_namespace: str = Field(default=DEFAULT_NAMESPACE, description="namespace the workflows run in")
    argo_verify_tls: bool = Field(default=True, description="verify the Argo Server's TLS certificate")
    argo_service_account: str = Field(
        default="govops-validator", description="ServiceAccount the workflow pods run as (argo/rbac.yaml)"
    )
    argo_git_secret: str | None = Field(
        default=None,
        description="Secret (keys: username, token) used to clone a private repository in the pods",
    )
    argo_github_secret: str = Field(
        default="govops-github", description="Secret (key: token) the exit handler uses to set commit statuses"
    )
    validator_image: str = Field(default=DEFAULT_IMAGE, description="the validator image (see Dockerfile)")
