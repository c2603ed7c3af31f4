"""``data_quality``: the reference and evaluation data against the declared interface.

Per declared input and per dataset: missing values (judged unless ``nullable``),
values outside ``min``/``max``, categories not declared in ``categories``; and the
label: present, never missing, at least two classes (classification), within the declared
output categories or range. A declared column absent from the data is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.spec.catalog_of_checks import DataQualityThresholds
from engine.spec.check_result import Metric, describe, failed, judge
from engine.spec.errors import CheckError
from engine.spec.model import Feature
from runners.base import Check, CheckContext, Outcome, is_categorical, register


def norm(v: Any) -> Any:
    """Compare categories by value: ``1.0`` read from CSV equals a declared ``1``; ``"1"`` too."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def column_quality(col: pd.Series, f: Feature) -> dict[str, Any]:
    """Missing, out-of-range and unseen-category rates of one column."""
    n = len(col)
    present = col.dropna()
    out: dict[str, Any] = {"missing_rate": float(col.isna().mean()) if n else 0.0}
    if f.min is not None or f.max is not None:
        values = pd.to_numeric(present, errors="coerce")
        bad = values.isna()
        if f.min is not None:
            bad |= values < f.min
        if f.max is not None:
            bad |= values > f.max
        out["out_of_range_rate"] = float(bad.sum() / n) if n else 0.0
    if f.categories is not None:
        allowed = {norm(c) for c in f.categories}
        unseen = ~present.map(norm).isin(allowed)
        out["unseen_category_rate"] = float(unseen.sum() / n) if n else 0.0
        out["unseen_categories"] = sorted({norm(v) for v in present[unseen.to_numpy()]})[:10]
    return out


@register
class DataQuality(Check):
    """Missing, out-of-range, unseen categories and label sanity in both datasets."""

    name = "data_quality"

    def run(self, ctx: CheckContext) -> Outcome:
        """Measure both tables against the interface."""
        t = ctx.thresholds
        assert isinstance(t, DataQualityThresholds)
        metrics: list[Metric] = []
        details: dict[str, Any] = {}
        outputs = ctx.spec.spec.interface.outputs
        label_feature = next((o for o in outputs if o.name == ctx.label), None)
        for role, frame in (("reference", ctx.reference()), ("evaluation", ctx.evaluation())):
            missing = [f.name for f in ctx.inputs() if f.name not in frame.columns]
            if missing:
                raise CheckError(f"{role} data lacks declared input column(s): {', '.join(missing)}")
            if ctx.label not in frame.columns:
                raise CheckError(f"{role} data has no label column '{ctx.label}'")
            table: dict[str, Any] = {}
            for f in ctx.inputs():
                q = column_quality(frame[f.name], f)
                table[f.name] = q
                scope = f"{role}:{f.name}"
                metrics.append(judge("max_missing_rate", q["missing_rate"], t.max_missing_rate,
                                     scope=scope, gate=not f.nullable,
                                     note="nullable: reported, not judged" if f.nullable else None))
                if "out_of_range_rate" in q:
                    metrics.append(judge("max_out_of_range_rate", q["out_of_range_rate"], t.max_out_of_range_rate,
                                         scope=scope))
                if "unseen_category_rate" in q:
                    metrics.append(judge("max_unseen_category_rate", q["unseen_category_rate"],
                                         t.max_unseen_category_rate, scope=scope))
                if not is_categorical(f) and not pd.api.types.is_numeric_dtype(frame[f.name]):
                    raise CheckError(f"{role} data: numeric input '{f.name}' holds non-numeric values")
            metrics.extend(self._label(ctx, frame[ctx.label], role, label_feature, table))
            details[role] = {"rows": len(frame), "columns": table}
        bad = failed(metrics)
        text = (
            "; ".join(describe(m) for m in bad[:6])
            if bad else "no missing, out-of-range or unseen values beyond thresholds"
        )
        return Outcome(metrics, f"data quality {'problems' if bad else 'ok'}: {text}", details)

    def _label(self, ctx: CheckContext, y: pd.Series, role: str, feature: Feature | None,
               table: dict[str, Any]) -> list[Metric]:
        scope = f"{role}:{ctx.label}"
        missing = float(y.isna().mean())
        out = [Metric("label_missing_rate", missing, 0.0, "<=", missing == 0.0, scope)]
        info: dict[str, Any] = {"missing_rate": missing}
        present = y.dropna()
        if ctx.task == "classification":
            classes = int(present.nunique())
            info["classes"] = classes
            out.append(Metric("label_classes", float(classes), 2.0, ">=", classes >= 2, scope))
            if feature is not None and feature.categories is not None:
                allowed = {norm(c) for c in feature.categories}
                rate = float((~present.map(norm).isin(allowed)).mean()) if len(present) else 0.0
                info["unseen_label_rate"] = rate
                out.append(Metric("unseen_label_rate", rate, 0.0, "<=", rate == 0.0, scope))
        else:
            values = pd.to_numeric(present, errors="coerce")
            bad = values.isna() | ~np.isfinite(values.fillna(0))
            if feature is not None and feature.min is not None:
                bad |= values < feature.min
            if feature is not None and feature.max is not None:
                bad |= values > feature.max
            rate = float(bad.mean()) if len(values) else 0.0
            info["invalid_label_rate"] = rate
            out.append(Metric("invalid_label_rate", rate, 0.0, "<=", rate == 0.0, scope))
        table[ctx.label] = info
        return out
