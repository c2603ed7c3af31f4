"""Typed settings from the environment (``GOVOPS_*``), in one pydantic-settings class.

Every stage reads its knobs from here instead of calling ``os.environ`` itself, so the
whole list is in one place with a docstring per field. Settings never carry secrets'
values: only names of secrets or URLs of services. Helpers add fields here (additively).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """``GOVOPS_<FIELD>`` environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="GOVOPS_", extra="ignore")

    opa_url: str | None = None
    """URL of an OPA server (e.g. ``http://127.0.0.1:8181``); when set, policies are evaluated there."""

    policy_backend: str | None = None
    """Force a policy backend by name (``regopy`` or ``opa``); default: ``opa`` if opa_url is set, else ``regopy``."""

    policy_dir: str = "policies"
    """Directory of the Rego policy library, relative to the repository root."""

    policy_timeout_s: float = Field(default=10.0, gt=0)
    """Longest one policy query may run (seconds) before it is stopped and reported as an error."""

    policy_jobs: int | None = Field(default=None, ge=1)
    """Worker processes for embedded (regopy) evaluation; default: the number of cores."""

    policy_cache: bool = True
    """Cache decisions under ``.govops/cache/policy/`` keyed by (policy digest, input digest)."""

    policy_bundle_cache: bool = False
    """Reuse the compiled regopy bundle across runs (saves ~35 ms of compilation per worker).

    Off by default: with regopy 1.5.2 a bundle saved by a ``check --all`` run and loaded by a
    later change check returned unparseable output for an input with a change context (the
    query failed closed with a JSON error). Turn on only after ``tests/test_policy_check.py``
    passes with it.
    """

    opa_timeout_s: float = Field(default=2.0, gt=0)
    """Timeout of one HTTP request to the OPA server (seconds)."""

    opa_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a failed connection or a 5xx answer from the OPA server."""

    now: str | None = None
    """Override the clock policies see (RFC 3339), to replay a past decision; default: the current time."""

    log_dir: str | None = None
    """Root of the prediction log (Parquet); default ``<repo>/.govops/logs``."""

    log_sample_rate: float = Field(default=1.0, ge=0, le=1)
    """Share of gateway requests written to the prediction log (0-1); feedback is never sampled."""

    gateway_max_body: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Largest request body the gateway accepts (bytes); larger bodies get 413 without being read."""

    gateway_timeout_s: float = Field(default=5.0, gt=0)
    """Longest the gateway waits for the routed version before the failover version answers (seconds)."""

    gateway_shadow_timeout_s: float = Field(default=5.0, gt=0)
    """Longest one shadow call may take before it is abandoned (seconds)."""

    gateway_shadow_queue: int = Field(default=1000, ge=1)
    """Shadow calls waiting to be sent; when full, new ones are dropped and counted."""

    gateway_shadow_workers: int = Field(default=16, ge=1, le=1024)
    """Shadow calls in flight at once."""

    gateway_upstream_connections: int = Field(default=256, ge=1)
    """Pooled keep-alive connections from the gateway to MLServer."""

    gateway_watch_s: float = Field(default=1.0, ge=0)
    """How often the gateway checks the rollout state files for a new routing table (0: only on reload)."""

    github_retries: int = Field(default=4, ge=0, le=10)
    """Retries of a GitHub API call that failed with 5xx, a rate limit, or no connection."""

    github_backoff_s: float = Field(default=1.0, ge=0, le=60)
    """First wait before retrying a GitHub API call (doubles each retry)."""

    github_max_wait_s: float = Field(default=60.0, ge=0, le=3600)
    """Longest govops waits for a GitHub rate limit to reset before failing."""

    bot_name: str = "govops-bot"
    """Author and committer name of commits govops makes on its own (automatic shutdown branches)."""

    bot_email: str = "govops-bot@users.noreply.github.com"
    """Author and committer email of govops' own commits."""


def get_settings() -> Settings:
    """The settings as the environment says now (read on every call; cheap)."""
    return Settings()
