"""Fast drift statistics equal scipy.stats on the same data (KS p-value to 1e-9)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.statistics.drift import ks_p_value, numeric_drift, psi_sorted, sort_finite, sorted_reference, two_sample

CASES = [
    (1000, 700, "normal", 0.1),
    (5000, 5000, "normal", 0.0),
    (500, 300, "ints", 0.0),
    (50, 3, "ints", 0.0),
    (20000, 15000, "normal", 0.02),   # p-value in the slow tail band of kstwo
    (20000, 15000, "normal", 0.04),
    (200000, 100000, "normal", 0.05),  # p below 1e-12: limiting distribution
    (3000, 4000, "heavy_ties", 0.0),
]


def sample(rng, n, kind, shift):
    if kind == "normal":
        return rng.normal(shift, 1, size=n)
    if kind == "ints":
        return rng.integers(0, 6, size=n).astype(float)
    return np.round(rng.exponential(1 + shift, size=n), 1)


@pytest.mark.parametrize("n1,n2,kind,shift", CASES)
def test_ks_wasserstein_equal_scipy(n1, n2, kind, shift):
    rng = np.random.default_rng(n1 + n2)
    a, b = sample(rng, n1, kind, 0.0), sample(rng, n2, kind, shift)
    ks, w = two_sample(np.sort(a), np.sort(b))
    p = ks_p_value(np.array([ks]), np.array([n1]), np.array([n2]))[0]
    expected = stats.ks_2samp(a, b, method="asymp")
    assert ks == expected.statistic
    assert abs(p - expected.pvalue) < 1e-9
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-15)


def test_numeric_drift_many_columns_threads_and_nans():
    rng = np.random.default_rng(5)
    ref = {f"c{i}": rng.normal(size=3000) for i in range(6)}
    ev = {f"c{i}": rng.normal(0.03 * i, 1, size=2000) for i in range(6)}
    ref["c0"][:100] = np.nan
    ev["c1"][:50] = np.nan
    sorted_ref = sorted_reference(ref, list(ref), threads=2)
    out = numeric_drift(sorted_ref, ev, threads=2)
    for c in ref:
        a, b = ref[c][~np.isnan(ref[c])], ev[c][~np.isnan(ev[c])]
        e = stats.ks_2samp(a, b, method="asymp")
        assert out[c].ks == e.statistic and abs(out[c].p_value - e.pvalue) < 1e-9
        assert out[c].n_ref == len(a) and out[c].n_eval == len(b)
        assert out[c].wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_psi_on_reference_deciles():
    rng = np.random.default_rng(2)
    r, e = np.sort(rng.normal(size=10000)), np.sort(rng.normal(0.5, 1, size=8000))
    edges = np.quantile(r, np.arange(1, 10) / 10, method="inverted_cdf")
    counts_r = np.histogram(r, np.concatenate([[-np.inf], edges, [np.inf]]))[0] / len(r)
    counts_e = np.histogram(e, np.concatenate([[-np.inf], edges, [np.inf]]))[0] / len(e)
    expected = np.sum((counts_e - counts_r) * np.log(counts_e / counts_r))
    assert psi_sorted(r, e) == pytest.approx(expected, rel=1e-2)  # histogram bins are left-closed
    assert psi_sorted(r, r) == 0.0
    assert psi_sorted(r, e) > 0.2


def test_sorted_reference_cache_is_reused(tmp_path):
    rng = np.random.default_rng(0)
    cols = {"a": rng.normal(size=1000), "b": rng.normal(size=1000)}
    first = sorted_reference(cols, ["a", "b"], digest="f" * 64, cache_dir=tmp_path)
    again = sorted_reference(None, ["a", "b"], digest="f" * 64, cache_dir=tmp_path)  # nothing to sort: cache only
    for c in cols:
        assert np.array_equal(first[c], again[c])
        assert np.array_equal(again[c], sort_finite(cols[c]))
    with pytest.raises(KeyError):
        sorted_reference(None, ["a"], digest="e" * 64, cache_dir=tmp_path)
