"""Health checks of a newly loaded version: ready, then a smoke inference on real rows.

Merge stage, local target. Readiness is asked per version; the smoke inference sends
the first rows of the spec's evaluation data (the model's input columns, in order, as
FP64) and expects one finite prediction per row. A check never changes what serves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.mlserver.client import MLServerClient, MLServerError
from engine.mlserver.settings import mlserver_name
from engine.rollout.desired import DesiredModel
from engine.rollout.materialise import sha256_of
from engine.spec.uris import local_path, uri_problem

SMOKE_ROWS = 5


@dataclass
class HealthResult:
    """The outcome of checking one version."""

    model: str
    version: str
    ready: bool
    smoke_rows: int
    ok: bool
    reason: str
    seconds: float

    def to_data(self) -> dict[str, Any]:
        """JSON form (ledger)."""
        return dict(self.__dict__)


def smoke_rows(model: DesiredModel, root: Path, n: int = SMOKE_ROWS) -> np.ndarray:
    """The first ``n`` rows of the evaluation data, model inputs only; ``ValueError`` if unusable."""
    import pandas as pd

    if model.evaluation_uri is None:
        raise ValueError("the spec declares no validation.evaluationData to take smoke rows from")
    problem = uri_problem(model.evaluation_uri, root)
    path = local_path(model.evaluation_uri, root)
    if problem or path is None:
        raise ValueError(problem or f"evaluation data {model.evaluation_uri} is not local")
    if not path.is_file():
        raise ValueError(f"evaluation data {model.evaluation_uri} is missing")
    if model.evaluation_sha256 and sha256_of(path) != model.evaluation_sha256:
        raise ValueError(f"evaluation data {model.evaluation_uri} does not match its pinned sha256")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path, columns=model.inputs).head(n)
    else:
        frame = pd.read_csv(path, usecols=model.inputs, nrows=n)
    missing = [c for c in model.inputs if c not in frame.columns]
    if missing:
        raise ValueError(f"evaluation data lacks input columns {missing}")
    return frame[model.inputs].to_numpy(dtype=np.float64)


def check_version(
    client: MLServerClient,
    model: DesiredModel,
    version: str,
    rows: np.ndarray | None,
    rows_error: str | None,
    *,
    ready_timeout_s: float = 30.0,
) -> HealthResult:
    """Ready (polled up to ``ready_timeout_s``) and one smoke inference of ``rows``."""
    t0 = time.monotonic()
    name = mlserver_name(model.model)
    deadline = t0 + ready_timeout_s
    ready = client.is_ready(name, version)
    while not ready and time.monotonic() < deadline:
        if not client.live():
            break
        time.sleep(0.1)
        ready = client.is_ready(name, version)
    if not ready:
        why = "not ready after load" if client.live() else f"MLServer at {client.url} is not answering"
        return HealthResult(model.model, version, False, 0, False, why, time.monotonic() - t0)
    if rows is None:
        return HealthResult(model.model, version, True, 0, False, f"no smoke data: {rows_error}", time.monotonic() - t0)
    try:
        pred = client.infer(name, version, rows)
    except MLServerError as exc:
        return HealthResult(model.model, version, True, len(rows), False, f"smoke inference failed: {exc.message}",
                            time.monotonic() - t0)
    if pred.shape[0] != rows.shape[0]:
        return HealthResult(model.model, version, True, len(rows), False,
                            f"smoke inference returned {pred.shape[0]} predictions for {rows.shape[0]} rows",
                            time.monotonic() - t0)
    if pred.dtype.kind in "fc" and not np.all(np.isfinite(pred)):
        return HealthResult(model.model, version, True, len(rows), False,
                            "smoke inference returned non-finite predictions", time.monotonic() - t0)
    return HealthResult(model.model, version, True, len(rows), True, "ready; smoke inference ok",
                        time.monotonic() - t0)
