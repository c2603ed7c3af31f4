"""Secrets by name: the environment first, then the secrets file named in ``govops.yaml``.

Monitoring stage. Specs hold only secret *names* (``webhookSecret``, ``routingKeySecret``);
this module resolves them at send time. The file (``secrets.file``, YAML or JSON ``name: value``,
outside Git) is read once per store. Values are never logged or written anywhere: every
message that may carry one (a delivery error, a receiver's answer) goes through
:meth:`SecretStore.redact` before it is stored, which removes the values this store handed
out (and the path and query of those that are URLs, which HTTP libraries print on their
own) and cuts every URL down to its scheme and host (:func:`redact_urls`).

A spec's channel secret is resolved only through :meth:`SecretStore.channel_secret`, which
answers only names its tenant may use (``tenants.<t>.secrets`` in the base branch's
``govops.yaml``) and never govops' own, CI or cloud variables
(:func:`engine.spec.secret_names.reserved_secret`), so a
spec author cannot send alerts to another tenant's channels or to a URL from the monitor's
environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.spec.errors import ForbiddenSecret, MissingSecret
from engine.spec.secret_names import reserved_secret

REDACTED = "…redacted"
MIN_REDACTED_LEN = 4  # shorter values ('25', 'none') are not secrets and would shred every message
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://([^\s/?#'\"<>\\]*)([^\s'\"<>]*)")
_WITH_URL = re.compile(r"(?i)(with url: )\S+")


def _host_part(authority: str) -> str:
    """``host[:port]`` of an authority, without ``user:password@``."""
    return authority.rsplit("@", 1)[-1]


def redact_urls(text: str) -> str:
    """Every ``scheme://…`` in ``text`` cut to scheme and host (path, query, fragment, userinfo replaced).

    A URL with nothing after its host and no userinfo is kept as it is; otherwise the rest
    becomes ``/…redacted``. urllib3's ``… with url: /path`` (a path without its host) is cut too.
    """

    def one(m: re.Match[str]) -> str:
        scheme, authority, rest = m.group(1), m.group(2), m.group(3)
        host = _host_part(authority)
        if not rest and host == authority:
            return m.group(0)
        return f"{scheme}://{host}/{REDACTED}"

    return _WITH_URL.sub(rf"\g<1>{REDACTED}", _URL.sub(one, text))


def secret_fragments(value: str) -> list[str]:
    """The strings that give a secret away: the value, and for a URL its path+query, query and password."""
    out = {value}
    if "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if parts is not None:
            path_query = parts.path + (f"?{parts.query}" if parts.query else "")
            out.update({path_query, parts.path, parts.query, parts.password or "", parts.username or ""})
            out.discard("/")
    return sorted((f for f in out if len(f) >= MIN_REDACTED_LEN), key=len, reverse=True)


def tenant_secrets_of(config: Any) -> dict[str, list[str]]:
    """``{tenant: [secret names]}`` from a :class:`engine.spec.config.Governance` (``tenants.<t>.secrets``)."""
    return {name: list(t.secrets) for name, t in getattr(config, "tenants", {}).items()}


def _load_tenant_secrets(root: Path) -> dict[str, list[str]]:
    """The scoping in ``root/govops.yaml``; empty (every channel secret refused) when it cannot be read."""
    try:
        from engine.spec.workspace import load_config

        config, _shown, _diags = load_config(root)
        return tenant_secrets_of(config) if config is not None else {}
    except Exception:  # noqa: BLE001 - no readable config: nothing is allowed (fail closed)
        return {}


class SecretStore:
    """Resolves secret names."""

    def __init__(self, root: Path, file: str | None = None, env: Mapping[str, str] | None = None,
                 tenant_secrets: Mapping[str, Sequence[str]] | None = None) -> None:
        """``tenant_secrets``: which channel secrets each tenant may use; default: ``root/govops.yaml``'s."""
        self.root = root
        self._tenant_secrets = tenant_secrets
        self.file = (root / file) if file and not Path(file).is_absolute() else (Path(file) if file else None)
        self.env = env if env is not None else os.environ
        self._data: dict[str, Any] | None = None
        self._revealed: set[str] = set()

    def _file_data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.file is not None and self.file.is_file():
                from ruamel.yaml import YAML

                loaded = YAML(typ="safe").load(self.file.read_text())
                if isinstance(loaded, dict):
                    self._data = {str(k): v for k, v in loaded.items()}
        return self._data

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name``, or ``default`` (a value found is remembered for :meth:`redact`)."""
        if name in self.env and self.env[name] != "":
            found: str | None = self.env[name]
        else:
            value = self._file_data().get(name)
            found = str(value) if value is not None else None
        if found is None:
            return default
        self._revealed.add(found)
        return found

    def allowed(self, tenant: str) -> set[str]:
        """The channel secret names ``tenant`` may use."""
        if self._tenant_secrets is None:
            self._tenant_secrets = _load_tenant_secrets(self.root)
        return set(self._tenant_secrets.get(tenant, ()))

    def channel_secret(self, name: str, model: str) -> str:
        """The value of a spec channel's secret ``name`` for ``model`` (``tenant/name``).

        :class:`ForbiddenSecret` when the name is reserved or not in the tenant's allowed list;
        :class:`MissingSecret` when it is allowed but not set. Only string values are handed out.
        """
        tenant = model.split("/", 1)[0]
        if reserved_secret(name):
            raise ForbiddenSecret(f"secret {name} is reserved (govops, CI or cloud settings) and is never a "
                                  "channel secret")
        if name not in self.allowed(tenant):
            raise ForbiddenSecret(f"secret {name} is not allowed for tenant {tenant} (govops.yaml "
                                  f"tenants.{tenant}.secrets)")
        if not (name in self.env and self.env[name] != "") and not isinstance(self._file_data().get(name, ""), str):
            raise ForbiddenSecret(f"secret {name} in the secrets file is not a string")
        return self.require(name)

    def redact(self, text: str) -> str:
        """``text`` with every value this store handed out, and every URL's path and query, replaced."""
        text = redact_urls(text)  # first, so a URL keeps its scheme and host
        fragments = sorted({f for v in self._revealed for f in secret_fragments(v)}, key=len, reverse=True)
        for fragment in fragments:
            text = text.replace(fragment, REDACTED)
        return text

    def require(self, name: str) -> str:
        """The value of ``name``; :class:`MissingSecret` when it is nowhere."""
        value = self.get(name)
        if value is None:
            where = f" or in {self.file}" if self.file is not None else ""
            raise MissingSecret(f"secret {name} is not set (looked in the environment{where})")
        return value
