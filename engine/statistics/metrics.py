"""Model quality metrics shared by several checks (performance, champion, fit, backtest, bias).

Foundation (see :mod:`engine.statistics`: the checks and the performance monitoring kind share it),
a pure function library: arrays in, numbers out. scikit-learn computes
every value (so the numbers are the ones people cross-check against); a metric that is
undefined on the given rows (ROC AUC with one class) is ``None``, never an exception.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

CLASSIFICATION = ("accuracy", "roc_auc", "f1", "log_loss")
REGRESSION = ("rmse", "mae", "r2")
HIGHER_IS_BETTER = {"accuracy": True, "roc_auc": True, "f1": True, "log_loss": False,
                    "rmse": False, "mae": False, "r2": True}


def primary_metric(task: str) -> str:
    """The metric slices, fit, champion and backtests compare: accuracy (classification), R^2 (regression)."""
    return "accuracy" if task == "classification" else "r2"


def positive_index(classes: np.ndarray, positive: Any) -> int | None:
    """Index of the positive class among ``classes`` (binary only); the larger label when not declared."""
    if len(classes) != 2:
        if positive is None:
            return None
        for i, c in enumerate(classes):
            if str(c) == str(positive):
                return i
        return None
    if positive is None:
        return 1
    for i, c in enumerate(classes):
        if str(c) == str(positive):
            return i
    return None


def _safe(fn: Any, *args: Any, **kwargs: Any) -> float | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(fn(*args, **kwargs))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def classification_metrics(
    y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray, positive: Any = None
) -> dict[str, float | None]:
    """accuracy, ROC AUC, F1 (binary: the positive class; multiclass: macro) and log loss."""
    from sklearn import metrics as skm

    y = _align(y, classes)
    out: dict[str, float | None] = {"accuracy": _safe(skm.accuracy_score, y, pred)}
    binary = len(classes) == 2
    pos = positive_index(classes, positive) if binary else None
    if binary and pos is not None:
        out["f1"] = _safe(skm.f1_score, y, pred, pos_label=classes[pos], average="binary", zero_division=0)
    else:
        out["f1"] = _safe(skm.f1_score, y, pred, average="macro", labels=classes, zero_division=0)
    if proba is not None and len(np.unique(y)) > 1:
        if binary and pos is not None:
            out["roc_auc"] = _safe(skm.roc_auc_score, y == classes[pos], proba[:, pos])
        elif not binary and set(np.unique(y)) <= set(classes):
            out["roc_auc"] = _safe(skm.roc_auc_score, y, proba, multi_class="ovr", labels=classes)
        else:
            out["roc_auc"] = None
        out["log_loss"] = _safe(skm.log_loss, y, proba, labels=classes)
    else:
        out["roc_auc"] = None
        out["log_loss"] = (
            _safe(skm.log_loss, y, proba, labels=classes) if proba is not None else None
        )
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """RMSE, MAE and R^2."""
    from sklearn import metrics as skm

    y = np.asarray(y, dtype=float)
    out: dict[str, float | None] = {
        "rmse": _safe(lambda a, b: math.sqrt(skm.mean_squared_error(a, b)), y, pred),
        "mae": _safe(skm.mean_absolute_error, y, pred),
        "r2": _safe(skm.r2_score, y, pred) if len(y) >= 2 else None,
    }
    return out


def _align(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Labels read from CSV in the dtype of the model's classes (``'1'`` vs ``1``)."""
    if len(y) == 0 or classes.dtype == y.dtype:
        return y
    try:
        return np.asarray(y).astype(classes.dtype)
    except (TypeError, ValueError):
        return np.asarray(y)


def align_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Public form of the label alignment used by checks."""
    return _align(y, classes)


def model_metrics(task: str, model: Any, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None,
                  positive: Any = None) -> dict[str, float | None]:
    """The task's metric set for these predictions."""
    if task == "classification":
        classes = np.asarray(getattr(model, "classes_", np.unique(np.concatenate([np.unique(y), np.unique(pred)]))))
        return classification_metrics(y, pred, proba, classes, positive)
    return regression_metrics(y, pred)
