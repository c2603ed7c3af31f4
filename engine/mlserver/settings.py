"""MLServer ``model-settings.json`` documents, built from a spec's version.

Serving stage. One document per model *version* (``parameters.version`` set), so every
deployed version is addressable at ``/v2/models/{name}/versions/{version}``. This
module only builds dictionaries; it never writes files or talks to a server.
"""

from __future__ import annotations

import re
from typing import Any

MODEL_SETTINGS_FILE = "model-settings.json"
# MLServer puts the name in URL paths; keep it to characters that need no escaping.
_MLSERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def mlserver_name(model_id: str) -> str:
    """The MLServer model name of a govops model id: ``tenant/name`` → ``tenant--name``.

    Tenants and names are DNS labels (no ``--`` at either end), so the mapping is
    reversible with :func:`model_id_of`.
    """
    name = model_id.replace("/", "--")
    if not _MLSERVER_NAME.match(name):
        raise ValueError(f"'{model_id}' cannot be made into an MLServer model name")
    return name


def model_id_of(name: str) -> str:
    """The govops model id of an MLServer model name (inverse of :func:`mlserver_name`)."""
    return name.replace("--", "/", 1)


def model_settings(
    name: str,
    version: str,
    uri: str,
    implementation: str,
    parallel_workers: int = 1,
    max_batch_size: int | None = None,
    max_batch_time_ms: float | None = None,
) -> dict[str, Any]:
    """The ``model-settings.json`` document for one version of one model.

    ``uri`` is the artifact (absolute, or relative to the folder holding the
    document). Adaptive batching is written only when ``max_batch_size`` is given
    (MLServer's ``max_batch_time`` is in seconds; govops specs use milliseconds).
    ``parallel_workers`` is kept for information (MLServer 1.7 reads the
    server-wide setting; the per-model field is deprecated but still accepted).
    """
    if not _MLSERVER_NAME.match(name):
        raise ValueError(f"invalid MLServer model name '{name}'")
    doc: dict[str, Any] = {
        "name": name,
        "implementation": implementation,
        "parameters": {"uri": uri, "version": version},
    }
    if parallel_workers != 1:
        doc["parallel_workers"] = parallel_workers
    if max_batch_size is not None and max_batch_size > 1:
        doc["max_batch_size"] = max_batch_size
        doc["max_batch_time"] = (max_batch_time_ms or 0.0) / 1000.0
    return doc
