"""The names govops knows: validation checks, their thresholds, and monitoring metrics.

Specs and ``govops.yaml`` refer to checks and thresholds by name; this table is what
lint validates those names against (with a nearest-name suggestion), what the
policies read to tell a tightened threshold from a loosened one, and what the check
registry in ``runners/`` implements. Threshold names carry their direction:
``min_*`` is stricter when higher, ``max_*`` is stricter when lower.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["min", "max"]

CHECK_THRESHOLDS: dict[str, dict[str, str]] = {
    "performance": {
        "min_accuracy": "overall accuracy (classification)",
        "min_roc_auc": "overall ROC AUC (classification)",
        "min_f1": "overall F1, macro for multiclass (classification)",
        "max_log_loss": "overall log loss (classification)",
        "max_rmse": "overall RMSE (regression)",
        "max_mae": "overall MAE (regression)",
        "min_r2": "overall R^2 (regression)",
        "max_slice_gap": "worst slice's primary metric below overall, absolute",
        "min_slice_rows": "slices with fewer rows are reported, not judged",
    },
    "champion": {
        "max_metric_degradation": "candidate's primary metric below the champion's, absolute",
        "max_prediction_shift": "KS statistic between candidate and champion predictions",
    },
    "drift": {
        "max_psi": "population stability index per feature",
        "max_ks": "Kolmogorov-Smirnov statistic per numeric feature",
        "max_wasserstein": "Wasserstein distance per numeric feature, in reference std units",
        "max_js": "Jensen-Shannon distance per categorical feature",
        "min_p_value": "p-value below which a feature counts as drifted (KS / chi-square)",
        "max_drifted_share": "share of features allowed to drift",
    },
    "bias": {
        "max_demographic_parity_diff": "largest gap in positive rate between groups",
        "min_disparate_impact": "smallest ratio of positive rates (four-fifths rule: 0.8)",
        "max_equalized_odds_diff": "largest gap in TPR or FPR between groups",
        "min_group_rows": "groups with fewer rows are reported, not judged",
    },
    "importance": {
        "max_importance_shift": "largest change in normalised permutation importance vs champion",
    },
    "robustness": {
        "max_noise_sensitivity": "share of predictions changed by small random noise",
        "max_extreme_sensitivity": "share of predictions changed by extreme inputs",
    },
    "data_quality": {
        "max_missing_rate": "share of missing values per column",
        "max_out_of_range_rate": "share of values outside the declared range",
        "max_unseen_category_rate": "share of categories not declared in the interface",
    },
    "leakage": {
        "max_single_feature_score": "best single-feature ROC AUC / R^2 for the label",
        "max_row_overlap": "share of evaluation rows also in the training data",
    },
    "fit": {
        "max_train_eval_gap": "training metric minus evaluation metric, absolute",
        "min_train_score": "underfitting floor for the training metric",
    },
    "backtest": {
        "min_window_score": "primary metric in the worst time window",
        "max_window_degradation": "overall minus worst window, absolute",
        "min_windows": "number of time windows evaluated",
    },
    "serving_parity": {
        "max_abs_diff": "largest difference between served and offline predictions",
    },
}

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
