"""Drift: each input and the prediction against the version's reference profile.

Numeric inputs: PSI on the reference deciles (the validation drift check's bins and
formula, ``engine.statistics.drift.psi_from_shares``) and KS read off the percentile sketch, with
its asymptotic p-value (``engine.statistics.drift.ks_p_value``). Categorical inputs: Jensen-Shannon
distance (base 2) and PSI over categories, as the drift check. A feature drifts when any
declared per-feature threshold (``max_psi``, ``max_ks``, ``max_js``) is crossed; the gate is
``max_drifted_share`` when declared, else every per-feature value. The prediction is
compared on the rows the profiled version answered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.monitoring.kinds.base import KindContext
from engine.monitoring.measure import Measured, bounded
from engine.statistics.sketch import CategoricalSketch, NumericSketch, js_and_psi, ks, psi
from engine.validation.profile import FeatureProfile


def compare(ref: FeatureProfile, values: np.ndarray) -> dict[str, Any]:
    """Drift statistics of window values against one reference feature profile."""
    if ref.numeric is not None:
        v = values if values.dtype.kind == "f" else np.array(
            [np.nan if x is None else _to_float(x) for x in values], dtype=float)
        win = NumericSketch.empty_like(ref.numeric).add(v)
        d = ks(ref.numeric, win)
        p = ks_p_value(d, ref.numeric.count, win.count) if d is not None else None
        return {"kind": "numeric", "psi": psi(ref.numeric, win), "ks": d, "p_value": p, "n": win.count}
    assert ref.categorical is not None
    wc = CategoricalSketch().add(values)
    js, p_ = js_and_psi(ref.categorical, wc)
    return {"kind": "categorical", "js": js, "psi": p_, "n": wc.count}


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Asymptotic KS p-value from the Kolmogorov limit distribution (``scipy.special.kolmogorov``).

    The validation check uses ``kstwo`` with the effective sample size, which is exact but
    costs tens of milliseconds per column at monitoring sizes; for windows of thousands of
    rows the limit distribution differs from it in the third decimal. Reported, never gated.
    """
    from scipy.special import kolmogorov

    en = n1 * n2 / (n1 + n2)
    return float(kolmogorov(np.sqrt(en) * d))


def _to_float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def measure(ctx: KindContext) -> list[Measured]:
    """Per-feature drift (evidence), the drifted share and the prediction's PSI."""
    if ctx.profile is None or ctx.window.rows == 0:
        return []
    t = ctx.thresholds.drift
    per_feature: dict[str, dict[str, Any]] = {}
    out: list[Measured] = []
    gate_each = "max_drifted_share" not in t
    drifted: list[str] = []
    for name, ref in ctx.profile.features.items():
        col = f"in.{name}"
        if not ctx.window.has(col):
            continue
        stats = compare(ref, ctx.window.column(col))
        # no value of the feature in the window: anomaly.missing_rate judges that, drift cannot;
        # an empty reference is a broken profile and fails closed
        empty = None if stats["n"] else f"no non-missing value of {name} in this window: not judged"
        ms = [bounded("drift", k, stats.get(k), t, scope=name, gate=gate_each, not_judged=empty,
                      why=f"the reference profile holds no value of {name}")
              for k in (("psi", "ks") if stats["kind"] == "numeric" else ("psi", "js"))]
        stats["drifted"] = any(m.passed is False for m in ms)
        if stats["drifted"]:
            drifted.append(name)
        per_feature[name] = stats
        out.extend(ms)
    if per_feature and not gate_each:
        share = len(drifted) / len(per_feature)
        out.append(bounded("drift", "drifted_share", share, t,
                           note=", ".join(drifted[:8]) + ("…" if len(drifted) > 8 else "") if drifted else None))
    if ctx.profile.prediction is not None and ctx.window.has("prediction"):
        rows = ctx.window.column("version") == ctx.profile.version if ctx.window.has("version") else None
        pred = ctx.window.column("prediction")
        pred = pred[rows.astype(bool)] if rows is not None else pred
        if len(pred):
            stats = compare(ctx.profile.prediction, pred)
            per_feature["prediction"] = stats
            out.append(bounded("drift", "psi", stats["psi"], t, scope="prediction"))
    ctx.details["drift"] = {"features": per_feature, "drifted": drifted, "profile_version": ctx.profile.version}
    return out
