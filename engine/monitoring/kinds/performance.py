"""Performance: the task's metrics on the window's rows that have feedback (joined by request id).

The metric functions are the validation checks' (``engine.statistics.metrics``), so a monitored
accuracy or RMSE is computed exactly as at validation. Fewer than ``MIN_FEEDBACK_ROWS``
labelled rows: values are reported as missing, never judged. With enough labelled rows, a
bounded metric that cannot be computed (ROC AUC without logged probabilities, one class of
labels) fails closed with the reason.
"""

from __future__ import annotations

import numpy as np

from engine.monitoring.kinds.base import MIN_FEEDBACK_ROWS, KindContext
from engine.monitoring.measure import Measured, bounded
from engine.statistics.metrics import CLASSIFICATION, REGRESSION, classification_metrics, regression_metrics
from engine.statistics.sketch import row_keys


def measure(ctx: KindContext) -> list[Measured]:
    """Task metrics on labelled rows."""
    t = ctx.thresholds.performance
    names = CLASSIFICATION if ctx.spec.spec.task == "classification" else REGRESSION
    labels = ctx.window.labels()
    labelled = np.array([x is not None for x in labels], dtype=bool) if labels is not None else None
    n = int(labelled.sum()) if labelled is not None else 0
    if labels is None or labelled is None or n < MIN_FEEDBACK_ROWS or not ctx.window.has("prediction"):
        note = f"{n} row(s) with feedback (< {MIN_FEEDBACK_ROWS}): not judged"
        return [bounded("performance", m, None, t, not_judged=note) for m in names
                if f"min_{m}" in t or f"max_{m}" in t]
    y = labels[labelled]
    pred = ctx.window.column("prediction")[labelled]
    if ctx.spec.spec.task == "regression":
        values = regression_metrics(np.asarray(y, dtype=float), np.asarray(pred, dtype=float))
    else:
        yk, pk = row_keys(y), row_keys(pred)
        classes = np.array(sorted(set(yk) | set(pk)), dtype=object)
        proba2 = None
        if ctx.window.has("proba") and len(classes) == 2:
            p = ctx.window.column("proba")[labelled]
            pos = ctx.positive_key()
            if pos in set(classes) and not np.isnan(p).any():
                idx = int(np.flatnonzero(classes == pos)[0])
                proba2 = np.empty((len(p), 2))
                proba2[:, idx], proba2[:, 1 - idx] = p, 1 - p
        values = classification_metrics(yk, pk, proba2, classes, ctx.positive_key())
    ctx.details["performance"] = {"labelled_rows": n, **values}
    proba = ctx.window.column("proba")[labelled] if ctx.window.has("proba") else None
    return [bounded("performance", m, values.get(m), t,
                    why=_why(m, y, proba, ctx) if values.get(m) is None else None) for m in names]


def _why(metric: str, y: np.ndarray, proba: np.ndarray | None, ctx: KindContext) -> str:
    """Why ``metric`` has no value on the labelled rows (only read when it has none)."""
    classes = set(row_keys(y).tolist()) if ctx.spec.spec.task == "classification" else set()
    if metric in ("roc_auc", "log_loss"):
        if not ctx.window.has("proba"):
            return "the prediction log holds no probabilities (proba column)"
        if proba is not None and np.isnan(np.asarray(proba, dtype=float)).any():
            return "the prediction log lacks a probability on some labelled rows (a model without predict_proba)"
        if len(classes) < 2:
            return f"the labelled rows hold one class only ({', '.join(map(str, classes))})"
        return (f"the prediction log keeps one probability per row: {metric} needs a binary model whose positive "
                f"class is among the labels (labels and predictions hold {len(classes)} class(es))")
    return f"{metric} is undefined on these {len(y)} labelled row(s)"
