"""``robustness``: how many predictions change under small random noise and under extreme inputs.

Small noise: Gaussian noise of 1% of each numeric input's reference standard deviation.
Extreme inputs: in every row one numeric input (chosen at random) is set to its declared
``min``/``max`` (else the reference minimum/maximum). A classification prediction
"changes" when its label changes; a regression prediction when it moves by more than
10% of the standard deviation of the candidate's predictions. Categorical inputs are
never perturbed. The random generator is seeded, so results are reproducible.
"""

from __future__ import annotations

import numpy as np

from engine.spec.catalog_of_checks import RobustnessThresholds
from engine.spec.check_result import judge
from engine.spec.errors import CheckError
from runners.base import Check, CheckContext, Outcome, is_categorical, register

NOISE = 0.01
REGRESSION_TOLERANCE = 0.1
SEED = 20261123


def changed(task: str, base: np.ndarray, other: np.ndarray) -> float:
    """Share of rows whose prediction changed."""
    if task == "classification":
        return float(np.mean(base != other))
    scale = float(np.std(base)) or 1.0
    return float(np.mean(np.abs(base.astype(float) - other.astype(float)) > REGRESSION_TOLERANCE * scale))


@register
class Robustness(Check):
    """Prediction sensitivity to small noise and to extreme values."""

    name = "robustness"

    def run(self, ctx: CheckContext) -> Outcome:
        """Perturb the evaluation inputs and count changed predictions."""
        t = ctx.thresholds
        assert isinstance(t, RobustnessThresholds)
        features = {f.name: f for f in ctx.inputs()}
        names = ctx.model_inputs()
        numeric = [i for i, n in enumerate(names) if not is_categorical(features[n])]
        if not numeric:
            raise CheckError("the robustness check needs at least one numeric model input; all are categorical")
        ref, ev = ctx.reference(), ctx.evaluation()
        xr, x = ctx.x(ref, "reference data"), ctx.x(ev, "evaluation data")
        model = ctx.candidate()
        base = ctx.predict(model, x)
        rng = np.random.default_rng(SEED)
        std = xr[:, numeric].std(axis=0)
        noisy = x.copy()
        noisy[:, numeric] += rng.normal(size=(len(x), len(numeric))) * (NOISE * std)
        small = changed(ctx.task, base, ctx.predict(model, noisy))
        lo = np.array([features[names[i]].min if features[names[i]].min is not None else xr[:, i].min()
                       for i in numeric])
        hi = np.array([features[names[i]].max if features[names[i]].max is not None else xr[:, i].max()
                       for i in numeric])
        extreme = x.copy()
        pick = rng.integers(0, len(numeric), size=len(x))
        high = rng.random(len(x)) < 0.5
        cols = np.asarray(numeric)[pick]
        extreme[np.arange(len(x)), cols] = np.where(high, hi[pick], lo[pick])
        ext = changed(ctx.task, base, ctx.predict(model, extreme))
        metrics = [
            judge("max_noise_sensitivity", small, t.max_noise_sensitivity, metric="noise_sensitivity"),
            judge("max_extreme_sensitivity", ext, t.max_extreme_sensitivity, metric="extreme_sensitivity"),
        ]
        bad = [m.name for m in metrics if m.passed is False]
        return Outcome(
            metrics,
            f"{small:.1%} of predictions changed under small noise, {ext:.1%} under extreme inputs"
            + (f" (too sensitive: {', '.join(bad)})" if bad else ""),
            {"noise_scale": NOISE, "rows": len(x), "perturbed_features": [names[i] for i in numeric]},
        )
