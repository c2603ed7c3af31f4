"""``importance``: permutation importance of the candidate vs the champion, normalised to shares.

The models are :class:`runners.model_worker.RemoteModel` proxies (they live in sandboxed
workers), so the score is a plain callable over ``predict`` (accuracy or R^2, what
scikit-learn's named scorers compute) rather than a named scorer that inspects the estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine.spec.catalog_of_checks import ImportanceThresholds
from engine.spec.check_result import Metric, judge
from engine.spec.errors import CheckError
from runners.base import Check, CheckContext, Outcome, register
from runners.checks._common import primary

N_REPEATS = 5
SEED = 0


def scorer(scoring: str) -> Callable[[Any, np.ndarray, np.ndarray], float]:
    """``scoring`` (``accuracy`` or ``r2``) as ``(model, x, y) -> score`` from the model's predictions."""
    from sklearn import metrics as skm

    metric = skm.accuracy_score if scoring == "accuracy" else skm.r2_score

    def score(model: Any, x: np.ndarray, y: np.ndarray) -> float:
        return float(metric(y, model.predict(x)))

    return score


def normalised_importance(model: Any, x: np.ndarray, y: np.ndarray, scoring: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw mean permutation importances and their shares (negatives clipped to 0, summing to 1)."""
    from sklearn.inspection import permutation_importance

    res = permutation_importance(model, x, y, scoring=scorer(scoring), n_repeats=N_REPEATS, random_state=SEED,
                                 n_jobs=1)
    raw = np.asarray(res.importances_mean, dtype=float)
    clipped = np.clip(raw, 0, None)
    total = clipped.sum()
    return raw, (clipped / total if total > 0 else clipped)


@register
class Importance(Check):
    """The largest change in any feature's share of permutation importance."""

    name = "importance"

    def run(self, ctx: CheckContext) -> Outcome:
        """Permutation importance of both versions on the evaluation data."""
        t = ctx.thresholds
        assert isinstance(t, ImportanceThresholds)
        champ = ctx.required_champion(self.name)
        ev = ctx.evaluation()
        x, y = ctx.x(ev, "evaluation data"), ctx.y(ev, "evaluation data")
        cand = ctx.candidate()
        ctx.predict(cand, x[:1])
        ctx.predict(champ, x[:1], "champion")
        scoring = primary(ctx)
        try:
            raw_c, share_c = normalised_importance(cand, x, y, scoring)
            raw_h, share_h = normalised_importance(champ, x, y, scoring)
        except ValueError as exc:
            raise CheckError(f"permutation importance failed: {exc}") from exc
        names = ctx.model_inputs()
        shift = np.abs(share_c - share_h)
        metrics = [Metric("importance_shift", float(v), scope=n, gate=False) for n, v in zip(names, shift, strict=True)]
        i = int(np.argmax(shift))
        metrics.append(judge("max_importance_shift", float(shift[i]), t.max_importance_shift,
                             metric="importance_shift", scope=names[i]))
        verdict = "shifted" if metrics[-1].passed is False else "stable"
        return Outcome(
            metrics,
            f"feature importance {verdict}: largest shift {shift[i]:.3f} on '{names[i]}' "
            f"({share_h[i]:.3f} in {ctx.champion_version} -> {share_c[i]:.3f} in {ctx.version})",
            {"scoring": scoring, "features": {
                n: {"candidate": float(a), "champion": float(b), "candidate_raw": float(c), "champion_raw": float(d)}
                for n, a, b, c, d in zip(names, share_c, share_h, raw_c, raw_h, strict=True)}},
        )
