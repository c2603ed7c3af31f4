"""``drift``: reference vs evaluation distribution of every declared input.

Numeric features: Kolmogorov-Smirnov (statistic and asymptotic p-value), Wasserstein-1
(judged in reference-std units) and PSI on reference deciles, computed by
``engine.statistics.drift`` from sorted columns (the sorted reference is cached by the data's
sha256). Categorical features: chi-square test of homogeneity, Jensen-Shannon distance
(base 2) and PSI over categories, computed with scipy. A feature drifts when any set
threshold is crossed; the check fails when the drifted share exceeds ``max_drifted_share``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.spec.catalog_of_checks import DriftThresholds
from engine.spec.check_result import Metric, judge
from engine.spec.errors import CheckError
from engine.statistics.drift import numeric_drift, psi_from_shares, sorted_reference
from runners.base import Check, CheckContext, Outcome, is_categorical, register


def categorical_drift(ref: pd.Series, ev: pd.Series) -> dict[str, float]:
    """chi-square (statistic, p-value), Jensen-Shannon distance (base 2) and PSI of one categorical column."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency

    r = ref.dropna().map(_norm)
    e = ev.dropna().map(_norm)
    cats = sorted(set(r) | set(e), key=str)
    rc = r.value_counts().reindex(cats, fill_value=0).to_numpy(dtype=float)
    ec = e.value_counts().reindex(cats, fill_value=0).to_numpy(dtype=float)
    pr, pe = rc / rc.sum(), ec / ec.sum()
    if len(cats) < 2:
        chi2, p = 0.0, 1.0
    else:
        res = chi2_contingency(np.vstack([rc, ec]), correction=False)
        chi2, p = float(res.statistic), float(res.pvalue)
    return {
        "chi2": chi2,
        "p_value": p,
        "js": float(jensenshannon(pr, pe, base=2)),
        "psi": psi_from_shares(pr, pe),
        "categories": len(cats),
    }


def _norm(v: object) -> object:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, np.generic):
        return _norm(v.item())
    return v


@register
class Drift(Check):
    """Per-feature drift and the share of drifted features."""

    name = "drift"

    def run(self, ctx: CheckContext) -> Outcome:
        """Compare every declared input between reference and evaluation data."""
        t = ctx.thresholds
        assert isinstance(t, DriftThresholds)
        ref, ev = ctx.reference(), ctx.evaluation()
        time_column = ctx.validation().time_column
        features = [f for f in ctx.inputs() if f.name != time_column]  # time always "drifts"
        for where, frame in (("reference data", ref), ("evaluation data", ev)):
            missing = [f.name for f in features if f.name not in frame.columns]
            if missing:
                raise CheckError(f"{where} lacks declared input column(s): {', '.join(missing)}")
            empty = [f.name for f in features if frame[f.name].isna().all()]
            if empty:
                raise CheckError(f"{where}: column(s) {', '.join(empty)} hold no values (all missing)")
        numeric = [f.name for f in features if not is_categorical(f)]
        categorical = [f.name for f in features if is_categorical(f)]
        for name in numeric:
            for where, frame in (("reference data", ref), ("evaluation data", ev)):
                if not pd.api.types.is_numeric_dtype(frame[name]):
                    raise CheckError(f"{where}: numeric feature '{name}' holds non-numeric values")
        digest = ctx.loader.digests.get(ctx.validation().reference_data.uri)
        threads = ctx.options.get("threads")
        ref_sorted = sorted_reference(
            {n: ref[n].to_numpy(dtype=float) for n in numeric}, numeric,
            digest=digest, cache_dir=ctx.cache_dir if ctx.options.get("cache", True) else None, threads=threads,
        )
        num = numeric_drift(ref_sorted, {n: ev[n].to_numpy(dtype=float) for n in numeric}, threads=threads)
        metrics: list[Metric] = []
        per_feature: dict[str, dict[str, object]] = {}
        drifted: list[str] = []
        for name in numeric:
            d = num[name]
            w_std = d.wasserstein / d.ref_std if d.ref_std > 0 else (0.0 if d.wasserstein == 0 else None)
            ms = [
                judge("max_ks", d.ks, t.max_ks, metric="ks", scope=name, gate=False),
                judge("min_p_value", d.p_value, t.min_p_value, metric="ks_p_value", scope=name, gate=False),
                judge("max_wasserstein", w_std, t.max_wasserstein, metric="wasserstein_std", scope=name, gate=False,
                      note=None if d.ref_std > 0 else "constant reference column: not normalised"),
                judge("max_psi", d.psi, t.max_psi, metric="psi", scope=name, gate=False),
                Metric("wasserstein", d.wasserstein, scope=name, gate=False),
            ]
            metrics.extend(ms)
            per_feature[name] = {"kind": "numeric", "ks": d.ks, "p_value": d.p_value, "wasserstein": d.wasserstein,
                                 "wasserstein_std": w_std, "psi": d.psi, "n_ref": d.n_ref, "n_eval": d.n_eval,
                                 "drifted": any(m.passed is False for m in ms)}
            if per_feature[name]["drifted"]:
                drifted.append(name)
        for name in categorical:
            c = categorical_drift(ref[name], ev[name])
            ms = [
                judge("min_p_value", c["p_value"], t.min_p_value, metric="chi2_p_value", scope=name, gate=False),
                judge("max_js", c["js"], t.max_js, metric="js", scope=name, gate=False),
                judge("max_psi", c["psi"], t.max_psi, metric="psi", scope=name, gate=False),
                Metric("chi2", c["chi2"], scope=name, gate=False),
            ]
            metrics.extend(ms)
            per_feature[name] = {"kind": "categorical", **c, "drifted": any(m.passed is False for m in ms)}
            if per_feature[name]["drifted"]:
                drifted.append(name)
        total = len(numeric) + len(categorical)
        share = len(drifted) / total if total else 0.0
        limit = t.max_drifted_share if t.max_drifted_share is not None else 0.0
        metrics.append(judge("max_drifted_share", share, limit, metric="drifted_share",
                             note=None if t.max_drifted_share is not None else "no max_drifted_share: none may drift"))
        head = f"{len(drifted)} of {total} feature(s) drifted ({share:.0%}, allowed {limit:.0%})"
        if drifted:
            head += ": " + ", ".join(drifted[:8]) + ("..." if len(drifted) > 8 else "")
        return Outcome(metrics, head, {"features": per_feature, "drifted": drifted})
