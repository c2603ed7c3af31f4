"""Fixtures for the monitoring tests: prediction logs in exactly the gateway's Parquet layout.

``predictions/model=<tenant>--<name>/date=YYYY-MM-DD/part-<unix_ns>-<seq>.parquet`` with the
columns of ``engine.gateway.predlog.BASE_COLUMNS`` (same order and types), then ``in.<feature>``
(float64), ``out.<output>``, ``prediction`` and ``proba``; feedback under ``feedback/…``.
Traffic is real: rows drawn from the example data, predictions from the real model.
"""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.gateway.predlog import BASE_COLUMNS, FEEDBACK_COLUMNS
from engine.spec.workspace import load_workspace

_SEQ = itertools.count()


def traffic(repo: Path, model_id: str, version: str, n: int, *, shift: dict[str, float] | None = None,
            seed: int = 0, requests_of: int = 1) -> pd.DataFrame:
    """``n`` served rows: inputs drawn from the model's data, shifted, answered by the real model."""
    spec = load_workspace(repo).by_id()[model_id].spec
    assert spec.spec.validation is not None
    data = pd.concat([pd.read_csv(repo / spec.spec.validation.reference_data.uri),
                      pd.read_csv(repo / spec.spec.validation.evaluation_data.uri)], ignore_index=True)
    rng = np.random.default_rng(seed)
    frame = data.sample(n=n, replace=True, random_state=seed).reset_index(drop=True)
    for col, delta in (shift or {}).items():
        frame[col] = frame[col] + delta
    v = spec.version(version)
    assert v is not None
    model = joblib.load(repo / v.artifact.uri)
    x = frame[spec.model_inputs()].to_numpy(dtype=float)
    out = pd.DataFrame({f"in.{f.name}": frame[f.name].astype(float) for f in spec.spec.interface.inputs})
    out["prediction"] = model.predict(x).astype(float)
    out["proba"] = model.predict_proba(x)[:, 1] if hasattr(model, "predict_proba") else np.nan
    out["label"] = frame[spec.spec.validation.label].to_numpy()
    out["version"] = version
    out["request_id"] = [f"req-{seed}-{i // requests_of}-{uuid.uuid4().hex[:6]}" if requests_of == 1
                         else f"req-{seed}-{i // requests_of}" for i in range(n)]
    out["row"] = [i % requests_of for i in range(n)]
    out["latency_ms"] = rng.gamma(4.0, 5.0, size=n)
    out["status"] = "ok"
    out["route"] = "champion"
    return out


def _part(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"part-{time.time_ns()}-{next(_SEQ):06d}.parquet"


def write_predictions(log_dir: Path, model_id: str, rows: pd.DataFrame, *, start_ns: int,
                      spacing_ns: int = 1_000_000) -> None:
    """Write rows as the gateway does: one part per day, base columns first with their declared types."""
    n = len(rows)
    ts = start_ns + np.arange(n, dtype=np.int64) * spacing_ns
    day_of = np.array([datetime.fromtimestamp(t / 1e9, UTC).strftime("%Y-%m-%d") for t in ts])
    base = {
        "request_id": rows["request_id"].astype(str).to_numpy(),
        "row": rows["row"].astype(np.int32).to_numpy(),
        "ts_ns": ts,
        "model": np.full(n, model_id),
        "version": rows["version"].astype(str).to_numpy(),
        "route": rows["route"].astype(str).to_numpy(),
        "latency_ms": rows["latency_ms"].astype(float).to_numpy(),
        "status": rows["status"].astype(str).to_numpy(),
        "error": [None] * n,
        "request_key": [None] * n,
    }
    extra = [c for c in rows.columns if c.startswith(("in.", "out."))] + ["prediction", "proba"]
    for day in sorted(set(day_of.tolist())):
        mask = day_of == day
        arrays = [pa.array(np.asarray(base[name])[mask] if not isinstance(base[name], list)
                           else [None] * int(mask.sum()), type=t) for name, t in BASE_COLUMNS]
        for c in extra:
            arrays.append(pa.array(rows[c].to_numpy()[mask], type=pa.float64()))
        table = pa.Table.from_arrays(arrays, names=[n_ for n_, _ in BASE_COLUMNS] + extra)
        pq.write_table(table, _part(log_dir / "predictions" / f"model={model_id.replace('/', '--')}" /
                                    f"date={day}"))


def write_feedback(log_dir: Path, model_id: str, rows: pd.DataFrame, *, ts_ns: int) -> None:
    """Feedback for every row of ``rows`` (its ``label`` column), in the gateway's layout."""
    n = len(rows)
    day = datetime.fromtimestamp(ts_ns / 1e9, UTC).strftime("%Y-%m-%d")
    arrays = [pa.array(rows["request_id"].astype(str).to_numpy(), type=pa.string()),
              pa.array(rows["row"].astype(np.int32).to_numpy(), type=pa.int32()),
              pa.array(np.full(n, ts_ns, dtype=np.int64), type=pa.int64()),
              pa.array(rows["label"].astype(float).to_numpy(), type=pa.float64())]
    table = pa.Table.from_arrays(arrays, names=[c for c, _ in FEEDBACK_COLUMNS] + ["label"])
    pq.write_table(table, _part(log_dir / "feedback" / f"model={model_id.replace('/', '--')}" / f"date={day}"))
