"""Typed settings from the environment (``GOVOPS_*``), in one pydantic-settings class.

Every stage reads its knobs from here instead of calling ``os.environ`` itself, so the
whole list is in one place with a docstring per field. Settings never carry secrets'
values: only names of secrets or URLs of services. Helpers add fields here (additively).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

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

    # Input bounds (read by ``engine.spec.limits`` straight from the environment; listed here with their meaning)
    max_data_bytes: int | None = Field(default=None, ge=1)
    """Largest data file or model artifact a spec URI may name (bytes); overrides govops.yaml's
    ``limits.maxDataBytes`` (default 2 GiB). Only regular files are ever read."""

    max_spec_bytes: int = Field(default=1024 * 1024, ge=1)
    """Largest spec (or govops.yaml) file (bytes)."""

    max_spec_depth: int = Field(default=32, ge=1)
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


def cache_root(settings: Settings | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The absolute cache directory ``settings.cache_dir`` names, or the default (see ``Settings.cache_dir``).

    Here rather than in ``engine.spec.statedir`` so that ``runners/`` (which may import only the
    settings) resolves it the same way.
    """
    env = os.environ if environ is None else environ
    chosen = (settings or Settings()).cache_dir
    if chosen:
        path = Path(chosen).expanduser()
    elif env.get("RUNNER_TEMP"):
        path = Path(env["RUNNER_TEMP"]) / "govops-cache"
    elif env.get("XDG_CACHE_HOME") and Path(env["XDG_CACHE_HOME"]).is_absolute():
        path = Path(env["XDG_CACHE_HOME"]) / "govops"
    else:
        try:
            path = Path.home() / ".cache" / "govops"
        except RuntimeError:  # no home directory: a per-user directory under the system temp dir
            path = Path(tempfile.gettempdir()) / f"govops-cache-{os.getuid()}"
    return path.absolute()


def get_settings() -> Settings:
    """The settings as the environment says now (read on every call; cheap)."""
    return Settings()
