"""``leakage``: signs that the evaluation does not measure what it claims.

- single feature: the best score of any one model input alone for the label, on the
  reference (training) data: ROC AUC (binary; one-vs-rest mean for multiclass; direction-free,
  ``max(auc, 1 - auc)``) or R^2 of a straight-line fit (regression);
- row overlap: share of evaluation rows (model inputs and label) also in the reference data;
- time travel (when ``timeColumn`` is declared): share of evaluation rows older than the
  newest reference row; any is a failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.spec.catalog_of_checks import LeakageThresholds
from engine.spec.check_result import Metric, describe, failed, judge
from engine.spec.errors import CheckError
from runners.base import Check, CheckContext, Outcome, register


def single_feature_score(x: np.ndarray, y: np.ndarray, task: str) -> float | None:
    """How well one feature alone predicts the label (see module docstring)."""
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(x)
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return None
    if task == "regression":
        yf = y.astype(float)
        if np.std(x) == 0 or np.std(yf) == 0:
            return 0.0
        return float(np.corrcoef(x, yf)[0, 1] ** 2)
    classes = np.unique(y)
    if len(classes) < 2:
        return None
    targets = [classes[1]] if len(classes) == 2 else list(classes)
    scores = []
    for c in targets:
        auc = float(roc_auc_score(y == c, x))
        scores.append(max(auc, 1 - auc))
    return float(np.mean(scores))


def row_overlap(ref: pd.DataFrame, ev: pd.DataFrame, columns: list[str]) -> float:
    """Share of evaluation rows whose values (these columns) appear in the reference rows."""
    hr = set(pd.util.hash_pandas_object(ref[columns], index=False).to_numpy())
    he = pd.util.hash_pandas_object(ev[columns], index=False).to_numpy()
    return float(np.mean([h in hr for h in he])) if len(he) else 0.0


def _times(series: pd.Series, where: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series):
        return series
    parsed = pd.to_datetime(series, errors="coerce", utc=True)
    if parsed.isna().any():
        raise CheckError(f"{where}: {int(parsed.isna().sum())} value(s) of the time column are not timestamps")
    return parsed


@register
class Leakage(Check):
    """Single-feature predictiveness, train/evaluation overlap, time travel."""

    name = "leakage"

    def run(self, ctx: CheckContext) -> Outcome:
        """Look for a leaking feature, duplicated rows and evaluation rows from the past."""
        t = ctx.thresholds
        assert isinstance(t, LeakageThresholds)
        ref, ev = ctx.reference(), ctx.evaluation()
        xr, yr = ctx.x(ref, "reference data"), ctx.y(ref, "reference data")
        ctx.y(ev, "evaluation data")
        names = ctx.model_inputs()
        metrics: list[Metric] = []
        scores: dict[str, float | None] = {}
        for i, name in enumerate(names):
            scores[name] = single_feature_score(xr[:, i], yr, ctx.task)
            metrics.append(Metric("single_feature_score", scores[name], scope=name, gate=False))
        judged = {k: v for k, v in scores.items() if v is not None}
        if judged:
            best = max(judged, key=lambda k: judged[k])
            metrics.append(judge("max_single_feature_score", judged[best], t.max_single_feature_score,
                                 metric="single_feature_score", scope=best))
        elif t.max_single_feature_score is not None:  # fails closed: no feature could be scored
            metrics.append(judge("max_single_feature_score", None, t.max_single_feature_score,
                                 metric="single_feature_score",
                                 why="no feature could be scored (the reference labels hold one class, "
                                 "or no feature has 2 non-missing values)"))
        cols = [*names, ctx.label]
        overlap = row_overlap(ref, ev, cols)
        metrics.append(judge("max_row_overlap", overlap, t.max_row_overlap, metric="row_overlap"))
        details: dict[str, object] = {"single_feature_scores": scores, "row_overlap": overlap}
        tc = ctx.validation().time_column
        if tc:
            for where, frame in (("reference data", ref), ("evaluation data", ev)):
                if tc not in frame.columns:
                    raise CheckError(f"{where} has no time column '{tc}'")
            newest = _times(ref[tc], "reference data").max()
            older = float((_times(ev[tc], "evaluation data") < newest).mean())
            metrics.append(Metric("time_travel_share", older, 0.0, "<=", older == 0.0,
                                  note="evaluation rows older than the newest reference row"))
            details["time_travel_share"] = older
        bad = failed(metrics)
        text = "; ".join(describe(m) for m in bad) if bad else ", ".join(
            describe(m) for m in metrics if m.gate)
        return Outcome(metrics, f"{'possible leakage' if bad else 'no leakage found'}: {text}", details)
