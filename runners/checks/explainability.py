"""``explainability``: how the governed version decides, computed with scikit-learn's own inspection tools.

Three views of the candidate on the evaluation data, stored as evidence (metrics, details,
inline SVG charts) like any check:

- permutation importance (:func:`sklearn.inspection.permutation_importance`, the task's
  primary scorer, fixed ``random_state``), with each feature's share of the total;
- partial dependence of the top features (:func:`sklearn.inspection.partial_dependence`,
  ``method="brute"``: the model-agnostic definition, the only one a model behind a process
  boundary can answer);
- the primary metric per declared slice (``validation.sliceColumns``) and its gap to overall.

With a champion it also reports the shift in each feature's importance share. The model is
the digest-verified artifact in a sandboxed prediction worker (:mod:`runners.model_worker`);
:class:`RemoteEstimator` only lets scikit-learn call it, so the values are exactly what
scikit-learn computes on the artifact itself. Nothing gates unless the tier (or the spec) sets
a threshold: explainability is evidence first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.spec.catalog_of_checks import ExplainabilityThresholds
from engine.spec.check_result import Metric, judge
from engine.spec.errors import CheckError
from engine.statistics.metrics import align_labels
from runners.base import Check, CheckContext, Outcome, register
from runners.checks import _svg
from runners.checks._common import DEFAULT_MIN_ROWS, groups_of, primary, score, subset_metrics

N_REPEATS = 5
SEED = 0
TOP_FEATURES = 3
GRID_RESOLUTION = 20
PERCENTILES = (0.05, 0.95)


def remote_estimator(model: Any, task: str) -> Any:
    """``model`` (a :class:`~runners.model_worker.RemoteModel`) as an object scikit-learn accepts as fitted.

    A classifier or regressor by the spec's task (scikit-learn asks, through the estimator's tags);
    ``predict_proba`` exists only when the artifact has it, so ``response_method="auto"`` picks
    what it would pick on the artifact. Every call is forwarded to the worker.
    """
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils.metaestimators import available_if

    class _Remote(BaseEstimator):
        def __init__(self, model: Any = None) -> None:
            self.model = model

        def __sklearn_is_fitted__(self) -> bool:
            return True

        def fit(self, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("a governed artifact is judged as fitted; it is never refitted")

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.asarray(self.model.predict(x))

    class RemoteClassifier(ClassifierMixin, _Remote):
        @property
        def classes_(self) -> np.ndarray:
            return np.asarray(self.model.classes_)

        @available_if(lambda self: hasattr(self.model, "predict_proba"))
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            return np.asarray(self.model.predict_proba(x))

    class RemoteRegressor(RegressorMixin, _Remote):
        pass

    return (RemoteClassifier if task == "classification" else RemoteRegressor)(model)


def importance(estimator: Any, x: np.ndarray, y: np.ndarray, scoring: str,
               n_repeats: int = N_REPEATS, seed: int = SEED) -> Any:
    """scikit-learn's permutation importance (the Bunch: ``importances_mean``, ``_std``, ``importances``)."""
    from sklearn.inspection import permutation_importance

    return permutation_importance(estimator, x, y, scoring=scoring, n_repeats=n_repeats, random_state=seed,
                                  n_jobs=1)


def dependence(estimator: Any, x: np.ndarray, feature: int, grid_resolution: int = GRID_RESOLUTION) -> Any:
    """scikit-learn's partial dependence of one feature (brute force, averaged over the rows)."""
    from sklearn.inspection import partial_dependence

    return partial_dependence(estimator, x, [feature], method="brute", kind="average",
                              grid_resolution=grid_resolution, percentiles=PERCENTILES)


def shares(raw: np.ndarray) -> np.ndarray:
    """Importances as shares of their total (negatives clipped to 0)."""
    clipped = np.clip(np.asarray(raw, dtype=float), 0, None)
    total = clipped.sum()
    return clipped / total if total > 0 else clipped


@register
class Explainability(Check):
    """Permutation importance, partial dependence of the top features, performance per slice."""

    name = "explainability"

    def run(self, ctx: CheckContext) -> Outcome:
        """Explain the candidate on the evaluation data (and compare with the champion when given)."""
        t = ctx.thresholds
        assert isinstance(t, ExplainabilityThresholds)
        ev = ctx.evaluation()
        x, y = ctx.x(ev, "evaluation data"), ctx.y(ev, "evaluation data")
        names = ctx.model_inputs()
        cand = ctx.candidate()
        ctx.predict(cand, x[:1])  # a model that cannot predict is an error result, said plainly
        est = remote_estimator(cand, ctx.task)
        if ctx.task == "classification" and hasattr(cand, "classes_"):
            y = align_labels(y, np.asarray(cand.classes_))
        scoring = primary(ctx)
        try:
            imp = importance(est, x, y, scoring)
        except ValueError as exc:
            raise CheckError(f"permutation importance failed: {exc}") from exc
        raw = np.asarray(imp.importances_mean, dtype=float)
        share = shares(raw)
        metrics: list[Metric] = [Metric("permutation_importance", float(v), scope=n, gate=False,
                                        note=f"mean drop in {scoring} over {N_REPEATS} shuffles")
                                 for n, v in zip(names, raw, strict=True)]
        top = int(np.argmax(share)) if len(share) else 0
        metrics.append(judge("max_top_feature_share", float(share[top]), t.max_top_feature_share,
                             metric="top_feature_share", scope=names[top]))
        features = {n: {"importance_mean": float(m), "importance_std": float(s), "share": float(sh)}
                    for n, m, s, sh in zip(names, raw, imp.importances_std, share, strict=True)}
        order = [int(i) for i in np.argsort(-raw, kind="stable")]
        details: dict[str, Any] = {"scoring": scoring, "n_repeats": N_REPEATS, "random_state": SEED,
                                   "rows": len(ev), "ranking": [names[i] for i in order], "features": features}
        charts: dict[str, Any] = {}
        champ_share = self._champion_shift(ctx, x, y, scoring, share, names, metrics, details)
        charts["importance"] = _svg.bars(
            f"Permutation importance ({scoring} drop) of {ctx.version}",
            [(names[i], float(raw[i])) for i in order],
        ) if champ_share is None else _svg.bars(
            f"Importance share: {ctx.version} vs champion {ctx.champion_version}",
            [(names[i], float(share[i])) for i in order], secondary=[float(champ_share[i]) for i in order],
            legend=(str(ctx.version), str(ctx.champion_version)),
        )
        details["partial_dependence"], charts["partial_dependence"] = self._dependence(ctx, est, x, names, order)
        slices, gap_metrics, slice_chart = self._slices(ctx, cand, ev)
        metrics.extend(gap_metrics)
        details["slices"] = slices
        if slice_chart:
            charts["slices"] = slice_chart
        details["charts"] = charts
        bad = [m for m in metrics if m.gate and m.passed is False]
        ranked = ", ".join(f"{names[i]} {share[i]:.2f}" for i in order[:TOP_FEATURES])
        verdict = "fails its thresholds" if bad else "explained"
        summary = f"{ctx.spec.id} {ctx.version} {verdict}: top features by permutation importance {ranked}"
        if champ_share is not None:
            shift = np.abs(share - champ_share)
            j = int(np.argmax(shift))
            summary += f"; largest importance shift vs {ctx.champion_version} {shift[j]:.3f} on '{names[j]}'"
        return Outcome(metrics, summary, details)

    def _champion_shift(self, ctx: CheckContext, x: np.ndarray, y: np.ndarray, scoring: str, share: np.ndarray,
                        names: list[str], metrics: list[Metric], details: dict[str, Any]) -> np.ndarray | None:
        """The champion's importance shares and each feature's shift (None without a champion)."""
        t = ctx.thresholds
        assert isinstance(t, ExplainabilityThresholds)
        champ = ctx.champion()
        if champ is None:
            if t.max_importance_shift is not None:
                metrics.append(Metric("importance_shift", None, scope="overall", gate=False,
                                      note="no champion to compare with: the candidate is the champion"))
            return None
        ctx.predict(champ, x[:1], "champion")
        try:
            champ_raw = np.asarray(importance(remote_estimator(champ, ctx.task), x, y, scoring).importances_mean)
        except ValueError as exc:
            raise CheckError(f"permutation importance of the champion failed: {exc}") from exc
        champ_share = shares(champ_raw)
        shift = np.abs(share - champ_share)
        metrics.extend(Metric("importance_shift", float(v), scope=n, gate=False)
                       for n, v in zip(names, shift, strict=True))
        j = int(np.argmax(shift))
        metrics.append(judge("max_importance_shift", float(shift[j]), t.max_importance_shift,
                             metric="importance_shift", scope=names[j]))
        for n, raw_h, sh_h, d in zip(names, champ_raw, champ_share, shift, strict=True):
            details["features"][n].update({"champion_importance_mean": float(raw_h), "champion_share": float(sh_h),
                                           "share_shift": float(d)})
        details["champion"] = ctx.champion_version
        return champ_share

    def _dependence(self, ctx: CheckContext, est: Any, x: np.ndarray, names: list[str],
                    order: list[int]) -> tuple[dict[str, Any], dict[str, str]]:
        """Partial dependence of the top features, as data and as one chart each."""
        data: dict[str, Any] = {}
        charts: dict[str, str] = {}
        outputs = [str(c) for c in est.classes_] if ctx.task == "classification" else ["prediction"]
        for i in order[:TOP_FEATURES]:
            try:
                pd_ = dependence(est, x, i)
            except ValueError as exc:
                raise CheckError(f"partial dependence of '{names[i]}' failed: {exc}") from exc
            grid = [float(v) for v in pd_["grid_values"][0]]
            avg = np.asarray(pd_["average"], dtype=float)
            labels = outputs[1:] if avg.shape[0] == 1 and len(outputs) == 2 else outputs[: avg.shape[0]]
            data[names[i]] = {"grid": grid, "average": avg.tolist(), "outputs": labels}
            what = "P(" + labels[0] + ")" if ctx.task == "classification" and len(labels) == 1 else "response"
            charts[names[i]] = _svg.line(f"Partial dependence on {names[i]}", grid,
                                         [(lab, list(row)) for lab, row in zip(labels, avg.tolist(), strict=False)],
                                         x_label=names[i], y_label=what)
        return data, charts

    def _slices(self, ctx: CheckContext, model: Any, ev: Any) -> tuple[list[dict[str, Any]], list[Metric], str]:
        """The primary metric per declared slice, the gap of the worst judged one, and a chart."""
        t = ctx.thresholds
        assert isinstance(t, ExplainabilityThresholds)
        columns = ctx.validation().slice_columns
        if not columns:
            return [], [], ""
        s = score(ctx, model, ev, "evaluation data")
        main = primary(ctx)
        overall = s.metrics.get(main)
        rows: list[dict[str, Any]] = []
        metrics: list[Metric] = []
        worst: tuple[float, str] | None = None
        for col in columns:
            if col not in ev.columns:
                raise CheckError(f"slice column '{col}' is not in the evaluation data")
            for label, mask in groups_of(ev[col]):
                n = int(mask.sum())
                value = subset_metrics(ctx, s, mask, model).get(main)
                scope = f"{col}={label}"
                gap = overall - value if overall is not None and value is not None else None
                judged = n >= DEFAULT_MIN_ROWS and gap is not None
                rows.append({"column": col, "slice": label, "rows": n, main: value, "gap": gap, "judged": judged})
                metrics.append(Metric(main, value, scope=scope, gate=False,
                                      note=None if judged else f"{n} row(s) (< {DEFAULT_MIN_ROWS}): not judged"))
                if judged and gap is not None and (worst is None or gap > worst[0]):
                    worst = (gap, scope)
        if worst is not None:
            metrics.append(judge("max_slice_gap", worst[0], t.max_slice_gap, metric="slice_gap", scope=worst[1]))
        elif t.max_slice_gap is not None:
            metrics.append(judge("max_slice_gap", None, t.max_slice_gap, metric="slice_gap",
                                 why=f"no slice has {DEFAULT_MIN_ROWS} rows or more"))
        chart = _svg.bars(f"{main} per slice (overall {overall:.3g})" if overall is not None else f"{main} per slice",
                          [(f"{r['column']}={r['slice']}", float(r[main] or 0.0)) for r in rows])
        return rows, metrics, chart
