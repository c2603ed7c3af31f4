"""Typed thresholds of each check, named exactly as in ``engine/spec/catalog_of_checks.py``.

Validation stage, input side. The tier's defaults merged with the spec's overrides
(``engine.spec.thresholds.effective_checks``) arrive as ``name -> number``; this module turns
them into one frozen dataclass per check, refusing names the check does not know (a
typo must never silently disable a control). It never judges a value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from engine.spec.catalog_of_checks import CHECK_THRESHOLDS
from engine.spec.errors import InputError

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
    min_accuracy: float | None = None
    min_roc_auc: float | None = None
    min_f1: float | None = None
    max_log_loss: float | None = None
    max_rmse: float | None = None
    max_mae: float | None = None
    min_r2: float | None = None
    max_slice_gap: float | None = None
    min_slice_rows: float | None = None


@dataclass(frozen=True)
class ChampionThresholds(Thresholds):
    """``champion``: degradation vs the current champion and prediction shift."""

    check: ClassVar[str] = "champion"
    max_metric_degradation: float | None = None
    max_prediction_shift: float | None = None


@dataclass(frozen=True)
class DriftThresholds(Thresholds):
    """``drift``: per-feature statistics and the share of drifted features."""

    check: ClassVar[str] = "drift"
    max_psi: float | None = None
    max_ks: float | None = None
    max_wasserstein: float | None = None
    max_js: float | None = None
    min_p_value: float | None = None
    max_drifted_share: float | None = None


@dataclass(frozen=True)
class BiasThresholds(Thresholds):
    """``bias``: group fairness over each sensitive attribute."""

    check: ClassVar[str] = "bias"
    max_demographic_parity_diff: float | None = None
    min_disparate_impact: float | None = None
    max_equalized_odds_diff: float | None = None
    min_group_rows: float | None = None


@dataclass(frozen=True)
class ImportanceThresholds(Thresholds):
    """``importance``: permutation importance shift vs the champion."""

    check: ClassVar[str] = "importance"
    max_importance_shift: float | None = None


@dataclass(frozen=True)
class RobustnessThresholds(Thresholds):
    """``robustness``: sensitivity to small noise and extreme inputs."""

    check: ClassVar[str] = "robustness"
    max_noise_sensitivity: float | None = None
    max_extreme_sensitivity: float | None = None


@dataclass(frozen=True)
class DataQualityThresholds(Thresholds):
    """``data_quality``: the data against the declared interface."""

    check: ClassVar[str] = "data_quality"
    max_missing_rate: float | None = None
    max_out_of_range_rate: float | None = None
    max_unseen_category_rate: float | None = None


@dataclass(frozen=True)
class LeakageThresholds(Thresholds):
    """``leakage``: single-feature predictiveness and train/evaluation overlap."""

    check: ClassVar[str] = "leakage"
    max_single_feature_score: float | None = None
    max_row_overlap: float | None = None


@dataclass(frozen=True)
class FitThresholds(Thresholds):
    """``fit``: training vs evaluation gap."""

    check: ClassVar[str] = "fit"
    max_train_eval_gap: float | None = None
    min_train_score: float | None = None


@dataclass(frozen=True)
class BacktestThresholds(Thresholds):
    """``backtest``: the primary metric over time-ordered windows."""

    check: ClassVar[str] = "backtest"
    min_window_score: float | None = None
    max_window_degradation: float | None = None
    min_windows: float | None = None


@dataclass(frozen=True)
class ServingParityThresholds(Thresholds):
    """``serving_parity``: served vs offline predictions."""

    check: ClassVar[str] = "serving_parity"
    max_abs_diff: float | None = None


ALL: dict[str, type[Thresholds]] = {
    cls.check: cls
    for cls in (
        PerformanceThresholds, ChampionThresholds, DriftThresholds, BiasThresholds, ImportanceThresholds,
        RobustnessThresholds, DataQualityThresholds, LeakageThresholds, FitThresholds, BacktestThresholds,
        ServingParityThresholds,
    )
}


def catalog_mismatches() -> list[str]:
    """Differences between these classes and the catalog (empty when they agree; a test asserts it)."""
    problems: list[str] = []
    for check, names in CHECK_THRESHOLDS.items():
        cls = ALL.get(check)
        if cls is None:
            problems.append(f"no thresholds class for check '{check}'")
            continue
        mine = {f.name for f in fields(cls)}
        if mine != set(names):
            problems.append(f"{check}: classes {sorted(mine)} vs catalog {sorted(names)}")
    problems.extend(f"check '{c}' is not in the catalog" for c in ALL if c not in CHECK_THRESHOLDS)
    return problems
