"""Reading a window of the gateway's prediction log and feedback (monitoring stage, input side).

The layout and the readers are the gateway's (``engine.gateway.predlog``); this module only adds
where the log lives for a repository and turns an empty window into ``None``, which is
how the metric kinds say "nothing to judge". Never writes to the log.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from engine.gateway import predlog


def log_dir(root: Path) -> Path:
    """``GOVOPS_LOG_DIR`` if set (relative to the repository), else ``<repo>/.govops/logs``."""
    from engine.spec.settings import get_settings

    env = get_settings().log_dir
    if env:
        p = Path(env)
        return p if p.is_absolute() else root / p
    return root / predlog.DEFAULT_LOG_DIR


def read_predictions(log: Path, model_id: str, since_ns: int, until_ns: int) -> pa.Table | None:
    """The logged prediction rows of one model with ``since_ns <= ts_ns < until_ns`` (``None``: none)."""
    table = predlog.read_window(log, model_id, since_ns, until_ns)
    return table if table.num_rows else None


def read_feedback(log: Path, model_id: str, since_ns: int, until_ns: int) -> pa.Table | None:
    """Feedback rows (``request_id``, ``row``, ``ts_ns``, ``label``) that arrived in the window, or ``None``."""
    table = predlog.read_feedback(log, model_id, since_ns, until_ns)
    return table.select(["request_id", "row", "ts_ns", "label"]) if table.num_rows else None
