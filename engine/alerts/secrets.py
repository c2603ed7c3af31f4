"""Secrets by name: the environment first, then the secrets file named in ``govops.yaml``.

Monitoring stage. Specs hold only secret *names* (``webhookSecret``, ``routingKeySecret``);
this module resolves them at send time. The file (``secrets.file``, YAML or JSON ``name: value``,
outside Git) is read once per store. Values are never logged or written anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class MissingSecret(LookupError):
    """A secret named by a spec or by the SMTP settings is neither in the environment nor the file."""


class SecretStore:
    """Resolves secret names."""

    def __init__(self, root: Path, file: str | None = None, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.file = (root / file) if file and not Path(file).is_absolute() else (Path(file) if file else None)
        self.env = env if env is not None else os.environ
        self._data: dict[str, Any] | None = None

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
        """The value of ``name``, or ``default``."""
        if name in self.env and self.env[name] != "":
            return self.env[name]
        value = self._file_data().get(name)
        return str(value) if value is not None else default

    def require(self, name: str) -> str:
        """The value of ``name``; :class:`MissingSecret` when it is nowhere."""
        value = self.get(name)
        if value is None:
            where = f" or in {self.file}" if self.file is not None else ""
            raise MissingSecret(f"secret {name} is not set (looked in the environment{where})")
        return value
