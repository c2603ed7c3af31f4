"""``champion``: the candidate against the current champion on the same evaluation rows."""

from __future__ import annotations

import numpy as np

from engine.spec.catalog_of_checks import ChampionThresholds
from engine.spec.check_result import Metric, describe, judge
from engine.statistics.drift import two_sample
from engine.statistics.metrics import HIGHER_IS_BETTER
from runners.base import Check, CheckContext, Outcome, register
from runners.checks._common import score, why_undefined

BOUNDED = ("accuracy", "roc_auc", "f1", "r2")


@register
class Champion(Check):
    """No metric worse than the champion's by more than the margin; prediction distribution shift (KS)."""

    name = "champion"

    def run(self, ctx: CheckContext) -> Outcome:
        """Score both versions and compare."""
        t = ctx.thresholds
        assert isinstance(t, ChampionThresholds)
        champ_model = ctx.required_champion(self.name)
        ev = ctx.evaluation()
        cand = score(ctx, ctx.candidate(), ev, "evaluation data")
        champ = score(ctx, champ_model, ev, "evaluation data", who="champion")
        metrics: list[Metric] = []
        table: dict[str, dict[str, float | None]] = {}
        pos = ctx.validation().positive_class
        for name, c_value in cand.metrics.items():
            h_value = champ.metrics.get(name)
            if c_value is None and h_value is not None:
                # fails closed: a candidate must not dodge a comparison by losing a metric (no predict_proba)
                why = f"the candidate has no {name} ({why_undefined(name, cand.y, cand.proba, cand.classes, pos)})"
                metrics.append(judge("max_metric_degradation", None, t.max_metric_degradation,
                                     metric=f"{name}_degradation", why=why))
                table[name] = {"candidate": None, "champion": h_value, "degradation": None}
                continue
            if c_value is None or h_value is None:
                if c_value is not None:
                    metrics.append(Metric(f"{name}_degradation", None, scope="overall", gate=False,
                                          note=f"the champion has no {name}: nothing to compare with"))
                continue
            if name in BOUNDED:
                deg = h_value - c_value if HIGHER_IS_BETTER[name] else c_value - h_value
                note = "absolute"
            else:  # unbounded error metrics: relative to the champion's
                deg = (c_value - h_value) / abs(h_value) if h_value else (0.0 if c_value == h_value else np.inf)
                note = "relative to the champion's value"
            table[name] = {"candidate": c_value, "champion": h_value, "degradation": deg}
            metrics.append(judge("max_metric_degradation", float(deg), t.max_metric_degradation,
                                 metric=f"{name}_degradation", note=note,
                                 why=f"the champion's {name} is 0, so a relative degradation is infinite"))
        shift, per_output = _prediction_shift(cand.pred, champ.pred, cand.proba, champ.proba)
        metrics.append(judge("max_prediction_shift", shift, t.max_prediction_shift, metric="prediction_shift",
                             note="KS statistic between candidate and champion predictions"))
        details: dict[str, object] = {"metrics": table, "prediction_shift_by_output": per_output}
        if ctx.task == "classification":
            changed = float(np.mean(cand.pred != champ.pred))
            details["changed_label_share"] = changed
            metrics.append(Metric("changed_label_share", changed, gate=False))
        bad = [m for m in metrics if m.passed is False]
        text = ", ".join(describe(m) for m in bad) if bad else describe(metrics[-1] if not table else metrics[0])
        verdict = "worse than" if bad else "no worse than"
        return Outcome(metrics, f"{ctx.version} is {verdict} champion {ctx.champion_version}: {text}", details)


def _prediction_shift(
    a: np.ndarray, b: np.ndarray, pa: np.ndarray | None, pb: np.ndarray | None
) -> tuple[float, dict[str, float]]:
    """Largest KS statistic over outputs: class probabilities when both have them, else predictions."""
    if pa is not None and pb is not None and pa.shape == pb.shape:
        per = {f"proba_{i}": two_sample(np.sort(pa[:, i]), np.sort(pb[:, i]))[0] for i in range(pa.shape[1])}
    else:
        per = {"prediction": two_sample(np.sort(a.astype(float)), np.sort(b.astype(float)))[0]}
    return max(per.values()), per
