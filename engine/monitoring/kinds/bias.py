"""Bias: group fairness of the served predictions over each sensitive attribute, on the window.

Positive rates come from every served row; TPR/FPR (equalized odds) from the rows with
feedback. The group statistics are the validation bias check's
(``engine.statistics.fairness.group_rates`` and ``fairness``). Groups with fewer than
``MIN_GROUP_ROWS`` rows are reported, not judged; regression models have no bias metrics here.
With two judged groups, a bounded metric without a value fails closed (disparate impact when no
group gets a positive prediction; equalized odds when enough feedback holds one class only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.monitoring.kinds.base import MIN_FEEDBACK_ROWS, MIN_GROUP_ROWS, KindContext
from engine.monitoring.measure import Measured, bounded
from engine.statistics.fairness import fairness, group_rates
from engine.statistics.sketch import row_keys


def measure(ctx: KindContext) -> list[Measured]:
    """DPD, DI and EOD per sensitive attribute."""
    t = ctx.thresholds.bias
    w = ctx.window
    sensitive = [f.name for f in ctx.spec.spec.interface.inputs if f.sensitive and w.has(f"in.{f.name}")]
    if ctx.spec.spec.task != "classification" or not sensitive or w.rows == 0 or not w.has("prediction"):
        return []
    pos = ctx.positive_key()
    p_pos = np.asarray(row_keys(w.column("prediction")) == pos, dtype=bool)
    labels = w.labels()
    out: list[Measured] = []
    details: dict[str, Any] = {}
    for col in sensitive:
        vals = w.column(f"in.{col}")
        keys = row_keys(vals)
        keys[keys == None] = "<missing>"  # noqa: E711 - elementwise on an object array
        groups: dict[str, dict[str, Any]] = {}
        for g in sorted(set(keys.tolist())):
            mask = keys == g
            n = int(mask.sum())
            rates: dict[str, Any] = {"rows": n, "positive_rate": float(p_pos[mask].mean()), "tpr": None, "fpr": None}
            if labels is not None:
                lab = labels[mask]
                has = np.array([x is not None for x in lab], dtype=bool)
                if has.any():
                    y_pos = np.asarray(row_keys(lab[has]) == pos, dtype=bool)
                    r = group_rates(y_pos, p_pos[mask][has])
                    rates.update(tpr=r["tpr"], fpr=r["fpr"])
            groups[g] = rates
        judged = {g: r for g, r in groups.items() if r["rows"] >= MIN_GROUP_ROWS and g != "<missing>"}
        f = fairness(judged) if len(judged) >= 2 else {
            "demographic_parity_diff": None, "disparate_impact": None, "equalized_odds_diff": None}
        skip = None if len(judged) >= 2 else f"fewer than 2 groups with {MIN_GROUP_ROWS}+ rows: not judged"
        labelled = sum(_labelled(labels, keys == g) for g in judged) if labels is not None else 0
        why = {
            "disparate_impact": f"no group of '{col}' got a positive prediction ({pos}): the ratio is 0/0",
            "equalized_odds_diff": f"fewer than 2 groups of '{col}' have feedback with both classes",
        }
        for name in ("demographic_parity_diff", "disparate_impact", "equalized_odds_diff"):
            wait = skip
            if wait is None and name == "equalized_odds_diff" and labelled < MIN_FEEDBACK_ROWS:
                wait = f"{labelled} row(s) with feedback in the judged groups (< {MIN_FEEDBACK_ROWS}): not judged"
            out.append(bounded("bias", name, f[name], t, scope=col, why=why.get(name), not_judged=wait))
        details[col] = {"groups": groups, **f}
    ctx.details["bias"] = details
    return out


def _labelled(labels: np.ndarray, mask: np.ndarray) -> int:
    """Rows of the group that have feedback."""
    return sum(1 for x in labels[mask] if x is not None)
