"""``bias``: group fairness of the candidate over each sensitive attribute.

Sensitive attributes are the inputs declared ``sensitive: true`` (they may be
``modelInput: false``: present in the data, never fed to the model). For a classifier
with a positive class: demographic parity difference (largest gap in positive-prediction
rate), disparate impact ratio (smallest rate / largest, the four-fifths rule), equalized
odds difference (largest gap in TPR or FPR), and per-group metrics. Groups with fewer
than ``min_group_rows`` rows are reported, not judged. The rates and measures are
:mod:`engine.statistics.fairness`, shared with the ``bias`` monitoring kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.spec.catalog_of_checks import BiasThresholds
from engine.spec.check_result import Metric, describe, judge, not_applicable
from engine.spec.errors import CheckError
from engine.statistics.fairness import fairness, group_rates
from engine.statistics.metrics import positive_index
from runners.base import Check, CheckContext, Outcome, register
from runners.checks._common import DEFAULT_MIN_ROWS, groups_of, score


@register
class Bias(Check):
    """Demographic parity, disparate impact, equalized odds and per-group metrics per sensitive attribute."""

    name = "bias"

    def run(self, ctx: CheckContext) -> Outcome:
        """Group the evaluation rows by each sensitive attribute and compare the candidate's behaviour."""
        t = ctx.thresholds
        assert isinstance(t, BiasThresholds)
        sensitive = [f.name for f in ctx.inputs() if f.sensitive]
        if not sensitive:
            raise CheckError(
                f"the bias check needs at least one input declared 'sensitive: true' in {ctx.spec.id}; none is"
            )
        ev = ctx.evaluation()
        missing = [c for c in sensitive if c not in ev.columns]
        if missing:
            raise CheckError(f"evaluation data lacks sensitive column(s): {', '.join(missing)}")
        model = ctx.candidate()
        s = score(ctx, model, ev, "evaluation data")
        metrics: list[Metric] = []
        details: dict[str, Any] = {}
        if ctx.task != "classification":
            for thr_name, thr in t.as_dict().items():
                if thr_name != "min_group_rows":
                    metrics.append(not_applicable(thr_name, thr, "group rates need a classifier"))
            for col in sensitive:
                for label, mask in groups_of(ev[col]):
                    err = np.abs(s.y[mask].astype(float) - s.pred[mask])
                    metrics.append(Metric("mae", float(err.mean()), scope=f"{col}={label}", gate=False))
            return Outcome(metrics, "regression model: per-group errors reported; parity metrics do not apply",
                           details)
        classes = s.classes if s.classes is not None else np.unique(s.y)
        pos = positive_index(classes, ctx.validation().positive_class)
        if pos is None:
            raise CheckError(
                "the bias check needs validation.positiveClass for a multiclass model "
                f"(classes: {', '.join(map(str, classes))})"
            )
        positive = classes[pos]
        y_pos, p_pos = s.y == positive, s.pred == positive
        min_rows = int(t.min_group_rows) if t.min_group_rows is not None else DEFAULT_MIN_ROWS
        worst: list[str] = []
        for col in sensitive:
            judged: dict[str, dict[str, Any]] = {}
            table: dict[str, dict[str, Any]] = {}
            for label, mask in groups_of(ev[col]):
                n = int(mask.sum())
                g = {"rows": n, **group_rates(y_pos[mask], p_pos[mask])}
                table[label] = g
                scope = f"{col}={label}"
                note = None if n >= min_rows else f"{n} row(s) (< {min_rows}): reported, not judged"
                for key in ("positive_rate", "tpr", "fpr", "accuracy"):
                    metrics.append(Metric(key, g[key], scope=scope, gate=False, note=note))
                if n >= min_rows:
                    judged[label] = g
            if len(judged) < 2:
                sizes = ", ".join(f"{k}={v['rows']}" for k, v in table.items())
                raise CheckError(
                    f"bias over '{col}' cannot be judged: {len(judged)} group(s) with {min_rows} rows or more "
                    f"(groups: {sizes})"
                )
            f = fairness(judged)
            one_class = sorted(k for k, g in judged.items() if g["tpr"] is None or g["fpr"] is None)
            ms = [
                judge("max_demographic_parity_diff", f["demographic_parity_diff"], t.max_demographic_parity_diff,
                      metric="demographic_parity_diff", scope=col),
                # fails closed: with no positive prediction in any group the ratio is 0/0, not fair
                judge("min_disparate_impact", f["disparate_impact"], t.min_disparate_impact,
                      metric="disparate_impact", scope=col,
                      why=f"no group of '{col}' receives a positive prediction ({positive}), so the ratio "
                      "of positive rates is 0/0"),
                judge("max_equalized_odds_diff", f["equalized_odds_diff"], t.max_equalized_odds_diff,
                      metric="equalized_odds_diff", scope=col,
                      why=f"fewer than 2 groups of '{col}' have both positive and negative labels "
                      f"(one class only: {', '.join(one_class) or 'none'})",
                      note=f"TPR/FPR undefined in {', '.join(one_class)} (one class of labels): left out"
                      if one_class and f["equalized_odds_diff"] is not None else None),
            ]
            metrics.extend(ms)
            worst.extend(describe(m) for m in ms if m.passed is False)
            details[col] = {"groups": table, **f}
        text = "; ".join(worst) if worst else ", ".join(
            describe(m) for m in metrics if m.gate and m.value is not None
        )
        verdict = "unfair" if worst else "within fairness thresholds"
        return Outcome(metrics, f"{ctx.version} is {verdict} over {', '.join(sensitive)}: {text}",
                       {"positive_class": str(positive), "attributes": details})
