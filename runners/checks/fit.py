"""``fit``: over- and under-fitting, from the primary metric on training vs evaluation data."""

from __future__ import annotations

from engine.spec.catalog_of_checks import FitThresholds
from engine.spec.check_result import describe, judge
from engine.spec.errors import CheckError
from runners.base import Check, CheckContext, Outcome, register
from runners.checks._common import primary, score


@register
class Fit(Check):
    """Training metric minus evaluation metric (accuracy or R^2), and a floor on the training metric."""

    name = "fit"

    def run(self, ctx: CheckContext) -> Outcome:
        """Score the candidate on both tables."""
        t = ctx.thresholds
        assert isinstance(t, FitThresholds)
        model = ctx.candidate()
        main = primary(ctx)
        train = score(ctx, model, ctx.reference(), "reference data").metrics[main]
        held = score(ctx, model, ctx.evaluation(), "evaluation data").metrics[main]
        if train is None or held is None:
            raise CheckError(f"{main} is undefined on the reference or evaluation data")
        gap = train - held
        metrics = [
            judge("max_train_eval_gap", gap, t.max_train_eval_gap, metric="train_eval_gap"),
            judge("min_train_score", train, t.min_train_score, metric="train_score"),
        ]
        metrics[-1].note = f"{main} on the reference (training) data"
        kind = "overfits" if metrics[0].passed is False else "underfits" if metrics[1].passed is False else "fits"
        return Outcome(
            metrics,
            f"{ctx.version} {kind}: {main} {train:.4f} on training data vs {held:.4f} on evaluation data "
            f"({describe(metrics[0])})",
            {"metric": main, "train": train, "evaluation": held},
        )
