"""``performance``: overall metrics and the same by slice, with the worst slice vs overall."""

from __future__ import annotations

from engine.spec.catalog_of_checks import PerformanceThresholds
from engine.spec.check_result import Metric, describe, judge, not_applicable
from engine.spec.errors import CheckError
from engine.statistics.metrics import CLASSIFICATION, REGRESSION
from runners.base import Check, CheckContext, Outcome, register
from runners.checks._common import (
    DEFAULT_MIN_ROWS,
    groups_of,
    primary,
    score,
    subset_metrics,
    why_undefined,
)

OVERALL = [
    ("min_accuracy", "accuracy"), ("min_roc_auc", "roc_auc"), ("min_f1", "f1"), ("max_log_loss", "log_loss"),
    ("max_rmse", "rmse"), ("max_mae", "mae"), ("min_r2", "r2"),
]


@register
class Performance(Check):
    """Classification: accuracy, ROC AUC, F1, log loss; regression: RMSE, MAE, R^2; then per slice."""

    name = "performance"

    def run(self, ctx: CheckContext) -> Outcome:
        """Score the candidate on the evaluation data, overall and per slice."""
        t = ctx.thresholds
        assert isinstance(t, PerformanceThresholds)
        ev = ctx.evaluation()
        model = ctx.candidate()
        s = score(ctx, model, ev, "evaluation data")
        own = CLASSIFICATION if ctx.task == "classification" else REGRESSION
        positive = ctx.validation().positive_class
        metrics: list[Metric] = []
        for thr_name, metric in OVERALL:
            thr = getattr(t, thr_name)
            if metric not in own:
                if thr is not None:
                    metrics.append(not_applicable(thr_name, thr, f"{metric} is a {_other(ctx.task)} metric"))
                continue
            value = s.metrics.get(metric)
            why = None if value is not None else why_undefined(metric, s.y, s.proba, s.classes, positive)
            metrics.append(judge(thr_name, value, thr, metric=metric, why=why))
        main = primary(ctx)
        overall = s.metrics[main]
        min_rows = int(t.min_slice_rows) if t.min_slice_rows is not None else DEFAULT_MIN_ROWS
        slices: list[dict[str, object]] = []
        worst: tuple[float, str] | None = None
        unknown: list[Metric] = []  # slices big enough to judge whose gap has no value: they fail closed
        for col in ctx.validation().slice_columns:
            if col not in ev.columns:
                raise CheckError(f"slice column '{col}' is not in the evaluation data")
            for label, mask in groups_of(ev[col]):
                n = int(mask.sum())
                m = subset_metrics(ctx, s, mask, model)
                value = m.get(main)
                judged = n >= min_rows and value is not None and overall is not None
                gap = (overall - value) if (overall is not None and value is not None) else None
                scope = f"{col}={label}"
                note = None if judged else f"{n} row(s) (< {min_rows}): reported, not judged"
                if n >= min_rows and value is None:
                    why = f"{main} on {scope}: {why_undefined(main, s.y[mask], None, s.classes)}"
                    note = f"could not be computed: {why}"
                    if t.max_slice_gap is not None and overall is not None:
                        unknown.append(judge("max_slice_gap", None, t.max_slice_gap, metric="slice_gap",
                                             scope=scope, why=why))
                metrics.append(Metric(main, value, None, None, None, scope, False, note))
                slices.append({"column": col, "slice": label, "rows": n, "judged": judged, "gap": gap, **m})
                if judged and gap is not None and (worst is None or gap > worst[0]):
                    worst = (gap, scope)
        if overall is None and ctx.validation().slice_columns and t.max_slice_gap is not None:
            unknown.append(judge("max_slice_gap", None, t.max_slice_gap, metric="slice_gap",
                                 why=f"{main} overall: {why_undefined(main, s.y, None, s.classes)}"))
        metrics.extend(unknown)
        if ctx.validation().slice_columns:
            if worst is None and not unknown and t.max_slice_gap is not None:
                raise CheckError(
                    f"no slice of {', '.join(ctx.validation().slice_columns)} has {min_rows} rows or more; "
                    "the worst-slice gap cannot be judged"
                )
            if worst is not None:
                metrics.append(judge("max_slice_gap", worst[0], t.max_slice_gap, metric="slice_gap",
                                     scope=worst[1]))
        bad = [m for m in metrics if m.gate and m.passed is False]
        shown = ", ".join(describe(m) for m in (bad or [m for m in metrics if m.gate and m.value is not None][:3]))
        verdict = "fails its thresholds" if bad else "meets thresholds"
        return Outcome(
            metrics,
            f"{ctx.spec.id} {ctx.version} {verdict} on {len(ev)} evaluation rows: {shown}",
            {"overall": s.metrics, "rows": len(ev), "primary_metric": main, "slices": slices},
        )


def _other(task: str) -> str:
    return "regression" if task == "classification" else "classification"
