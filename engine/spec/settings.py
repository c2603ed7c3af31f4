"""Typed settings from the environment (``GOVOPS_*``), in one pydantic-settings class.

Every stage and every check reads its ``GOVOPS_*`` knobs through :func:`get_settings` instead
of calling ``os.environ`` itself, so the whole list is in one place with a docstring per field
(README's settings table is generated from them: ``tests/spec/test_settings_table.py``). The
two secret values among them (the Argo token, the gateway's keys) are ``SecretStr``: never
printed. A bad value is an input error naming its variable (exit 2), never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from engine.spec.errors import InputError
from engine.spec.limits import DEFAULT_MAX_SPEC_BYTES, DEFAULT_MAX_SPEC_DEPTH

PREFIX = "GOVOPS_"
DEFAULT_VALIDATOR_IMAGE = "ghcr.io/govops/validator:0.1.0"
DEFAULT_ARGO_NAMESPACE = "argo"


class Settings(BaseSettings):
    """``GOVOPS_<FIELD>`` environment variables (case-insensitive); frozen, because instances are shared."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True, use_attribute_docstrings=True)

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
    """Cache decisions under ``<cache_dir>/policy/`` keyed by (policy digest, input digest, engine)."""

    cache_dir: str | None = None
    """Where govops keeps caches (decisions, sorted drift columns, reference profiles, compiled bundles).

    Default: ``$RUNNER_TEMP/govops-cache`` in GitHub Actions (``RUNNER_TEMP`` set: per job, so
    nothing a PR's job writes survives into another job), else ``$XDG_CACHE_HOME/govops``, else
    ``~/.cache/govops``. Never inside a checkout: nothing in the tree under review is read as
    state (``engine.spec.statedir`` refuses a cache directory inside the repository).
    """

    policy_bundle_cache: bool = False
    """Reuse the compiled regopy bundle across runs (saves ~35 ms of compilation per worker).

    Off by default: with regopy 1.5.2 a bundle saved by a ``check --all`` run and loaded by a
    later change check returned unparseable output for an input with a change context (the
    query failed closed with a JSON error). Turn on only after ``tests/policy/test_policy_check.py``
    passes with it.
    """

    reference_engine: str = "auto"
    """OPA's Go engine for ``policy test`` and custom-library checks: ``auto`` (look in the virtualenv and the
    user cache, where ``scripts/system-deps.sh`` installs it), ``off``, or the directory holding ``opa_bindings``."""

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

    gateway_max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=1024 * 1024)
    """Largest request head (request line and all headers) the gateway reads; more is refused with 431 at once."""

    gateway_max_header_field_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    """Largest single header (name and value) or request target; larger is refused with 431."""

    gateway_header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Longest a client may take to send a request head (from its first byte, or from connecting) (seconds)."""

    gateway_body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """Longest a client may take to send a request body before 408 (seconds)."""

    gateway_keepalive_s: int = Field(default=5, ge=1, le=3600)
    """How long an idle keep-alive connection stays open between requests (seconds)."""

    gateway_max_connections: int = Field(default=0, ge=0, le=100_000)
    """Client connections the gateway keeps open at once (more are closed at once; requests past it get 503).

    0: the process's open-file limit minus 128 (so the gateway always has descriptors for MLServer and the log)."""

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

    # Input bounds (``engine.spec.limits``, ``engine.spec.loader``)
    max_data_bytes: int | None = Field(default=None, ge=1)
    """Largest data file or model artifact a spec URI may name (bytes); overrides govops.yaml's
    ``limits.maxDataBytes`` (default 2 GiB). Only regular files are ever read."""

    max_spec_bytes: int = Field(default=DEFAULT_MAX_SPEC_BYTES, ge=1)
    """Largest spec (or govops.yaml) file (bytes)."""

    max_spec_depth: int = Field(default=DEFAULT_MAX_SPEC_DEPTH, ge=1)
    """Deepest nesting of a spec; counted on the YAML parser's events, so it stops the parser itself."""

    max_event_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    """Largest GitHub event payload (``GITHUB_EVENT_PATH``) read (bytes)."""

    max_event_depth: int = Field(default=64, ge=1)
    """Deepest nesting of the event payload, checked before it is parsed."""

    max_policy_files: int = Field(default=500, ge=1)
    """Most ``*.rego`` files in the policy library."""

    max_policy_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    """Largest total size of the policy library's ``*.rego`` files (bytes)."""

    max_waiver_bytes: int = Field(default=1024 * 1024, ge=1)
    """Largest ``waivers.yaml`` (bytes)."""

    max_waivers: int = Field(default=1000, ge=1)
    """Most entries in ``waivers.yaml``."""

    # Validation on Argo Workflows (``engine.validation``)
    argo_server: str | None = None
    """Argo Server base URL, e.g. ``https://argo.example.com:2746`` (also the UI)."""

    argo_token: SecretStr | None = None
    """Bearer token for the Argo Server (a ServiceAccount token); never logged."""

    argo_namespace: str = DEFAULT_ARGO_NAMESPACE
    """Namespace the validation workflows run in."""

    argo_verify_tls: bool = True
    """Verify the Argo Server's TLS certificate."""

    argo_service_account: str = "govops-validator"
    """ServiceAccount the workflow pods run as (``argo/rbac.yaml``)."""

    argo_git_secret: str | None = None
    """Secret (keys: ``username``, ``token``) used to clone a private repository in the pods."""

    argo_github_secret: str = "govops-github"
    """Secret (key: ``token``) the exit handler uses to set commit statuses."""

    argo_submission: Literal["ref", "inline"] = "ref"
    """``ref``: PR runs reference the committed templates (``kubectl apply -k argo/``); ``inline``: steps inline."""

    validator_image: str = DEFAULT_VALIDATOR_IMAGE
    """The validator image (see ``Dockerfile``)."""

    run_url: str | None = None
    """The ``target_url`` of ``govops/policy`` (validators link to their Argo step); default: the Actions run."""

    # Checks and their prediction workers (``runners``)
    model_worker_timeout: float = Field(default=300.0, gt=0)
    """Seconds one artifact load or one predict call may take in a prediction worker."""

    model_worker_user: str = "nobody"
    """The user a prediction worker (and ``serving_parity``'s MLServer) switches to when govops runs as root.

    Empty: stay uid 0 (capabilities are still dropped); not recommended."""

    model_sandbox: str = "best-effort"
    """``require``: refuse to load any artifact, or to start ``serving_parity``'s MLServer, when there is
    neither a user switch nor Landlock; ``best-effort``: load it anyway, with the environment scrubbed."""

    skops_trusted_types: str = ""
    """Comma-separated extra types a ``skops`` artifact may hold beyond skops' defaults (never read from a spec)."""

    # Rollout and serving (``engine.rollout``, ``engine.mlserver``)
    serving_dir: str | None = None
    """The local target's serving directory; default ``<repo>/.govops/serving``."""

    rollout_drain_s: float = 1.0
    """Drain before the local target unloads old versions (seconds)."""

    artifact_base: str | None = None
    """Object-storage prefix of repository-relative artifacts in Kubernetes manifests; default ``s3://govops-artifacts``."""

    model_repository_root: str | None = None
    """Set by govops itself for the MLServer it starts in an empty directory: the model repository it serves.

    Not a knob."""

    # Gateway keys and monitoring alerts (``engine.gateway``, ``engine.monitoring``)
    gateway_keys: SecretStr | None = None
    """Per-tenant API keys of the gateway, ``tenant=key,…`` or a JSON object (besides the secrets file)."""

    alert_renotify: str = "4h"
    """Re-notify interval of a firing alert (``30m``, ``4h``, ``1d`` or seconds)."""

    alert_retry_base_s: float = 0.5
    """First backoff of a failed alert send (seconds; doubles each retry; below 0 counts as 0)."""

    pagerduty_url: str = "https://events.pagerduty.com"
    """PagerDuty Events API base URL."""

    debug: bool = False
    """``1``: print the traceback of an internal error (exit 3) instead of a one-line message."""

    @field_validator(
        "debug", "log_dir", "cache_dir", "serving_dir", "artifact_base", "run_url", "model_repository_root",
        "rollout_drain_s", "alert_renotify", "alert_retry_base_s", "pagerduty_url", "gateway_keys",
        "max_data_bytes", "max_spec_bytes", "max_spec_depth", "max_event_bytes", "max_event_depth",
        "max_policy_files", "max_policy_bytes", "max_waiver_bytes", "max_waivers",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        """An empty variable means "not set" for these (as it did where each was read on its own)."""
        if isinstance(value, str) and not value.strip():
            assert info.field_name is not None
            return cls.model_fields[info.field_name].default
        return value


def cache_root(settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The absolute cache directory ``settings.cache_dir`` names, or the default (see ``Settings.cache_dir``).

    Here rather than in ``engine.spec.statedir`` so that ``runners/`` (which may import only the
    settings) resolves it the same way.
    """
    from engine.spec.cache_location import resolve

    env = os.environ if environ is None else environ
    return resolve((settings or get_settings()).cache_dir, env)


class _GivenSettings(Settings):
    """Settings from the values passed in only, never from the process environment (see :func:`get_settings`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._environ.items()}


@lru_cache(maxsize=16)
def _settings_for(items: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return _GivenSettings(**_MappingSource(dict(items))())
    except ValidationError as exc:
        err = exc.errors()[0]
        name = PREFIX + str(err["loc"][0]).upper() if err["loc"] else "GOVOPS_*"
        raise InputError(f"{name}: {err['msg']}") from None


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings as ``environ`` (default: the process environment) says now.

    Read on every call, so a changed variable counts at once, but built only once per distinct
    set of ``GOVOPS_*`` values (building one costs milliseconds; looking up the values, microseconds).
    Raises ``InputError`` (exit 2) naming the variable when a value is invalid.
    """
    env = os.environ if environ is None else environ
    items = tuple(sorted((k, v) for k, v in env.items() if k[: len(PREFIX)].upper() == PREFIX))
    return _settings_for(items)


def settings_table_markdown() -> str:
    """README's settings table: one row per field, ``variable | default | meaning`` (its docstring, on one line)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = "—" if field.default is None or field.default == "" else f"`{field.default}`"
        if isinstance(field.default, bool):
            default = f"`{str(field.default).lower()}`"
        meaning = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `{PREFIX}{name.upper()}` | {default} | {meaning} |")
    return "\n".join(rows) + "\n"
