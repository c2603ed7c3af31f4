"""Tests that kill mutants of ``engine.statistics`` (issue 22, ``make mutate``).

Every figure is checked against an outside reference: a hand count written in the test, or the
formula evaluated independently (numpy / scipy / scikit-learn called directly, never through
govops). Each test says which promise it defends.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.statistics.fairness import fairness, group_rates
from engine.statistics.metrics import (
    HIGHER_IS_BETTER,
    align_labels,
    classification_metrics,
    model_metrics,
    positive_index,
    primary_metric,
    regression_metrics,
)

# --- fairness: group rates by hand ---------------------------------------------------------------


def test_group_rates_match_a_hand_count() -> None:
    # y:    1 1 1 0 0 0 0 0   (3 positives, 5 negatives)
    # pred: 1 0 0 1 1 0 0 0   (TP=1, FN=2, FP=2, TN=3)
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    p = np.array([1, 0, 0, 1, 1, 0, 0, 0], dtype=bool)
    rates = group_rates(y, p)
    assert rates == {"positive_rate": 3 / 8, "tpr": 1 / 3, "fpr": 2 / 5, "accuracy": 4 / 8}


def test_group_rates_without_positives_or_negatives_leave_the_rate_undefined() -> None:
    only_neg = group_rates(np.array([False, False]), np.array([True, False]))
    assert only_neg["tpr"] is None and only_neg["fpr"] == 0.5
    only_pos = group_rates(np.array([True, True]), np.array([True, False]))
    assert only_pos["fpr"] is None and only_pos["tpr"] == 0.5


def test_equalized_odds_takes_the_larger_of_the_tpr_and_fpr_gaps() -> None:
    # FPR gap (0.6) larger than the TPR gap (0.1): a metric that forgot the FPR term says 0.1.
    groups = {
        "a": {"positive_rate": 0.5, "tpr": 0.8, "fpr": 0.1},
        "b": {"positive_rate": 0.4, "tpr": 0.7, "fpr": 0.7},
        "c": {"positive_rate": 0.2, "tpr": 0.75, "fpr": 0.3},
    }
    out = fairness(groups)
    assert out["equalized_odds_diff"] == pytest.approx(0.6)
    assert out["demographic_parity_diff"] == pytest.approx(0.3)
    assert out["disparate_impact"] == pytest.approx(0.2 / 0.5)
    # and the TPR gap wins when it is the larger one
    groups["b"]["fpr"] = 0.15
    groups["c"]["fpr"] = 0.12  # FPR gap now 0.05, TPR gap 0.1
    assert fairness(groups)["equalized_odds_diff"] == pytest.approx(0.1)


def test_equalized_odds_ignores_groups_without_a_rate_and_needs_two_groups() -> None:
    groups = {
        "a": {"positive_rate": 0.5, "tpr": 0.9, "fpr": None},
        "b": {"positive_rate": 0.5, "tpr": 0.4, "fpr": 0.2},
    }
    assert fairness(groups)["equalized_odds_diff"] == pytest.approx(0.5)  # only TPRs compare (one FPR)
    lonely = {
        "a": {"positive_rate": 0.5, "tpr": None, "fpr": None},
        "b": {"positive_rate": 0.5, "tpr": 0.4, "fpr": 0.2},
    }
    assert fairness(lonely)["equalized_odds_diff"] is None


def test_disparate_impact_is_undefined_when_no_group_gets_a_positive() -> None:
    none = {"positive_rate": 0.0, "tpr": None, "fpr": 0.0}
    groups = {"a": dict(none), "b": dict(none)}
    out = fairness(groups)
    assert out["disparate_impact"] is None
    assert out["demographic_parity_diff"] == 0.0
    assert out["equalized_odds_diff"] == 0.0


# --- model metrics ---------------------------------------------------------------------------------


def test_primary_metric_per_task() -> None:
    assert primary_metric("classification") == "accuracy"
    assert primary_metric("regression") == "r2"
    assert HIGHER_IS_BETTER == {"accuracy": True, "roc_auc": True, "f1": True, "log_loss": False,
                                "rmse": False, "mae": False, "r2": True}


def test_positive_index_binary_and_multiclass() -> None:
    assert positive_index(np.array([0, 1]), None) == 1
    assert positive_index(np.array(["no", "yes"]), "no") == 0
    assert positive_index(np.array(["no", "yes"]), "yes") == 1
    assert positive_index(np.array([0, 1]), "1") == 1  # compared as text: "1" names the class 1
    assert positive_index(np.array([0, 1]), "maybe") is None
    assert positive_index(np.array(["a", "b", "c"]), None) is None
    assert positive_index(np.array(["a", "b", "c"]), "c") == 2
    assert positive_index(np.array(["a", "b", "c"]), "a") == 0
    assert positive_index(np.array(["a", "b", "c"]), "z") is None


def test_binary_classification_metrics_by_hand() -> None:
    classes = np.array([0, 1])
    y = np.array([1, 1, 0, 0])
    pred = np.array([1, 0, 0, 0])
    proba1 = np.array([0.9, 0.4, 0.3, 0.2])
    proba = np.column_stack([1 - proba1, proba1])
    out = classification_metrics(y, pred, proba, classes)
    assert out["accuracy"] == pytest.approx(3 / 4)
    # positive class 1: TP=1, FP=0, FN=1 -> precision 1, recall 1/2 -> F1 = 2/3
    assert out["f1"] == pytest.approx(2 / 3)
    # every positive scores above every negative except 0.4 vs 0.3/0.2, which is also above: AUC = 1
    assert out["roc_auc"] == pytest.approx(1.0)
    expected_ll = -(math.log(0.9) + math.log(0.4) + math.log(0.7) + math.log(0.8)) / 4
    assert out["log_loss"] == pytest.approx(expected_ll)
    # the declared positive class changes F1 and AUC: positive 0 -> TP=2, FP=1, FN=0 -> F1 = 4/5
    out0 = classification_metrics(y, pred, proba, classes, positive=0)
    assert out0["f1"] == pytest.approx(4 / 5)
    assert out0["roc_auc"] == pytest.approx(1.0)
    assert set(out) == {"accuracy", "f1", "roc_auc", "log_loss"}


def test_binary_auc_uses_the_positive_column() -> None:
    classes = np.array([0, 1])
    y = np.array([1, 0, 1, 0])
    p1 = np.array([0.8, 0.6, 0.3, 0.1])  # pairs (pos, neg): (.8,.6) (.8,.1) (.3,.6)x (.3,.1) -> 3/4
    out = classification_metrics(y, (p1 > 0.5).astype(int), np.column_stack([1 - p1, p1]), classes)
    assert out["roc_auc"] == pytest.approx(3 / 4)


def test_multiclass_metrics_by_hand() -> None:
    classes = np.array(["a", "b", "c"])
    y = np.array(["a", "b", "c", "a"])
    pred = np.array(["a", "b", "b", "a"])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    out = classification_metrics(y, pred, proba, classes)
    assert out["accuracy"] == pytest.approx(3 / 4)
    # per class F1: a: 1, b: P=1/2 R=1 -> 2/3, c: 0  -> macro = (1 + 2/3 + 0) / 3
    assert out["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    # one-vs-rest AUCs: a: 1 (0.7,0.6 over 0.1,0.2); b: 1 (0.8 over 0.2,0.5,0.3); c: 1 (0.3 over 0.1s) -> 1
    assert out["roc_auc"] == pytest.approx(1.0)
    expected_ll = -(math.log(0.7) + math.log(0.8) + math.log(0.3) + math.log(0.6)) / 4
    assert out["log_loss"] == pytest.approx(expected_ll)


def test_multiclass_auc_is_none_for_labels_outside_the_classes() -> None:
    classes = np.array(["a", "b", "c"])
    y = np.array(["a", "b", "z"])
    proba = np.full((3, 3), 1 / 3)
    assert classification_metrics(y, np.array(["a", "b", "c"]), proba, classes)["roc_auc"] is None


def test_one_class_in_the_rows_leaves_auc_undefined_but_log_loss_defined() -> None:
    classes = np.array([0, 1])
    y = np.array([1, 1])
    proba = np.array([[0.2, 0.8], [0.4, 0.6]])
    out = classification_metrics(y, np.array([1, 1]), proba, classes)
    assert out["roc_auc"] is None
    assert out["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert out["accuracy"] == 1.0


def test_without_probabilities_auc_and_log_loss_are_none() -> None:
    out = classification_metrics(np.array([0, 1]), np.array([0, 0]), None, np.array([0, 1]))
    assert out == {"accuracy": 0.5, "f1": 0.0, "roc_auc": None, "log_loss": None}


def test_labels_read_as_text_are_aligned_to_the_model_classes() -> None:
    classes = np.array([0, 1])
    aligned = align_labels(np.array(["1", "0"]), classes)
    assert aligned.dtype == classes.dtype and aligned.tolist() == [1, 0]
    assert align_labels(np.array([], dtype=str), classes).dtype.kind == "U"  # empty: left as is
    unconvertible = align_labels(np.array(["x", "y"]), classes)
    assert unconvertible.tolist() == ["x", "y"]
    out = classification_metrics(np.array(["1", "0"]), np.array([1, 0]), None, classes)
    assert out["accuracy"] == 1.0


def test_regression_metrics_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.5, 2.0, 2.0, 5.0])
    out = regression_metrics(y, pred)
    errors = [0.5, 0.0, -1.0, 1.0]
    assert out["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 4))
    assert out["mae"] == pytest.approx(sum(abs(e) for e in errors) / 4)
    ss_res = sum(e * e for e in errors)
    ss_tot = sum((v - 2.5) ** 2 for v in y)
    assert out["r2"] == pytest.approx(1 - ss_res / ss_tot)
    one = regression_metrics(np.array([3.0]), np.array([1.0]))
    assert one == {"rmse": 2.0, "mae": 2.0, "r2": None}


def test_model_metrics_dispatches_on_the_task_and_the_model_classes() -> None:
    class Model:
        classes_ = np.array(["no", "yes"])

    out = model_metrics("classification", Model(), np.array(["yes", "no"]), np.array(["yes", "yes"]), None,
                        positive="no")
    assert out["accuracy"] == 0.5 and out["f1"] == 0.0  # positive "no": TP=0 -> F1 = 0
    out_default = model_metrics("classification", object(), np.array([0, 1, 1]), np.array([0, 1, 0]), None)
    assert out_default["accuracy"] == pytest.approx(2 / 3)
    assert out_default["f1"] == pytest.approx(2 / 3)  # classes from the labels: positive 1, P=1, R=1/2
    assert model_metrics("regression", None, np.array([1.0, 3.0]), np.array([1.0, 1.0]), None)["mae"] == 1.0


# --- drift: against scipy called directly and a brute-force PSI --------------------------------------

from pathlib import Path  # noqa: E402

from scipy import stats as sps  # noqa: E402

from engine.statistics import drift as dr  # noqa: E402
from engine.statistics import sketch as sk  # noqa: E402


def brute_psi(ref: list[float], ev: list[float], bins: int = 10, eps: float = 1e-4) -> float:
    """PSI with bins cut at the reference values of rank n*i//bins (right-closed), counted one value at a time."""
    r = sorted(ref)
    n = len(r)
    edges = sorted({r[min(n * i // bins, n - 1)] for i in range(1, bins)})

    def shares(values: list[float]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for v in values:
            k = 0
            while k < len(edges) and v > edges[k]:
                k += 1
            counts[k] += 1
        return [c / len(values) for c in counts]

    total = 0.0
    for a, b in zip(shares(ref), shares(ev), strict=True):
        a, b = max(a, eps), max(b, eps)
        total += (b - a) * math.log(b / a)
    return total


def test_two_sample_matches_scipy_with_and_without_ties() -> None:
    rng = np.random.default_rng(7)
    for r, e in [
        (rng.normal(0, 1, 300), rng.normal(0.3, 1.2, 200)),
        (rng.integers(0, 5, 300).astype(float), rng.integers(1, 7, 150).astype(float)),  # ties
        (np.array([1.0, 2.0, 3.0]), np.array([10.0, 11.0])),  # eval entirely above
        (np.array([10.0, 11.0]), np.array([1.0, 2.0, 3.0])),  # eval entirely below
        (np.array([1.0]), np.array([1.0])),
    ]:
        rs, es = np.sort(r), np.sort(e)
        ks, w = dr.two_sample(rs, es)
        assert ks == pytest.approx(sps.ks_2samp(r, e).statistic, abs=1e-12)
        assert w == pytest.approx(sps.wasserstein_distance(r, e), abs=1e-9)


def test_ks_p_value_matches_scipy_asymptotic() -> None:
    rng = np.random.default_rng(11)
    pairs = [(rng.normal(0, 1, 120), rng.normal(0.2, 1, 80)), (rng.normal(0, 1, 400), rng.normal(2.5, 1, 300)),
             (rng.normal(0, 1, 50), rng.normal(0, 1, 500))]
    d = np.array([sps.ks_2samp(a, b).statistic for a, b in pairs])
    p = dr.ks_p_value(d, np.array([len(a) for a, _ in pairs]), np.array([len(b) for _, b in pairs]))
    for (a, b), got in zip(pairs, p, strict=True):
        assert got == pytest.approx(sps.ks_2samp(a, b, method="asymp").pvalue, abs=1e-12)
    assert dr.TINY_P == 1e-12


def test_psi_matches_a_brute_force_count() -> None:
    rng = np.random.default_rng(3)
    for ref, ev in [(rng.normal(0, 1, 500), rng.normal(0.5, 1, 300)),
                    (rng.integers(0, 4, 200).astype(float), rng.integers(0, 6, 100).astype(float)),
                    (rng.normal(0, 1, 7), rng.normal(0, 1, 5))]:
        assert dr.psi_sorted(np.sort(ref), np.sort(ev)) == pytest.approx(brute_psi(list(ref), list(ev)), abs=1e-12)
    ref = rng.normal(0, 1, 100)
    ev = rng.normal(1, 1, 100)
    assert dr.psi_sorted(np.sort(ref), np.sort(ev), bins=4) == pytest.approx(brute_psi(list(ref), list(ev), 4))
    assert (dr.PSI_BINS, dr.PSI_EPS) == (10, 1e-4)


def test_quantile_edges_and_psi_from_shares_by_hand() -> None:
    r = np.arange(1.0, 11.0)  # 1..10
    assert dr.quantile_edges(r, 5).tolist() == [3.0, 5.0, 7.0, 9.0]  # ranks 2, 4, 6, 8
    assert dr.quantile_edges(np.array([1.0, 1.0, 1.0, 2.0]), 4).tolist() == [1.0, 2.0]  # ties collapse
    assert dr.quantile_edges(np.array([5.0]), 10).tolist() == [5.0]
    assert dr.psi_from_shares(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    expected = (0.75 - 0.25) * math.log(0.75 / 0.25) + (0.25 - 0.75) * math.log(0.25 / 0.75)
    assert dr.psi_from_shares(np.array([0.25, 0.75]), np.array([0.75, 0.25])) == pytest.approx(expected)
    floored = (0.5 - 1e-4) * math.log(0.5 / 1e-4) + (0.5 - 1.0) * math.log(0.5 / 1.0)
    assert dr.psi_from_shares(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == pytest.approx(floored)
    assert dr.psi_from_shares(np.array([0.0, 1.0]), np.array([0.5, 0.5]), eps=0.1) == pytest.approx(
        (0.5 - 0.1) * math.log(0.5 / 0.1) + (0.5 - 1.0) * math.log(0.5))


def test_sort_finite_drops_nans() -> None:
    assert dr.sort_finite(np.array([3.0, np.nan, 1.0, np.nan, 2.0])).tolist() == [1.0, 2.0, 3.0]
    assert dr.sort_finite(np.array([np.nan])).tolist() == []
    assert dr.sort_finite(np.array([], dtype=float)).tolist() == []
    assert dr.sort_finite([2, 1]).dtype == np.float64


def test_numeric_drift_against_scipy_and_brute_force() -> None:
    rng = np.random.default_rng(5)
    ref = {"a": rng.normal(0, 1, 300), "b": rng.normal(5, 2, 250), "empty": np.array([np.nan, np.nan])}
    ev = {"a": np.append(rng.normal(0.4, 1, 200), np.nan), "b": rng.normal(5, 2, 100), "empty": np.array([1.0])}
    out = dr.numeric_drift(dr.sorted_reference(ref, list(ref)), ev, threads=2)
    assert set(out) == {"a", "b"}  # a column without values on one side has no statistics
    for name in ("a", "b"):
        e = ev[name][~np.isnan(ev[name])]
        got = out[name]
        assert got.ks == pytest.approx(sps.ks_2samp(ref[name], e).statistic, abs=1e-12)
        assert got.p_value == pytest.approx(sps.ks_2samp(ref[name], e, method="asymp").pvalue, abs=1e-12)
        assert got.wasserstein == pytest.approx(sps.wasserstein_distance(ref[name], e), abs=1e-9)
        assert got.psi == pytest.approx(brute_psi(list(ref[name]), list(e)), abs=1e-12)
        assert (got.n_ref, got.n_eval) == (len(ref[name]), len(e))
        assert got.ref_std == pytest.approx(float(np.std(ref[name])))
    four = dr.numeric_drift(dr.sorted_reference(ref, ["a"]), {"a": ev["a"]}, bins=4)
    assert four["a"].psi == pytest.approx(brute_psi(list(ref["a"]), list(ev["a"][:-1]), 4), abs=1e-12)
    assert dr.numeric_drift({}, {}) == {}


def test_sorted_reference_cache_round_trip_and_refusals(tmp_path: Path) -> None:
    cols = {"x": np.array([3.0, 1.0, np.nan, 2.0]), "y": np.array([5.0, 4.0])}
    first = dr.sorted_reference(cols, ["x", "y"], digest="d1", cache_dir=tmp_path, threads=1)
    assert first["x"].tolist() == [1.0, 2.0, 3.0] and first["y"].tolist() == [4.0, 5.0]
    path = dr._cache_file(tmp_path, "d1", "x")
    assert path.parent == tmp_path / "sorted" / "d1" and path.suffix == ".npz" and len(path.stem) == 32
    assert path.exists() and not list(path.parent.glob("*.tmp.npz"))
    assert dr._cache_file(tmp_path, "d1", "y") != path
    # everything cached: no columns needed
    cached = dr.sorted_reference(None, ["x", "y"], digest="d1", cache_dir=tmp_path)
    assert cached["x"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(KeyError, match="columns not cached: z"):
        dr.sorted_reference(None, ["x", "z"], digest="d1", cache_dir=tmp_path)
    # an entry is only used for its own digest and column, and for a column it fits
    assert dr._read_cached(path, "d2", "x", None) is None
    assert dr._read_cached(path, "d1", "y", None) is None
    assert dr._read_cached(path, "d1", "x", np.array([1.0, 2.0, 3.0, np.nan])).tolist() == [1.0, 2.0, 3.0]
    assert dr._read_cached(path, "d1", "x", np.array([1.0, 2.0])) is None  # count differs
    assert dr._read_cached(path, "d1", "x", np.array([0.0, 2.0, 3.0])) is None  # minimum differs
    assert dr._read_cached(path, "d1", "x", np.array([1.0, 2.0, 4.0])) is None  # maximum differs
    assert dr._read_cached(tmp_path / "missing.npz", "d1", "x", None) is None
    # a changed column under the same digest is re-sorted, not served stale
    fresh = dr.sorted_reference({"x": np.array([9.0, 8.0])}, ["x"], digest="d1", cache_dir=tmp_path)
    assert fresh["x"].tolist() == [8.0, 9.0]


def _entry(path: Path, s: np.ndarray, fmt: str = dr.CACHE_FORMAT, source: str = "d", column: str = "x") -> Path:
    np.savez(path, sorted=s, format=np.array(fmt), source=np.array(source), column=np.array(column))
    return path


@pytest.mark.parametrize("s", [
    np.array([2.0, 1.0]),  # not ascending
    np.array([1.0, np.nan]),  # NaN
    np.array([[1.0, 2.0]]),  # not 1-D
    np.array([1, 2], dtype=np.int64),  # not float64
])
def test_a_damaged_cache_entry_is_ignored(tmp_path: Path, s: np.ndarray) -> None:
    assert dr._read_cached(_entry(tmp_path / "e.npz", s), "d", "x", None) is None


def test_cache_entry_checks_its_own_record(tmp_path: Path) -> None:
    ok = _entry(tmp_path / "ok.npz", np.array([1.0, 2.0]))
    assert dr._read_cached(ok, "d", "x", None).tolist() == [1.0, 2.0]
    assert dr._read_cached(_entry(tmp_path / "f.npz", np.array([1.0]), fmt="other"), "d", "x", None) is None
    assert dr._read_cached(_entry(tmp_path / "e.npz", np.zeros(0)), "d", "x", np.array([np.nan])).tolist() == []
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert dr._read_cached(tmp_path / "junk.npz", "d", "x", None) is None


def test_an_unwritable_cache_costs_only_a_sort(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = dr.sorted_reference({"x": np.array([2.0, 1.0])}, ["x"], digest="d", cache_dir=blocker)
    assert out["x"].tolist() == [1.0, 2.0]


def test_thread_count() -> None:
    assert dr._threads(4, 2) == 2 and dr._threads(1, 5) == 1 and dr._threads(3, 0) == 1
    assert dr._threads(None, 1) == 1 and dr._threads(0, 3) >= 1


# --- sketches: brute-force bin counts, merge, JSON round trip ----------------------------------------


def brute_counts(values: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for v in values:
        if math.isnan(v):
            continue
        counts[sum(1 for e in edges if v > e)] += 1
    return counts


def test_numeric_reference_counts_by_brute_force() -> None:
    rng = np.random.default_rng(9)
    v = np.append(rng.normal(0, 1, 400), [np.nan, np.nan])
    ref = sk.numeric_reference(v)
    finite = v[~np.isnan(v)]
    assert ref.psi_edges.tolist() == dr.quantile_edges(np.sort(finite), 10).tolist()
    assert ref.ks_edges.tolist() == dr.quantile_edges(np.sort(finite), 100).tolist()
    assert ref.psi_counts.tolist() == brute_counts(list(v), ref.psi_edges.tolist())
    assert ref.ks_counts.tolist() == brute_counts(list(v), ref.ks_edges.tolist())
    assert (ref.count, ref.missing) == (400, 2)
    assert ref.min == finite.min() and ref.max == finite.max()
    assert ref.total == pytest.approx(finite.sum()) and ref.total_sq == pytest.approx((finite ** 2).sum())
    assert ref.mean == pytest.approx(finite.mean())
    assert (sk.PSI_BINS, sk.KS_BINS) == (10, 100)
    small = sk.numeric_reference(np.arange(1.0, 11.0), psi_bins=5, ks_bins=2)
    assert small.psi_edges.tolist() == [3.0, 5.0, 7.0, 9.0] and small.ks_edges.tolist() == [6.0]


def test_an_empty_reference() -> None:
    ref = sk.numeric_reference(np.array([np.nan, np.nan]))
    assert ref.count == 0 and ref.missing == 2 and ref.mean is None
    assert ref.psi_counts.tolist() == [0] and ref.ks_counts.tolist() == [0]
    assert sk.psi(ref, ref) is None and sk.ks(ref, ref) is None
    assert ref.to_data()["min"] is None and ref.to_data()["max"] is None


def test_window_sketches_merge_and_compare() -> None:
    rng = np.random.default_rng(13)
    r = rng.normal(0, 1, 500)
    w1, w2 = rng.normal(0.5, 1, 120), np.append(rng.normal(0.5, 1, 80), np.nan)
    ref = sk.numeric_reference(r)
    a = sk.NumericSketch.empty_like(ref).add(w1)
    b = sk.NumericSketch.empty_like(ref).add(w2)
    both = a.merge(b)
    whole = np.concatenate([w1, w2[:-1]])
    assert both.psi_counts.tolist() == brute_counts(list(whole), ref.psi_edges.tolist())
    assert (both.count, both.missing) == (200, 1)
    assert both.min == whole.min() and both.max == whole.max()
    assert both.total == pytest.approx(whole.sum()) and both.total_sq == pytest.approx((whole ** 2).sum())
    # PSI on the sketch equals the drift check's PSI on raw values (the promise of the module)
    assert sk.psi(ref, both) == pytest.approx(brute_psi(list(r), list(whole)), abs=1e-12)
    # KS off the percentile edges: the max gap of the two empirical CDFs at those edges, by hand
    edges = ref.ks_edges.tolist()
    gaps = [abs(sum(x <= e for x in r) / len(r) - sum(x <= e for x in whole) / len(whole)) for e in edges]
    assert sk.ks(ref, both) == pytest.approx(max(gaps), abs=1e-12)
    assert sk.ks(ref, both) <= sps.ks_2samp(r, whole).statistic + 1e-12
    assert a.add(np.array([np.nan])).count == 120 and a.missing == 1
    with pytest.raises(ValueError, match="cannot merge sketches over different edges"):
        a.merge(sk.numeric_reference(rng.normal(0, 1, 50)))


def test_ks_without_inner_edges_is_zero() -> None:
    ref = sk.numeric_reference(np.array([1.0, 1.0, 1.0]))
    assert ref.ks_edges.tolist() == [1.0]
    one_edge = sk.NumericSketch(np.zeros(0), np.zeros(0), np.zeros(1, np.int64), np.zeros(1, np.int64))
    one_edge.add(np.array([1.0, 2.0]))
    assert sk.ks(one_edge, one_edge) == 0.0


def test_numeric_sketch_json_round_trip() -> None:
    ref = sk.numeric_reference(np.array([1.0, 2.0, 3.0, np.nan]), psi_bins=2, ks_bins=2)
    data = ref.to_data()
    assert data == {"psi_edges": [2.0], "ks_edges": [2.0], "psi_counts": [2, 1], "ks_counts": [2, 1],
                    "count": 3, "missing": 1, "min": 1.0, "max": 3.0, "total": 6.0, "total_sq": 14.0}
    back = sk.NumericSketch.from_data(json.loads(json.dumps(data)))
    assert back.to_data() == data and back.psi_counts.dtype == np.int64 and back.psi_edges.dtype == np.float64
    empty = sk.NumericSketch.from_data({**data, "min": None, "max": None, "count": 0})
    assert empty.min == math.inf and empty.max == -math.inf


def test_categorical_sketches() -> None:
    a = sk.CategoricalSketch().add(np.array(["x", "y", "x", None, np.nan], dtype=object))
    assert a.counts == {"x": 2, "y": 1} and a.missing == 2 and a.count == 3
    b = sk.CategoricalSketch().add(np.array([1, 1.0, "1"], dtype=object))
    b.add(np.array([True, False, True]))
    assert b.counts == {"1": 3, "true": 2, "false": 1}
    b.add(np.array([None], dtype=object))
    m = a.merge(b)
    assert m.counts == {"x": 2, "y": 1, "1": 3, "true": 2, "false": 1} and m.missing == 3
    assert a.counts == {"x": 2, "y": 1}  # merge makes a new object
    assert m.to_data() == {"counts": {"1": 3, "false": 1, "true": 2, "x": 2, "y": 1}, "missing": 3}
    assert sk.CategoricalSketch.from_data({"counts": {"1": "3"}, "missing": "2"}) == sk.CategoricalSketch({"1": 3}, 2)


@pytest.mark.parametrize(("value", "key"), [
    (True, "true"), (np.bool_(False), "false"), (1.0, "1"), (np.float64(2.5), "2.5"), (np.int64(7), "7"),
    (3, "3"), ("a", "a"), (-0.0, "0"), (1e20, "100000000000000000000"),
])
def test_category_key(value: object, key: str) -> None:
    assert sk.category_key(value) == key


def test_row_keys_and_category_keys() -> None:
    vals = np.array(["a", None, 1.0, "a"], dtype=object)
    assert sk.row_keys(vals).tolist() == ["a", None, "1", "a"]
    keys, missing = sk.category_keys(vals)
    assert keys.tolist() == ["a", "1", "a"] and missing == 1 and keys.dtype.kind == "U"


def test_js_and_psi_by_hand() -> None:
    ref = sk.CategoricalSketch({"a": 3, "b": 1})
    win = sk.CategoricalSketch({"a": 1, "b": 1, "c": 2})
    js, psi = sk.js_and_psi(ref, win)
    p = [0.75, 0.25, 0.0]
    q = [0.25, 0.25, 0.5]
    m = [(x + y) / 2 for x, y in zip(p, q, strict=True)]

    def kl(x: list[float], y: list[float]) -> float:
        return sum(a * math.log2(a / b) for a, b in zip(x, y, strict=True) if a > 0)

    assert js == pytest.approx(math.sqrt((kl(p, m) + kl(q, m)) / 2))
    expected_psi = sum((max(b, 1e-4) - max(a, 1e-4)) * math.log(max(b, 1e-4) / max(a, 1e-4))
                       for a, b in zip(p, q, strict=True))
    assert psi == pytest.approx(expected_psi)
    assert sk.js_and_psi(sk.CategoricalSketch(), win) == (None, None)
    assert sk.js_and_psi(ref, sk.CategoricalSketch()) == (None, None)


# --- survivors of the first `make mutate` run --------------------------------------------------------


def test_psi_and_drift_of_a_single_evaluation_value() -> None:
    ref = np.arange(1.0, 21.0)
    e = np.array([7.5])
    assert dr.psi_sorted(ref, e) == pytest.approx(brute_psi(list(ref), [7.5]), abs=1e-12)
    out = dr.numeric_drift({"x": ref}, {"x": e})
    assert out["x"].n_eval == 1 and out["x"].ks == pytest.approx(sps.ks_2samp(ref, e).statistic)


def test_a_cache_entry_with_ties_is_used_and_an_unsorted_one_is_not(tmp_path: Path) -> None:
    ties = _entry(tmp_path / "t.npz", np.array([1.0, 1.0, 2.0]))
    assert dr._read_cached(ties, "d", "x", np.array([2.0, 1.0, 1.0])).tolist() == [1.0, 1.0, 2.0]
    assert dr._read_cached(_entry(tmp_path / "u.npz", np.array([1.0, 3.0, 2.0])), "d", "x", None) is None


def test_the_cache_folder_is_private(tmp_path: Path) -> None:
    dr.sorted_reference({"x": np.array([2.0, 1.0])}, ["x"], digest="d", cache_dir=tmp_path)
    assert (tmp_path / "sorted" / "d").stat().st_mode & 0o777 == 0o700


def test_without_a_digest_nothing_is_cached(tmp_path: Path) -> None:
    out = dr.sorted_reference({"x": np.array([2.0, 1.0])}, ["x"], cache_dir=tmp_path)
    assert out["x"].tolist() == [1.0, 2.0] and list(tmp_path.iterdir()) == []
    assert dr.sorted_reference({"x": np.array([3.0])}, ["x"], digest="d")["x"].tolist() == [3.0]  # no cache dir
    with pytest.raises(KeyError) as caught:
        dr.sorted_reference(None, ["y", "z"], digest="d", cache_dir=tmp_path)
    assert caught.value.args[0] == "columns not cached: y, z"


def test_merging_needs_both_sets_of_edges_equal_and_keeps_them() -> None:
    a = sk.numeric_reference(np.arange(1.0, 101.0))
    other_ks = sk.NumericSketch(a.psi_edges, a.ks_edges[:-1], np.zeros_like(a.psi_counts),
                                np.zeros(len(a.ks_edges), np.int64))
    with pytest.raises(ValueError) as caught:
        a.merge(other_ks)
    assert str(caught.value) == "cannot merge sketches over different edges"
    both = a.merge(sk.NumericSketch.empty_like(a))
    assert both.psi_edges.tolist() == a.psi_edges.tolist() and both.ks_edges.tolist() == a.ks_edges.tolist()


# --- survivors of the second `make mutate` run -------------------------------------------------------


def test_group_accuracy_is_the_share_of_rows_where_prediction_and_label_agree() -> None:
    # y:    1 1 0 0 0
    # pred: 1 0 0 0 1   -> agree on rows 0, 2, 3: 3 of 5 (an error rate would say 2 of 5)
    rates = group_rates(np.array([1, 1, 0, 0, 0], dtype=bool), np.array([1, 0, 0, 0, 1], dtype=bool))
    assert rates["accuracy"] == 3 / 5


def test_r2_is_computed_from_two_rows_on() -> None:
    # y = 1, 3 (mean 2); pred = 1.5, 2.5: SS_res = 0.25 + 0.25, SS_tot = 1 + 1
    out = regression_metrics(np.array([1.0, 3.0]), np.array([1.5, 2.5]))
    assert out["r2"] == pytest.approx(1 - 0.5 / 2.0)
    assert out["rmse"] == pytest.approx(0.5) and out["mae"] == pytest.approx(0.5)


def test_regression_targets_read_as_text_are_compared_as_numbers() -> None:
    # a target column read from CSV as text: the same figures as the numbers themselves
    out = regression_metrics(np.array(["1.0", "3"]), np.array([1.5, 2.5]))
    assert out == {"rmse": pytest.approx(0.5), "mae": pytest.approx(0.5), "r2": pytest.approx(0.75)}


def test_wasserstein_of_two_distinct_values_is_their_distance() -> None:
    # all the reference at 0, all the evaluation at 1: one unit of mass moved one unit
    for r, e in [([0.0, 0.0], [1.0, 1.0]), ([0.0], [1.0]), ([0.0, 1.0], [1.0, 1.0])]:
        ks, w = dr.two_sample(np.array(r), np.array(e))
        assert w == pytest.approx(sps.wasserstein_distance(r, e), abs=1e-12)
        assert ks == pytest.approx(sps.ks_2samp(r, e).statistic, abs=1e-12)
    assert dr.two_sample(np.array([0.0, 0.0]), np.array([1.0, 1.0])) == (1.0, 1.0)


def test_ks_p_value_just_above_the_tiny_bound_is_scipys_exact_one() -> None:
    # n = 30, d = 0.6: Massart's bound 2 exp(-2 n d^2) = 8.3e-10 is above TINY_P, so the value must be
    # scipy's kstwo.sf (7.4e-11), not the limiting distribution's (8.3e-10)
    from scipy.stats import kstwo

    p = dr.ks_p_value(np.array([0.6]), np.array([60]), np.array([60]))
    assert p[0] == pytest.approx(kstwo.sf(0.6, 30), rel=1e-9, abs=1e-15)


def test_window_sketch_counts_are_integers_in_the_json() -> None:
    ref = sk.numeric_reference(np.arange(1.0, 21.0))
    empty = sk.NumericSketch.empty_like(ref)
    assert json.dumps(empty.to_data()["psi_counts"]) == "[" + ", ".join(["0"] * 10) + "]"
    win = empty.add(np.array([3.0, 7.5, 30.0]))
    # by hand: 3.0 in (-inf, 3], 7.5 in (7, 9], 30.0 above the last decile edge 19
    assert json.dumps(win.to_data()["psi_counts"]) == "[1, 0, 0, 1, 0, 0, 0, 0, 0, 1]"
    assert json.dumps(win.to_data()["ks_counts"]) == "[" + ", ".join(
        "1" if i in (2, 7, 20) else "0" for i in range(21)) + "]"


def test_a_sketch_read_back_writes_edges_as_floats_and_counts_as_integers() -> None:
    # a document written by another tool (integral edges, counts with a fraction part): read back, the
    # sketch writes the canonical form, edges as floats and counts as integers
    doc = {"psi_edges": [1, 2], "ks_edges": [2], "psi_counts": [1.0, 0.0, 2.0], "ks_counts": [1.0, 2.0],
           "count": 3, "missing": 0, "min": 1, "max": 3, "total": 6, "total_sq": 14}
    back = sk.NumericSketch.from_data(doc).to_data()
    assert json.dumps(back) == (
        '{"psi_edges": [1.0, 2.0], "ks_edges": [2.0], "psi_counts": [1, 0, 2], "ks_counts": [1, 2], '
        '"count": 3, "missing": 0, "min": 1.0, "max": 3.0, "total": 6.0, "total_sq": 14.0}')


def test_psi_and_ks_need_values_on_both_sides_and_one_is_enough() -> None:
    ref = sk.numeric_reference(np.arange(1.0, 21.0))
    empty = sk.NumericSketch.empty_like(ref)
    assert sk.psi(ref, empty) is None and sk.ks(ref, empty) is None
    assert sk.psi(empty, ref) is None and sk.ks(empty, ref) is None
    one = sk.NumericSketch.empty_like(ref).add(np.array([7.5]))
    r = list(np.arange(1.0, 21.0))
    assert sk.psi(ref, one) == pytest.approx(brute_psi(r, [7.5]), abs=1e-12)
    gaps = [abs(sum(x <= e for x in r) / 20 - (1.0 if 7.5 <= e else 0.0)) for e in ref.ks_edges.tolist()]
    assert sk.ks(ref, one) == pytest.approx(max(gaps)) == pytest.approx(0.6)  # at edge 8: 8/20 vs 1
    # a one-value reference against itself: no drift at all
    single = sk.numeric_reference(np.array([5.0]))
    assert sk.psi(single, single) == 0.0 and sk.ks(single, single) == 0.0


def test_categorical_missing_values_add_up_over_calls() -> None:
    c = sk.CategoricalSketch().add(np.array(["a", None, "b"], dtype=object))
    c.add(np.array([None, None, "a"], dtype=object))
    assert c.missing == 3 and c.counts == {"a": 2, "b": 1}


def test_a_sketch_adds_up_over_calls_like_one_call_over_all_values() -> None:
    rng = np.random.default_rng(21)
    r, w1, w2 = rng.normal(0, 1, 300), rng.normal(0.3, 1, 50), np.append(rng.normal(0.3, 1, 40), [np.nan] * 2)
    ref = sk.numeric_reference(r)
    win = sk.NumericSketch.empty_like(ref).add(np.append(w1, np.nan)).add(w2)
    whole = np.concatenate([w1, w2[:-2]])
    assert win.psi_counts.tolist() == brute_counts(list(whole), ref.psi_edges.tolist())
    assert win.ks_counts.tolist() == brute_counts(list(whole), ref.ks_edges.tolist())
    assert (win.count, win.missing) == (90, 3)
    assert win.total == pytest.approx(math.fsum(whole.tolist()))
    assert win.total_sq == pytest.approx(math.fsum(x * x for x in whole.tolist()))


def test_integer_values_are_summed_as_floats_without_overflow() -> None:
    # 4e9 squared (1.6e19) is beyond int64: the sketch works in float64 whatever it is handed
    ref = sk.numeric_reference(np.array([1.0, 2.0, 3.0]))
    win = sk.NumericSketch.empty_like(ref).add([4_000_000_000, 1])  # type: ignore[arg-type]
    assert win.total_sq == pytest.approx(1.6e19 + 1) and win.total == 4_000_000_001.0
    assert win.min == 1.0 and win.max == 4e9


def test_reference_sketch_json_is_canonical() -> None:
    ref = sk.numeric_reference([1, 2, 3, 4], psi_bins=2, ks_bins=2)  # type: ignore[arg-type]
    assert json.dumps(ref.to_data()) == (
        '{"psi_edges": [3.0], "ks_edges": [3.0], "psi_counts": [3, 1], "ks_counts": [3, 1], "count": 4, '
        '"missing": 0, "min": 1.0, "max": 4.0, "total": 10.0, "total_sq": 30.0}')
    empty = sk.numeric_reference(np.array([np.nan, np.nan]))
    assert json.dumps(empty.to_data()) == (
        '{"psi_edges": [], "ks_edges": [], "psi_counts": [0], "ks_counts": [0], "count": 0, "missing": 2, '
        '"min": null, "max": null, "total": 0.0, "total_sq": 0.0}')


def test_quantile_edges_are_floats_even_for_integer_references() -> None:
    # ranks n*i//bins of 1..8 with 4 bins: 2, 4, 6 -> values 3, 5, 7
    assert json.dumps(dr.quantile_edges(np.arange(1, 9), 4).tolist()) == "[3.0, 5.0, 7.0]"


def test_a_reference_given_none_counts_it_as_missing() -> None:
    ref = sk.numeric_reference([1.0, None, 3.0], psi_bins=2, ks_bins=2)  # type: ignore[arg-type]
    assert (ref.count, ref.missing, ref.total) == (2, 1, 4.0)


def test_macro_f1_and_log_loss_cover_every_class_of_the_model() -> None:
    # the model knows classes 0, 1, 2; the rows hold only 0 and 1
    y, pred = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    proba = np.array([[.7, .2, .1], [.4, .4, .2], [.2, .7, .1], [.1, .6, .3]])
    # class 0: P = 1, R = 1/2 -> F1 2/3; class 1: P = 2/3, R = 1 -> F1 0.8; class 2: never there -> 0
    expected_f1 = (2 / 3 + 0.8 + 0.0) / 3
    expected_loss = -(math.log(.7) + math.log(.4) + math.log(.7) + math.log(.6)) / 4
    out = classification_metrics(y, pred, proba, np.array([0, 1, 2]))
    assert out["f1"] == pytest.approx(expected_f1) and out["log_loss"] == pytest.approx(expected_loss)
    assert out["roc_auc"] is None  # class 2 has no positive row: its one-vs-rest AUC is undefined

    class Model:
        classes_ = np.array([0, 1, 2])

    via_model = model_metrics("classification", Model(), y, pred, proba)
    assert via_model["f1"] == pytest.approx(expected_f1) and via_model["log_loss"] == pytest.approx(expected_loss)


def test_a_declared_positive_class_the_model_lacks_falls_back_to_macro_f1() -> None:
    y, pred = np.array(["a", "b", "a"]), np.array(["a", "a", "a"])
    proba = np.array([[.6, .4], [.3, .7], [.8, .2]])
    out = classification_metrics(y, pred, proba, np.array(["a", "b"]), positive="z")
    # class a: P = 2/3, R = 1 -> F1 0.8; class b: no true positive -> 0
    assert out["f1"] == pytest.approx(0.4) and out["accuracy"] == pytest.approx(2 / 3)
    assert out["roc_auc"] is None  # no positive class to rank by
    assert out["log_loss"] == pytest.approx(-(math.log(.6) + math.log(.7) + math.log(.8)) / 3)


def test_f1_without_any_positive_row_or_prediction_is_zero() -> None:
    out = classification_metrics(np.array([0, 0]), np.array([0, 0]), None, np.array([0, 1]))
    assert out["f1"] == 0.0 and out["accuracy"] == 1.0


def test_a_metric_that_is_not_finite_is_undefined() -> None:
    from engine.statistics.metrics import _safe

    assert _safe(lambda: math.inf) is None and _safe(lambda: math.nan) is None and _safe(lambda: 0.5) == 0.5
