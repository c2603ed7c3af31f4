"""A window of served predictions as columns, with feedback joined by request id (monitoring stage).

Shadow rows are dropped (their answers never reached a caller); everything else the
gateway logged in the window stays. Columns are converted to numpy once and cached.
Feedback joins on ``(request_id, row)``; the last label given for a row wins.
This module never writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class Window:
    """The served rows of one model over ``[since_ns, until_ns)``."""

    model: str
    since_ns: int
    until_ns: int
    table: pa.Table | None
    feedback: pa.Table | None = None
    _cache: dict[str, np.ndarray] = field(default_factory=dict)
    _labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.table is not None and "route" in self.table.column_names:
            self.table = self.table.filter(pc.not_equal(self.table["route"], "shadow"))

    @property
    def rows(self) -> int:
        """Served rows in the window."""
        return 0 if self.table is None else self.table.num_rows

    @property
    def seconds(self) -> float:
        """Length of the window in seconds."""
        return max((self.until_ns - self.since_ns) / 1e9, 1e-9)

    def has(self, name: str) -> bool:
        """True if the log has this column."""
        return self.table is not None and name in self.table.column_names

    def columns(self) -> list[str]:
        """The logged column names."""
        return [] if self.table is None else list(self.table.column_names)

    def column(self, name: str) -> np.ndarray:
        """A column as numpy: float64 (nulls as NaN) for numbers, object (nulls as None) otherwise."""
        if name in self._cache:
            return self._cache[name]
        if self.table is None or name not in self.table.column_names:
            raise KeyError(name)
        col = self.table[name]
        t = col.type
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t):
            arr = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False) \
                if col.null_count == 0 else pc.fill_null(pc.cast(col, pa.float64()), np.nan).to_numpy()
        else:
            arr = np.asarray(col.to_pylist(), dtype=object)
        self._cache[name] = arr
        return arr

    def labels(self) -> np.ndarray | None:
        """Feedback labels aligned to the window's rows (object array, ``None`` where none arrived)."""
        if self._labels is not None:
            return self._labels
        if self.feedback is None or self.feedback.num_rows == 0 or self.table is None:
            return None
        fb = self.feedback.to_pandas()
        fb = fb.sort_values("ts_ns").drop_duplicates(["request_id", "row"], keep="last")
        keys = self.table.select(["request_id", "row"]).to_pandas()
        merged = keys.merge(fb[["request_id", "row", "label"]], on=["request_id", "row"], how="left")
        lab = merged["label"].to_numpy(dtype=object)
        lab[np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in lab], dtype=bool)] = None
        self._labels = lab
        return lab
