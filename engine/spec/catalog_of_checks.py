"""The names govops knows: validation checks, their thresholds, and monitoring metrics.

Specs and ``govops.yaml`` refer to checks and thresholds by name. Each check's thresholds
are defined once, here, as a typed frozen dataclass whose fields carry their meaning: the
checks in ``runners/`` receive them typed (``from_mapping`` refuses names the check does not
know: a typo must never silently disable a control), and ``CHECK_THRESHOLDS`` (derived from
the classes) is what lint validates names against (with a nearest-name suggestion) and what
the policies read to tell a tightened threshold from a loosened one. Threshold names carry
their direction: ``min_*`` is stricter when higher, ``max_*`` is stricter when lower
(:func:`direction`; ``policies/lib.rego`` reads the same prefix).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeVar

from engine.spec.errors import InputError

Direction = Literal["min", "max"]


def _threshold(meaning: str) -> Any:
    """A threshold field: optional (``None``: not judged), with its meaning as metadata."""
    return field(default=None, metadata={"meaning": meaning})


T = TypeVar("T", bound="Thresholds")


@dataclass(frozen=True)
class Thresholds:
    """Base of every check's thresholds: all optional floats; ``None`` means not judged."""

    check: ClassVar[str] = ""

    @classmethod
    def from_mapping(cls: type[T], values: dict[str, Any] | None) -> T:
        """Build from ``name -> number``; unknown names and non-numbers are input errors."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(
                f"unknown threshold(s) {', '.join(unknown)} for check '{cls.check}'; "
                f"known: {', '.join(sorted(known)) or 'none'}"
            )
        out: dict[str, float] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"threshold {cls.check}.{name} must be a number, got {value!r}")
            out[name] = float(value)
        return cls(**out)

    def as_dict(self) -> dict[str, float]:
        """The thresholds that are set."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class PerformanceThresholds(Thresholds):
    """``performance``: overall metrics and the worst slice."""

    check: ClassVar[str] = "performance"
    min_accuracy: float | None = _threshold("overall accuracy (classification)")
    min_roc_auc: float | None = _threshold("overall ROC AUC (classification)")
    min_f1: float | None = _threshold("overall F1, macro for multiclass (classification)")
    max_log_loss: float | None = _threshold("overall log loss (classification)")
    max_rmse: float | None = _threshold("overall RMSE (regression)")
    max_mae: float | None = _threshold("overall MAE (regression)")
    min_r2: float | None = _threshold("overall R^2 (regression)")
    max_slice_gap: float | None = _threshold("worst slice's primary metric below overall, absolute")
    min_slice_rows: float | None = _threshold("slices with fewer rows are reported, not judged")


@dataclass(frozen=True)
class ChampionThresholds(Thresholds):
    """``champion``: degradation vs the current champion and prediction shift."""

    check: ClassVar[str] = "champion"
    max_metric_degradation: float | None = _threshold("candidate's primary metric below the champion's, absolute")
    max_prediction_shift: float | None = _threshold("KS statistic between candidate and champion predictions")


@dataclass(frozen=True)
class DriftThresholds(Thresholds):
    """``drift``: per-feature statistics and the share of drifted features."""

    check: ClassVar[str] = "drift"
    max_psi: float | None = _threshold("population stability index per feature")
    max_ks: float | None = _threshold("Kolmogorov-Smirnov statistic per numeric feature")
    max_wasserstein: float | None = _threshold("Wasserstein distance per numeric feature, in reference std units")
    max_js: float | None = _threshold("Jensen-Shannon distance per categorical feature")
    min_p_value: float | None = _threshold("p-value below which a feature counts as drifted (KS / chi-square)")
    max_drifted_share: float | None = _threshold("share of features allowed to drift")


@dataclass(frozen=True)
class BiasThresholds(Thresholds):
    """``bias``: group fairness over each sensitive attribute."""

    check: ClassVar[str] = "bias"
    max_demographic_parity_diff: float | None = _threshold("largest gap in positive rate between groups")
    min_disparate_impact: float | None = _threshold("smallest ratio of positive rates (four-fifths rule: 0.8)")
    max_equalized_odds_diff: float | None = _threshold("largest gap in TPR or FPR between groups")
    min_group_rows: float | None = _threshold("groups with fewer rows are reported, not judged")


@dataclass(frozen=True)
class ImportanceThresholds(Thresholds):
    """``importance``: permutation importance shift vs the champion."""

    check: ClassVar[str] = "importance"
    max_importance_shift: float | None = _threshold("largest change in normalised permutation importance vs champion")


@dataclass(frozen=True)
class ExplainabilityThresholds(Thresholds):
    """``explainability``: evidence first; gates only on the thresholds a tier or spec sets."""

    check: ClassVar[str] = "explainability"
    max_top_feature_share: float | None = _threshold("largest single feature's share of permutation importance")
    max_importance_shift: float | None = _threshold("largest change in a feature's importance share vs champion")
    max_slice_gap: float | None = _threshold("worst slice's primary metric below overall, absolute")


@dataclass(frozen=True)
class RobustnessThresholds(Thresholds):
    """``robustness``: sensitivity to small noise and extreme inputs."""

    check: ClassVar[str] = "robustness"
    max_noise_sensitivity: float | None = _threshold("share of predictions changed by small random noise")
    max_extreme_sensitivity: float | None = _threshold("share of predictions changed by extreme inputs")


@dataclass(frozen=True)
class DataQualityThresholds(Thresholds):
    """``data_quality``: the data against the declared interface."""

    check: ClassVar[str] = "data_quality"
    max_missing_rate: float | None = _threshold("share of missing values per column")
    max_out_of_range_rate: float | None = _threshold("share of values outside the declared range")
    max_unseen_category_rate: float | None = _threshold("share of categories not declared in the interface")


@dataclass(frozen=True)
class LeakageThresholds(Thresholds):
    """``leakage``: single-feature predictiveness and train/evaluation overlap."""

    check: ClassVar[str] = "leakage"
    max_single_feature_score: float | None = _threshold("best single-feature ROC AUC / R^2 for the label")
    max_row_overlap: float | None = _threshold("share of evaluation rows also in the training data")


@dataclass(frozen=True)
class FitThresholds(Thresholds):
    """``fit``: training vs evaluation gap."""

    check: ClassVar[str] = "fit"
    max_train_eval_gap: float | None = _threshold("training metric minus evaluation metric, absolute")
    min_train_score: float | None = _threshold("underfitting floor for the training metric")


@dataclass(frozen=True)
class BacktestThresholds(Thresholds):
    """``backtest``: the primary metric over time-ordered windows."""

    check: ClassVar[str] = "backtest"
    min_window_score: float | None = _threshold("primary metric in the worst time window")
    max_window_degradation: float | None = _threshold("overall minus worst window, absolute")
    min_windows: float | None = _threshold("number of time windows evaluated")


@dataclass(frozen=True)
class ServingParityThresholds(Thresholds):
    """``serving_parity``: served vs offline predictions."""

    check: ClassVar[str] = "serving_parity"
    max_abs_diff: float | None = _threshold("largest difference between served and offline predictions")


THRESHOLD_CLASSES: dict[str, type[Thresholds]] = {
    cls.check: cls
    for cls in (
        PerformanceThresholds, ChampionThresholds, DriftThresholds, BiasThresholds, ImportanceThresholds,
        RobustnessThresholds, DataQualityThresholds, LeakageThresholds, FitThresholds, BacktestThresholds,
        ServingParityThresholds, ExplainabilityThresholds,
    )
}


CHECK_THRESHOLDS: dict[str, dict[str, str]] = {
    check: {f.name: f.metadata["meaning"] for f in fields(cls)} for check, cls in THRESHOLD_CLASSES.items()
}
"""``check -> threshold name -> meaning``, derived from the classes above."""

MONITORING_METRICS: dict[str, dict[str, str]] = {
    "drift": {
        "max_psi": "population stability index of a feature or the prediction",
        "max_ks": "KS statistic of a numeric feature",
        "max_js": "Jensen-Shannon distance of a categorical feature",
        "max_drifted_share": "share of drifted features",
    },
    "performance": {
        "min_accuracy": "accuracy on predictions with feedback",
        "min_roc_auc": "ROC AUC on predictions with feedback",
        "min_f1": "F1 on predictions with feedback",
        "max_rmse": "RMSE on predictions with feedback",
        "max_mae": "MAE on predictions with feedback",
        "min_r2": "R^2 on predictions with feedback",
    },
    "bias": {
        "max_demographic_parity_diff": "gap in positive rate between groups",
        "min_disparate_impact": "ratio of positive rates between groups",
        "max_equalized_odds_diff": "gap in TPR/FPR between groups",
    },
    "anomaly": {
        "max_out_of_range_rate": "share of inputs outside the declared range",
        "max_unseen_category_rate": "share of undeclared categories",
        "max_missing_rate": "share of missing inputs",
        "max_outlier_rate": "share of rows scored as outliers",
    },
    "operational": {
        "max_latency_p50_ms": "median latency in milliseconds",
        "max_latency_p99_ms": "99th percentile latency in milliseconds",
        "max_error_rate": "share of failed requests",
        "min_request_rate": "requests per second below which traffic is suspiciously low",
    },
}

METRIC_KINDS = ("drift", "performance", "bias", "anomaly", "operational", "kpi")


def direction(threshold: str) -> Direction:
    """``min`` if a higher value is stricter, ``max`` if a lower value is stricter."""
    return "min" if threshold.startswith("min_") else "max"


def is_stricter_or_equal(threshold: str, new: float, old: float) -> bool:
    """True if ``new`` is at least as strict as ``old`` for this threshold."""
    return new >= old if direction(threshold) == "min" else new <= old
