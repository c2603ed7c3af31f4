"""The six metric kinds on hand-made windows, the health score, and the gateway's own log writer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engine.gateway.predlog import Exchange, Feedback, PredictionLog
from engine.monitoring.health import health, kind_scores
from engine.monitoring.kinds import anomaly, bias, kpis, operational, performance
from engine.monitoring.kinds.base import MIN_FEEDBACK_ROWS, KindContext
from engine.monitoring.logread import read_feedback, read_predictions
from engine.monitoring.measure import Measured
from engine.monitoring.window import Window
from engine.spec.model import ModelSpec
from engine.spec.workspace import load_workspace
from tests.conftest import PROJECT

SPEC_ID = "clinical/readmission-triage"


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_workspace(PROJECT).by_id()[SPEC_ID].spec


def table(**cols: list) -> pa.Table:
    n = len(next(iter(cols.values())))
    base = {"request_id": [f"r{i}" for i in range(n)], "row": [0] * n, "ts_ns": list(range(n)),
            "version": ["1.1.0"] * n, "route": ["champion"] * n, "latency_ms": [10.0] * n, "status": ["ok"] * n}
    base.update(cols)
    return pa.table(base)


def by_key(ms: list[Measured]) -> dict[str, Measured]:
    return {m.key: m for m in ms}


def test_operational_counts_each_request_once(spec: ModelSpec) -> None:
    t = table(request_id=["a", "a", "b", "c"], row=[0, 1, 0, 0], latency_ms=[100.0, 100.0, 10.0, 20.0],
              status=["ok", "ok", "error", "ok"])
    w = Window(SPEC_ID, 0, 60 * 10**9, t)
    m = by_key(operational.measure(KindContext(spec, w, None)))
    assert m["operational.error_rate"].value == pytest.approx(1 / 3)
    assert m["operational.error_rate"].high == 0.01 and m["operational.error_rate"].passed is False
    assert m["operational.request_rate"].value == pytest.approx(3 / 60)
    assert m["operational.latency_p50_ms"].value == pytest.approx(20.0)  # 100 once, not twice
    assert m["operational.latency_p99_ms"].value == pytest.approx(np.percentile([100, 10, 20], 99))


def test_shadow_rows_are_not_served_traffic(spec: ModelSpec) -> None:
    t = table(route=["champion", "shadow", "shadow"])
    assert Window(SPEC_ID, 0, 10, t).rows == 1


def test_anomaly_range_missing_unseen_and_outliers(spec: ModelSpec) -> None:
    n = 100
    age = np.full(n, 50.0)
    age[:10] = 200.0  # out of [18, 90] and far from the reference median
    bmi = np.full(n, 25.0)
    bmi[:3] = np.nan
    sex = np.array(["1"] * 95 + ["3"] * 5, dtype=object)
    t = table(**{"in.age": age.tolist(), "in.bmi": bmi.tolist(), "in.sex": sex.tolist()})
    from engine.validation.profile import Profile, numeric_profile

    prof = Profile(SPEC_ID, "1.1.0", "classification", 100,
                   {"age": numeric_profile(np.random.default_rng(0).normal(50, 10, 1000))})
    ctx = KindContext(spec, Window(SPEC_ID, 0, 10, t), prof)
    m = by_key(anomaly.measure(ctx))
    assert m["anomaly.out_of_range_rate"].value == pytest.approx(0.10) and m["anomaly.out_of_range_rate"].note == \
        "worst column: age"
    # bp, s1… are not logged at all: a declared input that is missing entirely is 100 % missing
    assert m["anomaly.missing_rate"].value == 1.0
    assert ctx.details["anomaly"]["missing"]["bmi"] == pytest.approx(0.03)
    assert m["anomaly.unseen_category_rate"].value == pytest.approx(0.05)
    assert m["anomaly.outlier_rate"].value == pytest.approx(0.10)


def test_performance_joins_feedback_last_label_wins(spec: ModelSpec) -> None:
    n = 40
    pred = [1.0] * 20 + [0.0] * 20
    t = table(prediction=pred, proba=[0.9] * 20 + [0.1] * 20)
    fb = pa.table({"request_id": [f"r{i}" for i in range(n)] + ["r0"], "row": [0] * (n + 1),
                   "ts_ns": [1] * n + [2], "label": [1.0] * 10 + [0.0] * 10 + [0.0] * 20 + [1.0]})
    w = Window(SPEC_ID, 0, 10, t, fb)
    ctx = KindContext(spec, w, None)
    m = by_key(performance.measure(ctx))
    # r0 relabelled 1 -> … the later label (1.0) wins; 10 of 20 positives right + 20 negatives right
    assert m["performance.accuracy"].value == pytest.approx(30 / 40)
    assert m["performance.accuracy"].low == 0.7 and m["performance.accuracy"].passed is True
    assert ctx.details["performance"]["labelled_rows"] == 40
    few = Window(SPEC_ID, 0, 10, t, fb.slice(0, MIN_FEEDBACK_ROWS - 1))
    m2 = by_key(performance.measure(KindContext(spec, few, None)))
    assert m2["performance.accuracy"].value is None and "not judged" in (m2["performance.accuracy"].note or "")


def test_bias_rates_over_a_sensitive_attribute(spec: ModelSpec) -> None:
    sex = ["1"] * 50 + ["2"] * 50
    pred = [1.0] * 40 + [0.0] * 10 + [1.0] * 20 + [0.0] * 30  # positive rates 0.8 and 0.4
    w = Window(SPEC_ID, 0, 10, table(**{"in.sex": sex, "prediction": pred}))
    m = by_key(bias.measure(KindContext(spec, w, None)))
    assert m["bias.demographic_parity_diff[sex]"].value == pytest.approx(0.4)
    assert m["bias.disparate_impact[sex]"].value == pytest.approx(0.5)
    assert m["bias.disparate_impact[sex]"].passed is False and m["bias.demographic_parity_diff[sex]"].passed is False
    assert m["bias.equalized_odds_diff[sex]"].value is None  # no feedback: no TPR/FPR


def test_kpi_from_spec(spec: ModelSpec) -> None:
    w = Window(SPEC_ID, 0, 10, table(prediction=[1.0, 1.0, 1.0, 0.0], status=["ok", "ok", "ok", "error"]))
    (m,) = kpis.measure(KindContext(spec, w, None))
    assert m.key == "kpi.referral_rate" and m.value == pytest.approx(1.0)  # failed requests do not count
    assert (m.low, m.high, m.passed) == (0.2, 0.6, False)


def test_scores_and_health(spec: ModelSpec) -> None:
    assert Measured("drift", "psi", 0.1, high=0.2).score == 1.0
    assert Measured("drift", "psi", 0.3, high=0.2).score == pytest.approx(0.5)
    assert Measured("drift", "psi", 0.5, high=0.2).score == 0.0
    assert Measured("performance", "accuracy", 0.35, low=0.7).score == pytest.approx(0.5)
    assert Measured("kpi", "r", 0.9, low=0.2, high=0.6).score == pytest.approx(0.5)
    # no value: fails closed (score 0, passed False) unless deliberately not judged (too few rows)
    assert Measured("kpi", "r", None, low=0.2).score == 0.0 and Measured("kpi", "r", None, low=0.2).passed is False
    waiting = Measured("kpi", "r", None, low=0.2, not_judged="no served rows")
    assert waiting.score is None and waiting.passed is None
    ms = [Measured("drift", "drifted_share", 0.6, high=0.3), Measured("drift", "psi", 9, high=0.2, gate=False),
          Measured("operational", "error_rate", 0.0, high=0.01),
          Measured("performance", "accuracy", None, low=0.7, not_judged="3 row(s) with feedback")]
    assert kind_scores(ms)["drift"] == 0.0 and kind_scores(ms)["performance"] is None
    h = health(spec, ms)
    # weights drift .25, operational .15; performance (no value) and the unjudged kinds drop out
    assert h.score == pytest.approx(0.15 / 0.40) and h.red and h.is_critical
    assert h.failing == ["drift.drifted_share"]


def test_reads_what_the_gateways_writer_writes(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_rows=1000)
    now = time.time_ns()
    feats = ["age", "bmi"]
    for i in range(3):
        req = {"inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [[50, 25], [60, 30]]}]}
        resp = json.dumps({"outputs": [{"name": "predict", "shape": [2, 1], "datatype": "INT64", "data": [1, 0]},
                                       {"name": "predict_proba", "shape": [2, 2], "datatype": "FP64",
                                        "data": [[0.2, 0.8], [0.7, 0.3]]}]}).encode()
        log.log_exchange(Exchange(f"q{i}", now + i, SPEC_ID, "1.1.0", "champion", 12.0, "ok", None, None, req, resp,
                                  feats))
    log.log_feedback([Feedback(SPEC_ID, "q0", 0, 1.0, now + 10)])
    log.close()
    t = read_predictions(tmp_path, SPEC_ID, now - 10**9, now + 10**9)
    assert t is not None and t.num_rows == 6
    fb = read_feedback(tmp_path, SPEC_ID, now - 10**9, now + 10**9)
    w = Window(SPEC_ID, now - 10**9, now + 10**9, t, fb)
    assert w.column("in.age").tolist() == [50.0, 60.0] * 3
    assert w.column("prediction").tolist() == [1.0, 0.0] * 3
    assert w.column("proba").tolist() == pytest.approx([0.8, 0.3] * 3)
    labels = w.labels()
    assert labels is not None and labels[0] == 1.0 and all(x is None for x in labels[1:])
    assert read_predictions(tmp_path, SPEC_ID, now + 10**10, now + 10**11) is None
