"""Equalized odds against an independent reference, in validation and in monitoring (issue #22).

The reference is a hand count written out in the test (and fairlearn's
``equalized_odds_difference`` where fairlearn is installed). The fixtures make the
false-positive-rate gap the larger one, so a metric that forgets the FPR term is caught: the
only biased fixture elsewhere in the suite has a larger TPR gap.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from engine.monitoring.kinds import bias
from engine.monitoring.kinds.base import MIN_FEEDBACK_ROWS, MIN_GROUP_ROWS, KindContext
from engine.monitoring.window import Window
from engine.spec.workspace import load_workspace
from engine.statistics.fairness import fairness, group_rates
from tests.conftest import PROJECT

SPEC_ID = "clinical/readmission-triage"

# group "1": 20 positives (16 predicted positive), 20 negatives (2 predicted positive): TPR 0.8, FPR 0.1
# group "2": 20 positives (14 predicted positive), 20 negatives (12 predicted positive): TPR 0.7, FPR 0.6
GROUP_COUNTS = {"1": (20, 16, 20, 2), "2": (20, 14, 20, 12)}  # positives, true positives, negatives, false positives
TPR_GAP, FPR_GAP = 0.8 - 0.7, 0.6 - 0.1


def _rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, label, prediction) per row, built from :data:`GROUP_COUNTS` in a fixed shuffled order."""
    group: list[str] = []
    y: list[int] = []
    p: list[int] = []
    for g, (pos, tp, neg, fp) in GROUP_COUNTS.items():
        group += [g] * (pos + neg)
        y += [1] * pos + [0] * neg
        p += [1] * tp + [0] * (pos - tp) + [1] * fp + [0] * (neg - fp)
    order = np.random.default_rng(22).permutation(len(y))
    return np.array(group)[order], np.array(y)[order], np.array(p)[order]


def _hand_eod(group: np.ndarray, y: np.ndarray, p: np.ndarray) -> float:
    """Largest gap in TPR or FPR between groups, by counting rows one at a time."""
    tpr: dict[str, float] = {}
    fpr: dict[str, float] = {}
    for g in sorted(set(group.tolist())):
        tp = fn = fp = tn = 0
        for gi, yi, pi in zip(group.tolist(), y.tolist(), p.tolist(), strict=True):
            if gi != g:
                continue
            if yi == 1:
                tp, fn = tp + (pi == 1), fn + (pi == 0)
            else:
                fp, tn = fp + (pi == 1), tn + (pi == 0)
        tpr[g], fpr[g] = tp / (tp + fn), fp / (fp + tn)
    return max(max(tpr.values()) - min(tpr.values()), max(fpr.values()) - min(fpr.values()))


def test_fixture_has_the_larger_gap_in_fpr() -> None:
    group, y, p = _rows()
    assert FPR_GAP > TPR_GAP
    assert _hand_eod(group, y, p) == pytest.approx(FPR_GAP)


def test_fairlearn_agrees_with_the_hand_count() -> None:
    fairlearn_metrics = pytest.importorskip("fairlearn.metrics")
    group, y, p = _rows()
    ref = fairlearn_metrics.equalized_odds_difference(y, p, sensitive_features=group)
    assert ref == pytest.approx(_hand_eod(group, y, p))


def test_validation_equalized_odds_includes_the_fpr_term() -> None:
    group, y, p = _rows()
    groups = {g: {"rows": int((group == g).sum()), **group_rates(y[group == g] == 1, p[group == g] == 1)}
              for g in GROUP_COUNTS}
    assert groups["1"]["tpr"] == pytest.approx(0.8) and groups["2"]["fpr"] == pytest.approx(0.6)
    f = fairness(groups)
    assert f["equalized_odds_diff"] == pytest.approx(_hand_eod(group, y, p))
    assert f["equalized_odds_diff"] == pytest.approx(FPR_GAP)


def test_monitoring_equalized_odds_with_labelled_feedback() -> None:
    group, y, p = _rows()
    n = len(y)
    assert n >= 2 * MIN_GROUP_ROWS and n >= MIN_FEEDBACK_ROWS
    spec = load_workspace(PROJECT).by_id()[SPEC_ID].spec
    ids = [f"r{i}" for i in range(n)]
    table = pa.table({"request_id": ids, "row": [0] * n, "ts_ns": list(range(n)), "version": ["1.1.0"] * n,
                      "route": ["champion"] * n, "latency_ms": [10.0] * n, "status": ["ok"] * n,
                      "in.sex": group.tolist(), "prediction": p.astype(float).tolist()})
    # feedback arrives for every row (the label as a float, as the gateway writes it)
    fb = pa.table({"request_id": ids, "row": [0] * n, "ts_ns": [1] * n, "label": y.astype(float).tolist()})
    ctx = KindContext(spec, Window(SPEC_ID, 0, 10, table, fb), None)
    m = {x.key: x for x in bias.measure(ctx)}
    eod = m["bias.equalized_odds_diff[sex]"]
    assert eod.value == pytest.approx(_hand_eod(group, y, p))
    assert eod.value == pytest.approx(FPR_GAP)
    groups = ctx.details["bias"]["sex"]["groups"]
    assert groups["1"]["tpr"] == pytest.approx(0.8) and groups["1"]["fpr"] == pytest.approx(0.1)
    assert groups["2"]["tpr"] == pytest.approx(0.7) and groups["2"]["fpr"] == pytest.approx(0.6)
    # the served positive rates (every row, feedback or not): 18/40 and 26/40
    assert m["bias.demographic_parity_diff[sex]"].value == pytest.approx(26 / 40 - 18 / 40)

