"""Reading the data and models a check uses, verified against their pinned sha256.

Validation stage, input side. A file is read once into memory, hashed, and only those
verified bytes are parsed, so what was hashed is what is used. This module must never
load a model whose digest is missing or does not match the spec, and never loads one
in this process at all: a pickle runs code when loaded, so models are loaded and called only
in the sandboxed prediction workers of :mod:`runners.model_worker`. Data may come from a
repository-relative path, ``file://``, or ``s3://``/``gs://`` through fsspec when it is installed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.spec.check_result import InputRef
from engine.spec.errors import CheckError, RefusedInput
from engine.spec.limits import LimitError, human, max_data_bytes, read_capped
from engine.spec.model import DataRef
from engine.spec.uris import REMOTE_SCHEMES, local_path, locate_uri, uri_problem
from runners.model_worker import FORMATS as MODEL_FORMATS
from runners.model_worker import ModelWorkerError, RemoteModel


@dataclass
class Loaded:
    """Verified bytes of one file and their digest."""

    uri: str
    sha256: str
    raw: bytes


def read_bytes(uri: str, root: Path, max_bytes: int | None = None) -> bytes:
    """The bytes a URI names (local, ``file://``, or object storage through fsspec), at most ``max_bytes``.

    Only regular files are read, with a bounded read: a device (``file:///dev/zero``), a
    FIFO or a socket is refused before any byte is read, and a file larger than the cap
    (``limits.maxDataBytes`` in govops.yaml, ``GOVOPS_MAX_DATA_BYTES``) is refused.
    """
    cap = max_data_bytes() if max_bytes is None else max_bytes
    problem = uri_problem(uri, root)
    if problem:
        raise CheckError(problem)
    path = local_path(uri, root)
    if path is None:
        scheme = uri.split("://", 1)[0]
        try:
            import fsspec
        except ImportError:
            raise CheckError(
                f"reading {uri} needs fsspec and its {scheme} backend "
                f"({'s3fs' if scheme == 's3' else 'gcsfs'}): pip install fsspec "
                f"{'s3fs' if scheme == 's3' else 'gcsfs'}"
            ) from None
        try:
            with fsspec.open(uri, "rb") as fh:
                raw = bytes(fh.read(cap + 1))
        except Exception as exc:  # backend errors vary by scheme
            raise CheckError(f"cannot read {uri}: {type(exc).__name__}: {exc}") from exc
        if len(raw) > cap:
            raise RefusedInput(f"{uri}: it holds more than the {human(cap)} limit (raise limits.maxDataBytes)")
        return raw
    try:
        return read_capped(path, cap, uri)
    except LimitError as exc:
        raise RefusedInput(f"refusing to read {exc.message}") from None
    except FileNotFoundError:
        raise CheckError(f"{uri}: no such file") from None
    except IsADirectoryError:
        raise CheckError(f"{uri} is a directory, expected a file") from None
    except OSError as exc:
        raise CheckError(f"cannot read {uri}: {exc.strerror or exc}") from exc


def fetch(ref: DataRef, root: Path, role: str, *, require_digest: bool, max_bytes: int | None = None) -> Loaded:
    """Read and verify one file. Raises :class:`CheckError` on a missing file or a digest mismatch."""
    raw = read_bytes(ref.uri, root, max_bytes)
    actual = hashlib.sha256(raw).hexdigest()
    if ref.sha256 is None and require_digest:
        raise CheckError(
            f"{role} {ref.uri} has no sha256 in the spec; refusing to load it "
            f"(its digest is {actual}: pin it in the spec)"
        )
    if ref.sha256 is not None and ref.sha256 != actual:
        raise CheckError(
            f"digest mismatch for {role} {ref.uri}: the spec pins sha256 {ref.sha256}, "
            f"the file has {actual}; refusing to use it"
        )
    return Loaded(ref.uri, actual, raw)


def _format(ref: DataRef) -> str:
    if ref.format:
        return ref.format
    lower = ref.uri.lower().split("?", 1)[0]
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".csv.gz")):
        return "csv"
    if lower.endswith((".joblib", ".pkl", ".pickle")):
        return "joblib"
    if lower.endswith(".skops"):
        return "skops"
    raise CheckError(f"cannot tell the format of {ref.uri}; name it .csv or .parquet, or set format in the spec")


def parse_table(loaded: Loaded, fmt: str) -> pd.DataFrame:
    """Parse verified bytes as a CSV or Parquet table."""
    try:
        if fmt == "csv":
            frame = pd.read_csv(io.BytesIO(loaded.raw))
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(loaded.raw))
            frame = table.to_pandas(self_destruct=True)
            del table
            pa.default_memory_pool().release_unused()  # do not keep the Arrow copy resident
        else:
            raise CheckError(f"{loaded.uri}: format '{fmt}' is not a table (csv or parquet)")
    except CheckError:
        raise
    except Exception as exc:  # parser errors differ between engines
        raise CheckError(f"cannot parse {loaded.uri} as {fmt}: {type(exc).__name__}: {exc}") from exc
    if frame.empty:
        raise CheckError(f"{loaded.uri} holds no rows")
    return frame


def load_model_bytes(loaded: Loaded, fmt: str = "joblib") -> RemoteModel:
    """The model in a sandboxed prediction worker (never in this process).

    Only ever called on bytes whose digest matched the spec; the worker gets those bytes.
    """
    try:
        return RemoteModel(loaded.raw, fmt, loaded.uri)
    except ModelWorkerError as exc:
        raise CheckError(f"cannot load model {loaded.uri}: {exc}") from exc


@dataclass
class DataLoader:
    """Loads the spec's data and models once, verifying digests, and records every input read."""

    root: Path
    inputs: list[InputRef] = field(default_factory=list)
    max_bytes: int | None = None
    """Cap on each file read (default: ``GOVOPS_MAX_DATA_BYTES`` or 2 GiB); see :meth:`configure`."""
    spec_file: Path | None = None
    """The spec the URIs come from, so a refused read names its ``file:line:col``."""
    _tables: dict[tuple[str, str | None], pd.DataFrame] = field(default_factory=dict)
    _models: dict[tuple[str, str | None], RemoteModel] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    def table(self, ref: DataRef, role: str) -> pd.DataFrame:
        """A CSV/Parquet table, verified (digest optional for data, recorded either way)."""
        key = (ref.uri, ref.sha256)
        if key not in self._tables:
            fmt = _format(ref)
            loaded = self._fetch(ref, role, require_digest=False)
            self._tables[key] = parse_table(loaded, fmt)
            self._record(role, loaded)
        return self._tables[key]

    def model(self, ref: DataRef, role: str, runtime: str) -> RemoteModel:
        """A model artifact: digest required and verified *before* a worker loads it."""
        key = (ref.uri, ref.sha256)
        if key not in self._models:
            if not runtime.startswith("mlserver_sklearn."):
                raise CheckError(
                    f"runtime {runtime} is not supported by the validation runners "
                    "(supported: mlserver_sklearn.SKLearnModel, loaded with joblib or skops)"
                )
            fmt = _format(ref)
            if fmt not in MODEL_FORMATS:
                raise CheckError(f"{ref.uri}: format '{fmt}' cannot be loaded by {runtime}")
            loaded = self._fetch(ref, role, require_digest=True)
            self._models[key] = load_model_bytes(loaded, fmt)
            self._record(role, loaded)
        return self._models[key]

    def configure(self, config: Any, spec_file: str | Path | None) -> None:
        """Take the read cap from govops.yaml (``limits.maxDataBytes``) and remember the spec's file."""
        self.max_bytes = max_data_bytes(config)
        if spec_file is not None:
            path = Path(spec_file)
            self.spec_file = path if path.is_absolute() else self.root / path

    def _fetch(self, ref: DataRef, role: str, *, require_digest: bool) -> Loaded:
        try:
            return fetch(ref, self.root, role, require_digest=require_digest, max_bytes=self.max_bytes)
        except RefusedInput as exc:
            where = locate_uri(self.spec_file, self.root, ref.uri) if self.spec_file is not None else None
            if where is None:
                raise
            raise RefusedInput(f"{where}: {role}: {exc}") from None

    def close(self) -> None:
        """Stop the prediction workers of every model loaded (they also die with this process)."""
        for model in self._models.values():
            model.close()
        self._models.clear()

    def _record(self, role: str, loaded: Loaded) -> None:
        self.digests[loaded.uri] = loaded.sha256
        if not any(i.role == role and i.uri == loaded.uri for i in self.inputs):
            self.inputs.append(InputRef(role, loaded.uri, loaded.sha256))


def feature_matrix(frame: pd.DataFrame, columns: list[str], where: str) -> np.ndarray:
    """The model's input matrix: these columns in this order, as float (what the models were trained on)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CheckError(f"{where} lacks model input column(s): {', '.join(missing)}")
    try:
        x = frame[columns].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise CheckError(f"{where}: model inputs are not numeric: {exc}") from exc
    all_nan = [c for i, c in enumerate(columns) if len(x) and np.isnan(x[:, i]).all()]
    if all_nan:
        raise CheckError(f"{where}: column(s) {', '.join(all_nan)} hold no values (all missing)")
    if np.isnan(x).any():
        bad = [c for i, c in enumerate(columns) if np.isnan(x[:, i]).any()]
        raise CheckError(
            f"{where}: missing values in model input column(s) {', '.join(bad)}; "
            "the model cannot score them (see the data_quality check)"
        )
    return x


def label_vector(frame: pd.DataFrame, label: str, where: str) -> np.ndarray:
    """The label column; absent or missing labels are errors."""
    if label not in frame.columns:
        raise CheckError(f"{where} has no label column '{label}' (columns: {', '.join(map(str, frame.columns))})")
    y = frame[label]
    if y.isna().any():
        raise CheckError(f"{where}: {int(y.isna().sum())} row(s) have no label '{label}'")
    return y.to_numpy()


__all__ = ["REMOTE_SCHEMES", "CheckError", "DataLoader", "feature_matrix", "label_vector"]
