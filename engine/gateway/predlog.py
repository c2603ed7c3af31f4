"""The prediction log: every gateway exchange as Parquet rows, partitioned by model and day.

Serving stage (written by the gateway, read by monitoring). Layout under a log root
(default ``.govops/logs``, ``GOVOPS_LOG_DIR``)::

    predictions/model=<tenant>--<name>/date=YYYY-MM-DD/part-<unix_ns>-<seq>.parquet
    feedback/model=<tenant>--<name>/date=YYYY-MM-DD/part-<unix_ns>-<seq>.parquet

One prediction row per *instance* (a V2 request of k rows gives k rows) with the
columns of :data:`BASE_COLUMNS`, then ``in.<feature>`` and ``out.<output>`` columns
(float64 when every value is numeric, else string), ``prediction`` and ``proba``.
Feedback rows hold ``request_id``, ``row``, ``ts_ns`` and ``label``.

The writer never blocks the request path: :meth:`PredictionLog.log_exchange` puts a
small record on a bounded queue (dropping and counting when it is full) and one
background thread expands records into rows and writes a new part file per
(kind, model, day) when a buffer reaches ``flush_rows`` or ``flush_interval_s`` has
passed, and on :meth:`PredictionLog.close`. A part is written to a dot-file and renamed,
so readers never see half a file; parts are never rewritten (append-only). Folders are 0700
and parts 0600 (the log holds callers' inputs). The queue is bounded by items and by the bytes
of the bodies it holds; one exchange is logged as at most ``MAX_LOG_ROWS`` rows, its row
count taken from the data actually sent (never from a shape alone).

Note for readers: a hive-partitioned ``pyarrow.dataset`` over the log root replaces
the ``model`` column (``tenant/name``) with the partition value (``tenant--name``);
:func:`read_window` reads the part files directly and keeps ``tenant/name``.
This module never talks to the network and never raises into the request path.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import queue
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from engine.spec.private_files import open_private, private_dir

DEFAULT_LOG_DIR = Path(".govops") / "logs"
MAX_LOG_ROWS = 1000  # rows logged per exchange (more: a truncation marker)
MAX_LOG_ELEMENTS = 200_000  # input elements per exchange expanded into columns
MAX_QUEUE_BYTES = 64 * 1024 * 1024  # request+response bytes waiting for the writer
ROUTES = ("champion", "canary", "ab", "shadow", "failover", "explicit")

BASE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("request_id", pa.string()),
    ("row", pa.int32()),
    ("ts_ns", pa.int64()),
    ("model", pa.string()),
    ("version", pa.string()),
    ("route", pa.string()),
    ("latency_ms", pa.float64()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("request_key", pa.string()),
)
FEEDBACK_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("request_id", pa.string()),
    ("row", pa.int32()),
    ("ts_ns", pa.int64()),
)

_SEQ = itertools.count()


def partition_name(model_id: str) -> str:
    """``tenant/name`` → ``tenant--name`` (the ``model=`` partition value)."""
    return model_id.replace("/", "--", 1)


def _date_of(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d")


@dataclass
class Exchange:
    """One answered (or failed) call of one version, as the gateway saw it.

    ``request`` is the parsed V2 request body and ``response`` the raw upstream body;
    both are expanded into rows by the writer thread, off the request path.
    """

    request_id: str
    ts_ns: int
    model: str
    version: str
    route: str
    latency_ms: float
    status: str
    error: str | None
    request_key: str | None
    request: dict[str, Any] | None
    response: bytes | None
    features: Sequence[str] = ()
    size: int = 0  # bytes of the request and response bodies (what the log queue is bounded by)


@dataclass
class Feedback:
    """One ground-truth label for one row of one logged request."""

    model: str
    request_id: str
    row: int
    label: float | str
    ts_ns: int = field(default_factory=time.time_ns)


# -- expanding V2 tensors into columns ------------------------------------------------------------


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if not data or not isinstance(data[0], list):
        return data
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _tensor_columns(
    tensor: dict[str, Any], prefix: str, rows: int, names: Sequence[str] | None, keep: int | None = None
) -> dict[str, list[Any]]:
    """Columns of one V2 tensor whose first dimension is ``rows`` (only the first ``keep`` rows)."""
    shape = [int(s) for s in tensor.get("shape") or []]
    flat = _flatten(tensor.get("data"))
    name = str(tensor.get("name", "output"))
    if rows <= 0 or not shape or shape[0] != rows or len(flat) != _prod(shape):
        return {}
    width = len(flat) // rows if rows else 0
    kept = rows if keep is None else min(rows, keep)
    flat = flat[:kept * width]
    if width == 1:
        return {f"{prefix}{name}": flat}
    if len(shape) == 2 and names is not None and len(names) == width:
        return {f"{prefix}{names[j]}": flat[j::width] for j in range(width)}
    return {f"{prefix}{name}": [json.dumps(flat[i * width:(i + 1) * width]) for i in range(kept)]}


def _argmax(values: list[Any]) -> int:
    best = 0
    for j, v in enumerate(values):
        if v > values[best]:
            best = j
    return best


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _rows_of(request: dict[str, Any] | None) -> int:
    """The first dimension of the first input, trusted only when its data holds that many elements."""
    try:
        tensor = (request or {})["inputs"][0]
        rows = int(tensor["shape"][0])
        data = tensor["data"]
    except (KeyError, IndexError, TypeError, ValueError):
        return 1
    if not isinstance(data, list) or rows < 1 or rows > len(_flatten(data)):
        return 1  # a shape the data does not back (e.g. [10**12, 0]) is logged as one row
    return rows


def _elements(request: dict[str, Any] | None) -> int:
    total = 0
    for tensor in (request or {}).get("inputs") or []:
        if isinstance(tensor, dict):
            data = tensor.get("data")
            total += len(_flatten(data)) if isinstance(data, list) else 1
    return total


def _outputs(response: bytes | None) -> list[dict[str, Any]]:
    if not response:
        return []
    try:
        doc = json.loads(response)
    except ValueError:
        return []
    outs = doc.get("outputs") if isinstance(doc, dict) else None
    return [o for o in outs if isinstance(o, dict)] if isinstance(outs, list) else []


def exchange_rows(ex: Exchange) -> list[dict[str, Any]]:
    """The log rows of one exchange: one per instance, base columns plus ``in.*``/``out.*``.

    At most ``MAX_LOG_ROWS`` rows and ``MAX_LOG_ELEMENTS`` input elements per exchange: a larger
    request is logged as its first ``MAX_LOG_ROWS`` rows' base columns without tensor columns when
    its tensors are too large, and every row of it carries ``truncated_rows`` (rows not logged)
    and ``truncated`` (1.0), so a reader knows the log is not the whole request.
    """
    total = _rows_of(ex.request)
    too_wide = _elements(ex.request) > MAX_LOG_ELEMENTS
    n = min(total, MAX_LOG_ROWS)
    columns: dict[str, list[Any]] = {}
    inputs = (ex.request or {}).get("inputs") or []
    for tensor in inputs if not too_wide else ():
        if isinstance(tensor, dict):
            names = ex.features if len(inputs) == 1 and ex.features else None
            columns.update(_tensor_columns(tensor, "in.", total, names, n))
    prediction: list[Any] | None = None
    from_proba = False
    proba: list[Any] | None = None
    for out in _outputs(ex.response) if not too_wide else ():
        name = str(out.get("name", ""))
        shape = [int(s) for s in out.get("shape") or []]
        flat = _flatten(out.get("data"))
        if not shape or shape[0] != total or len(flat) != _prod(shape) or len(flat) > MAX_LOG_ELEMENTS:
            continue
        width = len(flat) // total if total else 0
        if "proba" in name:
            if width == 2:
                proba = flat[1:2 * n:2]
            elif width == 1:
                proba = flat[:n]
            if prediction is None and width > 1:
                prediction = [_argmax(flat[i * width:(i + 1) * width]) for i in range(n)]
                from_proba = True
        elif width == 1 and (prediction is None or from_proba):
            prediction, from_proba = flat[:n], False
        columns.update(_tensor_columns(out, "out.", total, None, n))
    base = {
        "request_id": ex.request_id,
        "ts_ns": ex.ts_ns,
        "model": ex.model,
        "version": ex.version,
        "route": ex.route,
        "latency_ms": float(ex.latency_ms),
        "status": ex.status,
        "error": ex.error,
        "request_key": ex.request_key,
    }
    if n < total or too_wide:
        base["truncated_rows"] = total - n
        base["truncated"] = 1.0
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row = dict(base)
        row["row"] = i
        for col, values in columns.items():
            row[col] = values[i]
        row["prediction"] = prediction[i] if prediction is not None else None
        row["proba"] = proba[i] if proba is not None else None
        rows.append(row)
    return rows


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool)) or isinstance(v, bool)


def _column(values: list[Any]) -> pa.Array:
    """float64 when every value is numeric (or null), else string."""
    if all(_is_number(v) for v in values):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def rows_to_table(rows: list[dict[str, Any]], base: Sequence[tuple[str, pa.DataType]]) -> pa.Table:
    """A table with the ``base`` columns typed as declared, then the other columns in first-seen order."""
    names = [n for n, _ in base]
    extra: dict[str, None] = {}
    for r in rows:
        for k in r:
            if k not in extra and k not in names:
                extra[k] = None
    arrays: list[pa.Array] = [pa.array([r.get(n) for r in rows], type=t) for n, t in base]
    ordered = sorted(extra, key=lambda k: (not k.startswith("in."), not k.startswith("out."),
                                           k not in ("prediction", "proba")))
    for k in ordered:
        values = [r.get(k) for r in rows]
        arrays.append(pa.array(values, type=pa.float64()) if k == "proba" else _column(values))
    return pa.Table.from_arrays(arrays, names=names + ordered)


# -- the writer -------------------------------------------------------------------------------------


class PredictionLog:
    """Non-blocking, sampled, append-only Parquet writer (one background thread).

    ``sample_rate`` is the share of requests logged (all rows of a request, and its
    shadow call, together); feedback is never sampled.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        sample_rate: float = 1.0,
        flush_rows: int = 5000,
        flush_interval_s: float = 2.0,
        max_queue: int = 20000,
        max_queue_bytes: int = MAX_QUEUE_BYTES,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample rate must be between 0 and 1, got {sample_rate}")
        self.log_dir = Path(log_dir)
        self.sample_rate = sample_rate
        self.flush_rows = max(1, flush_rows)
        self.flush_interval_s = flush_interval_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self.max_queue_bytes = max_queue_bytes
        self._queued_bytes = 0
        self._thread: threading.Thread | None = None
        self._buffers: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.dropped = 0
        self.rows_written = 0
        self.parts_written = 0
        self.errors = 0
        self.last_error: str | None = None

    # request path ------------------------------------------------------------------------------
    def sampled(self) -> bool:
        """Whether the next request should be logged (decide once per request)."""
        return self.sample_rate >= 1.0 or random.random() < self.sample_rate

    def log_exchange(self, exchange: Exchange) -> bool:
        """Queue one exchange; ``False`` (and counted) when the queue is full. Never blocks."""
        size = max(exchange.size, 0)
        with self._lock:
            if self._queued_bytes + size > self.max_queue_bytes:
                self.dropped += 1
                return False
            self._queued_bytes += size
        if not self._put(("pred", exchange)):
            with self._lock:
                self._queued_bytes -= size
            return False
        return True

    def log_feedback(self, items: Iterable[Feedback]) -> bool:
        """Queue ground-truth labels; ``False`` when the queue is full."""
        return self._put(("feedback", list(items)))

    def _put(self, item: Any) -> bool:
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            with self._lock:
                self.dropped += 1
            return False

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> PredictionLog:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="govops-predlog", daemon=True)
            self._thread.start()
        return self

    def flush(self, timeout_s: float = 30.0) -> None:
        """Write everything queued so far (blocks the caller until done)."""
        if self._thread is None:
            self._drain_all()
            return
        done = threading.Event()
        self._queue.put(("flush", done), timeout=timeout_s)
        done.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush and stop the writer thread."""
        if self._thread is None:
            self._drain_all()
            return
        self._queue.put(("stop", None), timeout=timeout_s)
        self._thread.join(timeout_s)
        self._thread = None

    # writer thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_interval_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            if item is not None:
                kind, payload = item
                if kind == "stop":
                    self._write_all()
                    return
                if kind == "flush":
                    self._write_all()
                    payload.set()
                    continue
                self._take(kind, payload)
            if time.monotonic() >= deadline:
                self._write_all()
                deadline = time.monotonic() + self.flush_interval_s

    def _drain_all(self) -> None:
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind in ("pred", "feedback"):
                self._take(kind, payload)
            elif kind == "flush":
                payload.set()
        self._write_all()

    def _take(self, kind: str, payload: Any) -> None:
        try:
            if kind == "pred":
                ex: Exchange = payload
                with self._lock:
                    self._queued_bytes -= max(ex.size, 0)
                key = ("predictions", ex.model, _date_of(ex.ts_ns))
                buf = self._buffers.setdefault(key, [])
                buf.extend(exchange_rows(ex))
            else:
                for fb in payload:
                    key = ("feedback", fb.model, _date_of(fb.ts_ns))
                    buf = self._buffers.setdefault(key, [])
                    buf.append({"request_id": fb.request_id, "row": fb.row, "ts_ns": fb.ts_ns, "label": fb.label})
            if len(buf) >= self.flush_rows:
                self._write(key)
        except Exception as exc:  # noqa: BLE001 - a bad record must never stop the writer
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"

    def _write_all(self) -> None:
        for key in list(self._buffers):
            self._write(key)

    def _write(self, key: tuple[str, str, str]) -> None:
        rows = self._buffers.pop(key, [])
        if not rows:
            return
        kind, model, date = key
        try:
            table = rows_to_table(rows, BASE_COLUMNS if kind == "predictions" else FEEDBACK_COLUMNS)
            folder = self.log_dir
            for part in (kind, f"model={partition_name(model)}", f"date={date}"):
                private_dir(folder)  # 0700 all the way down: the log holds callers' inputs
                folder = folder / part
            private_dir(folder)
            name = f"part-{time.time_ns()}-{next(_SEQ):06d}.parquet"
            tmp = folder / f".{name}.tmp"
            with os.fdopen(open_private(tmp), "wb") as fh:  # created 0600, never with the umask's mode
                pq.write_table(table, fh)
            os.replace(tmp, folder / name)
            self.rows_written += len(rows) if kind == "predictions" else 0
            self.parts_written += 1
        except Exception as exc:  # noqa: BLE001 - a full disk must not kill the gateway
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"

    def stats(self) -> dict[str, Any]:
        """Counters for ``/metrics`` and the gateway's state file."""
        return {
            "queued": self._queue.qsize(),
            "dropped": self.dropped,
            "rows_written": self.rows_written,
            "parts_written": self.parts_written,
            "errors": self.errors,
            "last_error": self.last_error,
        }


# -- reading -------------------------------------------------------------------------------------------


def _parts(log_dir: Path, kind: str, model: str, since_ns: int, until_ns: int) -> list[Path]:
    folder = Path(log_dir) / kind / f"model={partition_name(model)}"
    if not folder.is_dir():
        return []
    first, last = _date_of(since_ns), _date_of(max(since_ns, until_ns - 1))
    files: list[Path] = []
    for day in sorted(folder.glob("date=*")):
        date = day.name.split("=", 1)[1]
        if first <= date <= last:
            files.extend(sorted(p for p in day.glob("part-*.parquet")))
    return files


def _read(files: list[Path], base: Sequence[tuple[str, pa.DataType]], since_ns: int, until_ns: int) -> pa.Table:
    if not files:
        return pa.schema(list(base)).empty_table()
    schemas = [pq.read_schema(f) for f in files]
    try:
        schema = pa.unify_schemas(schemas)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # a column logged as float in one part and string in another: read it as string
        merged: dict[str, pa.DataType] = {}
        for s in schemas:
            for f in s:
                merged[f.name] = f.type if merged.get(f.name, f.type) == f.type else pa.string()
        schema = pa.schema(list(merged.items()))
    dataset = pads.dataset([str(f) for f in files], schema=schema, format="parquet")
    ts = pads.field("ts_ns")
    return dataset.to_table(filter=(ts >= since_ns) & (ts < until_ns))


def read_window(log_dir: Path, model: str, since_ns: int, until_ns: int) -> pa.Table:
    """Prediction rows of ``model`` (``tenant/name``) with ``since_ns <= ts_ns < until_ns``."""
    return _read(_parts(log_dir, "predictions", model, since_ns, until_ns), BASE_COLUMNS, since_ns, until_ns)


def read_feedback(log_dir: Path, model: str, since_ns: int, until_ns: int) -> pa.Table:
    """Feedback rows of ``model`` with ``since_ns <= ts_ns < until_ns``."""
    base = (*FEEDBACK_COLUMNS, ("label", pa.float64()))
    return _read(_parts(log_dir, "feedback", model, since_ns, until_ns), base, since_ns, until_ns)


def join_feedback(predictions: pa.Table, feedback: pa.Table) -> pa.Table:
    """Predictions with a ``label`` column: the latest feedback for the same ``(request_id, row)``."""
    if feedback.num_rows == 0:
        return predictions.append_column("label", pa.nulls(predictions.num_rows, pa.float64()))
    latest = feedback.sort_by([("ts_ns", "descending")])
    seen: set[tuple[str, int]] = set()
    keep: list[int] = []
    for i, (rid, row) in enumerate(zip(latest.column("request_id").to_pylist(),
                                       latest.column("row").to_pylist(), strict=True)):
        if (rid, row) not in seen:
            seen.add((rid, row))
            keep.append(i)
    labels = latest.take(pa.array(keep, type=pa.int64())).select(["request_id", "row", "label"])
    return predictions.join(labels, keys=["request_id", "row"], join_type="left outer")
