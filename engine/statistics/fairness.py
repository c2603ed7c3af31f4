"""Group fairness measures: per-group rates and the gaps between them.

Foundation (see :mod:`engine.statistics`): the ``bias`` validation check and the ``bias``
monitoring kind compute the same demographic parity difference, disparate impact ratio and
equalized odds difference from these two functions. Pure numerics; booleans in, numbers out.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def group_rates(y_pos: np.ndarray, p_pos: np.ndarray) -> dict[str, float | None]:
    """Positive rate, TPR, FPR and accuracy of one group (TPR/FPR ``None`` without positives/negatives)."""
    pos, neg = y_pos.sum(), (~y_pos).sum()
    return {
        "positive_rate": float(p_pos.mean()),
        "tpr": float((p_pos & y_pos).sum() / pos) if pos else None,
        "fpr": float((p_pos & ~y_pos).sum() / neg) if neg else None,
        "accuracy": float((p_pos == y_pos).mean()),
    }


def fairness(groups: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """DPD, DI and EOD over the judged groups' rates."""
    rates = [g["positive_rate"] for g in groups.values()]
    tprs = [g["tpr"] for g in groups.values() if g["tpr"] is not None]
    fprs = [g["fpr"] for g in groups.values() if g["fpr"] is not None]
    hi, lo = max(rates), min(rates)
    gaps = [max(v) - min(v) for v in (tprs, fprs) if len(v) >= 2]
    return {
        "demographic_parity_diff": hi - lo,
        "disparate_impact": (lo / hi) if hi > 0 else None,
        "equalized_odds_diff": max(gaps) if gaps else None,
    }
