"""Monitoring PSI against a brute-force count (issue #22, item 4).

The reference implementation below follows the documented definition and nothing of the
product's code: inner edges are the sorted reference's values at ranks ``n*i//10`` (ties
collapse bins), a value belongs to the first bin whose upper edge it does not exceed
(right-closed), shares are floored at 1e-4, and PSI is ``sum((w - r) * ln(w / r))``. Every
value is placed by walking the edges one at a time; NaN is missing and counts nowhere.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from engine.monitoring.kinds import drift
from engine.monitoring.kinds.base import KindContext
from engine.monitoring.window import Window
from engine.spec.workspace import load_workspace
from engine.statistics.sketch import NumericSketch, numeric_reference, psi
from engine.validation.profile import Profile, numeric_profile
from tests.conftest import PROJECT

SPEC_ID = "clinical/readmission-triage"
BINS = 10
EPS = 1e-4


def brute_psi(reference: list[float], window: list[float]) -> float:
    """PSI by counting, one value at a time."""
    ref = sorted(x for x in reference if not math.isnan(x))
    win = [x for x in window if not math.isnan(x)]
    n = len(ref)
    edges: list[float] = []
    for i in range(1, BINS):
        e = ref[min(n * i // BINS, n - 1)]
        if e not in edges:
            edges.append(e)

    def shares(values: list[float]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for x in values:
            k = 0
            while k < len(edges) and x > edges[k]:
                k += 1
            counts[k] += 1
        return [c / len(values) for c in counts]

    total = 0.0
    for r, w in zip(shares(ref), shares(win), strict=True):
        r, w = max(r, EPS), max(w, EPS)
        total += (w - r) * math.log(w / r)
    return total


CASES = {
    "shifted normal": (lambda g: g.normal(0, 1, 4000), lambda g: g.normal(0.5, 1.4, 2500)),
    "same distribution": (lambda g: g.normal(3, 2, 3000), lambda g: g.normal(3, 2, 3000)),
    # integer values: many ties, so edges collapse and values sit exactly on edges
    "ties on the edges": (lambda g: g.integers(0, 5, 1000).astype(float),
                          lambda g: g.integers(0, 7, 800).astype(float)),
    # the window leaves some bins empty (the 1e-4 floor) and holds missing values
    "empty bins and NaN": (lambda g: g.uniform(0, 1, 2000),
                           lambda g: np.concatenate([g.uniform(0.9, 1.5, 500), [np.nan] * 20])),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sketch_psi_equals_brute_force(case: str) -> None:
    make_ref, make_win = CASES[case]
    g = np.random.default_rng(2201)
    ref, win = make_ref(g), make_win(g)
    r = numeric_reference(ref)
    w = NumericSketch.empty_like(r).add(win)
    value = psi(r, w)
    assert value is not None
    assert value == pytest.approx(brute_psi(ref.tolist(), win.tolist()), rel=1e-9, abs=1e-12)


def test_brute_force_reference_is_itself_right_on_a_hand_example() -> None:
    # reference 1..10: edges 2..10 at ranks 1..9 -> bins (-inf,2], (2,3], ..., (9,10], (10,inf)
    ref = [float(x) for x in range(1, 11)]
    # window: four values in the first bin, six beyond the reference's maximum
    win = [0.0, 1.0, 2.0, 2.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    r = [0.2] + [0.1] * 8 + [EPS]
    w = [0.4] + [EPS] * 8 + [0.6]
    expected = sum((b - a) * math.log(b / a) for a, b in zip(r, w, strict=True))
    assert brute_psi(ref, win) == pytest.approx(expected, rel=1e-12)


def test_drift_kind_reports_the_brute_force_psi_per_feature() -> None:
    spec = load_workspace(PROJECT).by_id()[SPEC_ID].spec
    g = np.random.default_rng(2202)
    ref_age, ref_bmi = g.normal(55, 12, 3000), g.normal(27, 4, 3000)
    win_age, win_bmi = g.normal(62, 12, 400), g.normal(27, 4, 400)
    prof = Profile(SPEC_ID, "1.1.0", "classification", 3000,
                   {"age": numeric_profile(ref_age), "bmi": numeric_profile(ref_bmi)})
    n = len(win_age)
    table = pa.table({"request_id": [f"r{i}" for i in range(n)], "row": [0] * n, "ts_ns": list(range(n)),
                      "version": ["1.1.0"] * n, "route": ["champion"] * n, "latency_ms": [10.0] * n,
                      "status": ["ok"] * n, "in.age": win_age.tolist(), "in.bmi": win_bmi.tolist()})
    m = {x.key: x for x in drift.measure(KindContext(spec, Window(SPEC_ID, 0, 10, table), prof))}
    assert m["drift.psi[age]"].value == pytest.approx(brute_psi(ref_age.tolist(), win_age.tolist()), rel=1e-9)
    assert m["drift.psi[bmi]"].value == pytest.approx(brute_psi(ref_bmi.tolist(), win_bmi.tolist()), rel=1e-9)
