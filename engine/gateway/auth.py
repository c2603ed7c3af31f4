"""Per-tenant API keys of the gateway.

Serving stage. Keys come from the secrets file named by ``govops.yaml``
(``secrets.file``; a YAML or JSON mapping with a ``gatewayKeys`` entry of
``{tenant: [key, ...]}``) and from the environment (``GOVOPS_GATEWAY_KEYS``: JSON
``{"tenant": ["key", ...]}`` or ``tenant=key,tenant=key``), never from a spec. A caller
sends ``Authorization: Bearer KEY`` or ``X-Api-Key: KEY``; the key is compared with every
configured key in constant time (no early exit) and maps to one tenant. Keys are never
logged, printed or put in an error message. A presented key longer than ``MAX_KEY_BYTES``
is refused without being compared, and so is a routing key (``X-Govops-Key``) over the same
length; where a routing key must be recorded (the prediction log) :func:`key_id` stands in
for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.spec.errors import InputError

ENV_KEYS = "GOVOPS_GATEWAY_KEYS"
FILE_ENTRY = "gatewayKeys"
MIN_KEY_LENGTH = 16
MAX_KEY_BYTES = 256
KEY_ID_LENGTH = 12


@dataclass(frozen=True)
class KeyStore:
    """``(key bytes, tenant)`` pairs, plus where they came from (for messages; never the keys)."""

    entries: tuple[tuple[bytes, str], ...] = ()
    sources: tuple[str, ...] = field(default=())

    @property
    def tenants(self) -> list[str]:
        """Tenants with at least one key."""
        return sorted({t for _, t in self.entries})

    def __len__(self) -> int:
        return len(self.entries)

    def tenant_of(self, key: str | None) -> str | None:
        """The tenant owning ``key``, or ``None``; every configured key is compared (constant time)."""
        if not key:
            return None
        presented = key.encode()
        if len(presented) > MAX_KEY_BYTES:
            return None  # longer than any configured key: refused without comparing
        found: str | None = None
        for secret, tenant in self.entries:
            if hmac.compare_digest(presented, secret):
                found = tenant
        return found


def key_id(key: str) -> str:
    """A short stand-in for a key in logs: the first 12 hex digits of its sha256.

    Stable across restarts, so rows of one caller still group together; never the key itself.
    """
    return hashlib.sha256(key.encode()).hexdigest()[:KEY_ID_LENGTH]


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-Api-Key: KEY``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _pairs(mapping: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(mapping, dict):
        raise InputError(f"{where}: expected a mapping of tenant to a list of keys")
    out: list[tuple[str, str]] = []
    for tenant, keys in mapping.items():
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(tenant, str) or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InputError(f"{where}.{tenant}: expected a list of keys (strings)")
        for i, k in enumerate(keys):
            if len(k) < MIN_KEY_LENGTH:
                raise InputError(f"{where}.{tenant}[{i}]: a key must be at least {MIN_KEY_LENGTH} characters")
            if len(k.encode()) > MAX_KEY_BYTES:
                raise InputError(f"{where}.{tenant}[{i}]: a key must be at most {MAX_KEY_BYTES} bytes")
            out.append((tenant, k))
    return out


def keys_from_env(value: str) -> list[tuple[str, str]]:
    """Parse ``GOVOPS_GATEWAY_KEYS`` (JSON object, or ``tenant=key,tenant=key``)."""
    value = value.strip()
    if not value:
        return []
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise InputError(f"{ENV_KEYS} is not valid JSON ({exc.__class__.__name__} at char {exc.args})") from None
        return _pairs(data, ENV_KEYS)
    pairs: dict[str, list[str]] = {}
    for item in value.split(","):
        tenant, sep, key = item.strip().partition("=")
        if not sep or not tenant or not key:
            raise InputError(f"{ENV_KEYS}: expected tenant=key[,tenant=key…] or a JSON object")
        pairs.setdefault(tenant.strip(), []).append(key.strip())
    return _pairs(pairs, ENV_KEYS)


def keys_from_file(path: Path, shown: str) -> list[tuple[str, str]]:
    """The ``gatewayKeys`` entry of the secrets file (a missing file or entry gives no keys)."""
    from engine.spec.loader import load_yaml_file

    if not path.exists():
        return []
    doc = load_yaml_file(path, shown)  # JSON is YAML; YamlError carries file:line:col
    if not isinstance(doc.data, dict):
        raise InputError(f"{shown}: the secrets file must be a mapping", file=shown, line=1, col=1)
    if FILE_ENTRY not in doc.data:
        return []
    try:
        return _pairs(doc.data[FILE_ENTRY], FILE_ENTRY)
    except InputError as exc:
        tenant = exc.message.split(".", 2)[1].split("[")[0].split(":")[0] if "." in exc.message else None
        line, col = doc.position((FILE_ENTRY, tenant) if tenant else (FILE_ENTRY,))
        raise InputError(exc.message, file=shown, line=line, col=col) from None


def load_keys(root: Path, secrets_file: str | None, environ: Mapping[str, str] | None = None) -> KeyStore:
    """Keys from the secrets file (relative to ``root``) and ``GOVOPS_GATEWAY_KEYS``.

    A key given to two tenants is refused (exit 2), so a key always names one tenant.
    """
    env = os.environ if environ is None else environ
    pairs: list[tuple[str, str]] = []
    sources: list[str] = []
    if secrets_file:
        path = Path(secrets_file)
        path = path if path.is_absolute() else root / path
        found = keys_from_file(path, secrets_file)
        if found:
            sources.append(secrets_file)
        pairs += found
    from engine.spec.settings import get_settings

    configured = get_settings(env).gateway_keys
    if configured:
        pairs += keys_from_env(configured.get_secret_value())
        sources.append(ENV_KEYS)
    owner: dict[str, str] = {}
    for tenant, key in pairs:
        if owner.setdefault(key, tenant) != tenant:
            raise InputError(f"the same gateway key is given to tenants {owner[key]} and {tenant}; keys must be unique")
    return KeyStore(entries=tuple((k.encode(), t) for k, t in owner.items()), sources=tuple(sources))
