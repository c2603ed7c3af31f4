"""Where the cache directory is by default, from the environment alone (no settings class, no pydantic).

``engine.spec.settings.cache_root`` resolves ``GOVOPS_CACHE_DIR`` through the settings and
falls back to :func:`resolve`; the warm paths of ``lint`` and ``check --all``
(``engine.spec.result_cache``) call :func:`resolve` directly, because importing the settings
class alone costs more than their whole budget.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def resolve(chosen: str | None, env: Mapping[str, str]) -> Path:
    """``chosen`` (``GOVOPS_CACHE_DIR``), else ``$RUNNER_TEMP/govops-cache``, ``$XDG_CACHE_HOME/govops``, ~/.cache."""
    if chosen and chosen.strip():
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
