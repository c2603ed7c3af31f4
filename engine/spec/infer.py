"""Infer a spec's interface from a data file: column types, categories, bounds and the label's classes.

Spec stage, used by ``govops new``. What it infers is a first draft a person reviews, so the
rules are few and written down here (README repeats them):

* ``bool`` columns are ``boolean``; text columns are ``category`` with their sorted values
  (``string`` past ``MAX_TEXT_CATEGORIES`` distinct values);
* numeric columns whose values are all whole numbers with at most ``MAX_CODES`` distinct values
  are ``category`` with those codes (a sex code 1/2, a grade 0-4); other integer columns are
  ``integer``, the rest ``float``;
* numeric bounds are the observed range widened by ``MARGIN`` of its width on each side (never
  below 0 for a column that is never negative), rounded outwards to a readable step, so the
  first rows outside the training range are caught by the data-quality check, not every row;
* a column with missing values is ``nullable``;
* the label decides the task when none is given: text, booleans and whole numbers with at most
  ``MAX_CLASSES`` distinct values make a classification (the classes become the output's
  categories), anything else a regression (the output gets bounds like an input).

It never loads a model: artifacts are code (pickle), and ``govops new`` runs on a laptop.
pandas is imported by the function that reads the table, not at import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.spec.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

MAX_CODES = 10
MAX_TEXT_CATEGORIES = 50
MAX_CLASSES = 20
MARGIN = 0.1
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


@dataclass
class InferredInterface:
    """The interface drafted from a table: features as spec mappings (YAML field names), and the task."""

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    task: str
    rows: int
    classes: list[Any] = field(default_factory=list)


def read_table(path: Path, shown: str) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; an ``InputError`` naming the file when it cannot be read."""
    import pandas as pd

    lower = path.name.lower()
    if not lower.endswith(TABLE_SUFFIXES):
        raise InputError(f"cannot tell the format of {shown}; name it .csv or .parquet", file=shown)
    try:
        frame = pd.read_parquet(path) if lower.endswith((".parquet", ".pq")) else pd.read_csv(path)
    except Exception as exc:  # parser errors differ between engines; any of them is bad input
        raise InputError(f"cannot read {shown} as a table: {type(exc).__name__}: {exc}", file=shown) from None
    if frame.empty or len(frame.columns) == 0:
        raise InputError(f"{shown} holds no rows", file=shown)
    return frame


def infer_interface(
    frame: pd.DataFrame, label: str, *, task: str | None = None, shown: str = "data"
) -> InferredInterface:
    """The interface of a model trained on ``frame`` to predict ``label`` (every other column is an input)."""
    columns = [str(c) for c in frame.columns]
    if label not in columns:
        from engine.spec.schema_errors import suggest

        raise InputError(
            f"label column '{label}' is not in {shown}{suggest(label, set(columns))}; columns: {', '.join(columns)}",
            file=shown,
        )
    inputs = [feature(str(name), frame[name]) for name in frame.columns if str(name) != label]
    if not inputs:
        raise InputError(f"{shown} has no column besides the label '{label}': nothing to feed the model", file=shown)
    target = frame[label]
    task = task or ("classification" if _is_classes(target) else "regression")
    if task == "classification":
        classes = sorted(_plain(v) for v in target.dropna().unique())
        output: dict[str, Any] = {"name": label, "type": _class_type(target), "categories": classes}
        return InferredInterface(inputs, [output], task, len(frame), classes)
    if not _numeric(target):
        raise InputError(f"label '{label}' in {shown} is not numeric; a regression needs a numeric label", file=shown)
    output = {"name": label, "type": "float", **_bounds(target, integer=False)}
    return InferredInterface(inputs, [output], task, len(frame))


def feature(name: str, column: pd.Series) -> dict[str, Any]:
    """One input's spec mapping (``name``, ``type`` and, where they apply, bounds, categories, ``nullable``)."""
    values = column.dropna()
    out: dict[str, Any] = {"name": name}
    if column.dtype == bool or (len(values) and values.map(type).eq(bool).all()):
        out["type"] = "boolean"
    elif not _numeric(column):
        distinct = sorted(str(v) for v in values.unique())
        if len(distinct) <= MAX_TEXT_CATEGORIES:
            out.update(type="category", categories=distinct)
        else:
            out["type"] = "string"
    elif _whole(values) and values.nunique() <= MAX_CODES:
        out.update(type="category", categories=sorted(int(v) for v in values.unique()))
    elif _whole(values) and column.dtype.kind in "iu":
        out.update(type="integer", **_bounds(values, integer=True))
    else:
        out.update(type="float", **_bounds(values, integer=False))
    if column.isna().any():
        out["nullable"] = True
    return out


def _numeric(column: pd.Series) -> bool:
    return column.dtype.kind in "iuf"


def _whole(values: pd.Series) -> bool:
    if values.dtype.kind in "iu":
        return True
    if values.dtype.kind != "f" or values.empty:
        return False
    import numpy as np

    arr = values.to_numpy(dtype=float)
    return bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))


def _is_classes(target: pd.Series) -> bool:
    values = target.dropna()
    if not _numeric(target):
        return True
    return _whole(values) and values.nunique() <= MAX_CLASSES


def _class_type(target: pd.Series) -> str:
    if target.dtype == bool:
        return "boolean"
    return "integer" if _numeric(target) else "category"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value YAML and JSON write (a whole float class as an int)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, bool | int | float) else str(value)


def _bounds(values: pd.Series, *, integer: bool) -> dict[str, float | int]:
    """``min``/``max``: the observed range widened by ``MARGIN`` each side, rounded outwards to a readable step."""
    values = values.dropna()
    if values.empty:
        return {}
    lo, hi = float(values.min()), float(values.max())
    width = hi - lo or abs(hi) or 1.0
    margin = width * MARGIN
    low, high = lo - margin, hi + margin
    if lo >= 0 > low:
        low = 0.0
    step = 10.0 ** math.floor(math.log10(width + 2 * margin)) / 10
    if integer:
        step = max(step, 1.0)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    return {"min": _number(low, step), "max": _number(high, step)}


def _number(value: float, step: float) -> float | int:
    """``value`` without float noise (``0.30000000000000004`` -> ``0.3``); whole values as ints."""
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() else rounded
