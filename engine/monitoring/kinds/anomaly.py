"""Anomaly: inputs outside the declared interface, and outlier scores against the profile.

Per input column: the share missing (for non-nullable features), outside the declared
``min``/``max``, and of categories the interface (or, when none are declared, the
reference profile) does not know. The gated value of each is the worst column's. Outlier
score of a row: its largest robust z-score ``|x - median| / (1.4826 * MAD)`` over numeric
inputs, with median and MAD from the reference profile; a row scoring above
``OUTLIER_Z`` is an outlier.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.monitoring.kinds.base import KindContext
from engine.monitoring.measure import Measured, bounded
from engine.statistics.sketch import category_keys
from engine.validation.profile import MAD_SCALE, is_categorical

OUTLIER_Z = 5.0


def _worst(kind: str, rates: dict[str, float], t: dict[str, float]) -> Measured:
    if not rates:
        return bounded("anomaly", kind, None, t,
                       not_judged="no column to judge (no input declares what this rate needs)")
    col = max(rates, key=lambda k: rates[k])
    return bounded("anomaly", kind, rates[col], t, note=f"worst column: {col}")


def measure(ctx: KindContext) -> list[Measured]:
    """Missing, out-of-range, unseen-category and outlier rates."""
    w = ctx.window
    t = ctx.thresholds.anomaly
    if w.rows == 0:
        return []
    missing: dict[str, float] = {}
    out_of_range: dict[str, float] = {}
    unseen: dict[str, float] = {}
    z_max = np.zeros(w.rows)
    for f in ctx.spec.spec.interface.inputs:
        col = f"in.{f.name}"
        if not w.has(col):
            missing[f.name] = 1.0
            continue
        v = w.column(col)
        if is_categorical(f):
            keys, n_missing = category_keys(v)
            if not f.nullable:
                missing[f.name] = n_missing / w.rows
            known: set[str] | None = None
            if f.categories is not None:
                known, _ = (set(category_keys(np.asarray(f.categories, dtype=object))[0].tolist()), 0)
            elif ctx.profile is not None and f.name in ctx.profile.features:
                cat = ctx.profile.features[f.name].categorical
                known = set(cat.counts) if cat is not None else None
            if known is not None and len(keys):
                unseen[f.name] = float(np.mean(~np.isin(keys, list(known))))
            continue
        x = v if v.dtype.kind == "f" else np.array([np.nan if a is None else float(a) for a in v], dtype=float)
        nan = np.isnan(x)
        if not f.nullable:
            missing[f.name] = float(nan.mean())
        if f.min is not None or f.max is not None:
            bad = np.zeros(len(x), dtype=bool)
            if f.min is not None:
                bad |= x < f.min
            if f.max is not None:
                bad |= x > f.max
            n = int((~nan).sum())
            out_of_range[f.name] = float(bad.sum() / n) if n else 0.0
        prof = ctx.profile.features.get(f.name) if ctx.profile is not None else None
        if prof is not None and prof.median is not None and prof.mad:
            z = np.abs(x - prof.median) / (MAD_SCALE * prof.mad)
            np.fmax(z_max, z, out=z_max)
    outliers = z_max > OUTLIER_Z
    details: dict[str, Any] = {"missing": missing, "out_of_range": out_of_range, "unseen_category": unseen,
                               "outlier_z": OUTLIER_Z, "mean_max_z": float(z_max.mean())}
    ctx.details["anomaly"] = details
    return [
        _worst("missing_rate", missing, t),
        _worst("out_of_range_rate", out_of_range, t),
        _worst("unseen_category_rate", unseen, t),
        bounded("anomaly", "outlier_rate", float(outliers.mean()), t),
    ]
