"""Helpers shared by checks: scoring a model on a table, slicing a column into groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.statistics.metrics import align_labels, model_metrics, primary_metric
from runners.base import CheckContext

DEFAULT_MIN_ROWS = 10


@dataclass
class Scored:
    """A model's predictions on a table, with the labels and the task's metrics."""

    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None
    metrics: dict[str, float | None]
    classes: np.ndarray | None


def score(ctx: CheckContext, model: Any, frame: pd.DataFrame, where: str, who: str = "candidate") -> Scored:
    """Predict on ``frame`` and compute the task's metrics."""
    x = ctx.x(frame, where)
    y = ctx.y(frame, where)
    pred = ctx.predict(model, x, who)
    proba = ctx.predict_proba(model, x, who)
    classes = np.asarray(model.classes_) if hasattr(model, "classes_") else None
    if classes is not None:
        y = align_labels(y, classes)
    positive = ctx.validation().positive_class
    return Scored(y, pred, proba, model_metrics(ctx.task, model, y, pred, proba, positive), classes)


def subset_metrics(ctx: CheckContext, s: Scored, mask: np.ndarray, model: Any) -> dict[str, float | None]:
    """The task's metrics on the rows selected by ``mask``."""
    proba = s.proba[mask] if s.proba is not None else None
    return model_metrics(ctx.task, model, s.y[mask], s.pred[mask], proba, ctx.validation().positive_class)


def why_undefined(metric: str, y: np.ndarray, proba: np.ndarray | None, classes: np.ndarray | None,
                  positive: Any = None) -> str:
    """Why ``metric`` has no value on these rows: the sentence a failed-closed threshold reports."""
    from engine.statistics.metrics import positive_index

    labels = np.unique(y) if len(y) else np.array([])
    if len(y) == 0:
        return "there are no rows"
    if metric in ("roc_auc", "log_loss") and proba is None:
        return "the model gives no probabilities (it has no predict_proba)"
    if metric == "roc_auc" and len(labels) < 2:
        return f"the labels hold one class only ({_label(labels[0])})"
    if metric in ("roc_auc", "log_loss") and classes is not None and len(classes) == 2 and \
            positive_index(classes, positive) is None:
        return f"validation.positiveClass {positive!r} is not one of the model's classes"
    if metric == "r2" and len(y) < 2:
        return "R^2 needs at least 2 rows"
    return f"{metric} is undefined on these {len(y)} row(s)"


def primary(ctx: CheckContext) -> str:
    """The task's primary metric name."""
    return primary_metric(ctx.task)


def groups_of(column: pd.Series, max_values: int = 10) -> list[tuple[str, np.ndarray]]:
    """``(label, mask)`` per value; numeric columns with many values are cut into quartiles."""
    values = column.dropna().unique()
    out: list[tuple[str, np.ndarray]] = []
    if pd.api.types.is_numeric_dtype(column) and len(values) > max_values:
        bins = pd.qcut(column, 4, duplicates="drop")
        for interval in bins.cat.categories:
            out.append((str(interval), (bins == interval).to_numpy()))
    else:
        for v in sorted(values, key=lambda a: (str(type(a)), a)):
            out.append((_label(v), (column == v).to_numpy()))
    if column.isna().any():
        out.append(("<missing>", column.isna().to_numpy()))
    return out


def _label(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
