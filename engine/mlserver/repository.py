"""A model repository for MLServer that finds a model by its folder: ``root/<name>/<version>/``.

Serving stage; runs *inside* the MLServer process (``MLSERVER_MODEL_REPOSITORY_IMPLEMENTATION``).
MLServer's default repository globs and parses every ``model-settings.json`` under the
root on each load call, so loading N models one by one costs O(N²). govops lays the
repository out as one folder per model name with one folder per version, so
``find(name)`` reads only that folder (falling back to the full scan if it holds
nothing). It never writes anything.
"""

from __future__ import annotations

import glob
import os

from mlserver.logging import logger
from mlserver.repository.load import load_model_settings
from mlserver.repository.repository import DEFAULT_MODEL_SETTINGS_FILENAME, SchemalessModelRepository
from mlserver.settings import ModelSettings


class NameFolderRepository(SchemalessModelRepository):
    """``SchemalessModelRepository`` with a per-name ``find``.

    Its root is ``GOVOPS_MODEL_REPOSITORY_ROOT`` when set: govops starts MLServer on an
    empty directory (``mlserver start DIR`` makes DIR an import path and reads its
    ``settings.json``), so the model repository itself is never on ``sys.path``.
    """

    def __init__(self, root: str = "") -> None:
        from engine.spec.settings import get_settings

        super().__init__(get_settings().model_repository_root or root)

    async def find(self, name: str) -> list[ModelSettings]:
        """The settings of every version in ``root/<name>/``; the full scan if that folder has none."""
        if not name or "/" in name or name in (".", ".."):
            return list(await super().find(name))
        folder = os.path.join(os.path.abspath(self._root), name)
        pattern = os.path.join(glob.escape(folder), "*", DEFAULT_MODEL_SETTINGS_FILENAME)
        found: list[ModelSettings] = []
        for path in sorted(glob.glob(pattern)):
            try:
                settings = load_model_settings(path)
            except Exception:  # noqa: BLE001 - MLServer's own repository logs and skips, as we do
                logger.exception(f"Failed load model settings at {path}.")
                continue
            if settings.name == name:
                found.append(settings)
        return found or list(await super().find(name))
