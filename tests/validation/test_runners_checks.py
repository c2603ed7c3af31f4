"""Each check on data built to pass and built to fail, values cross-checked against sklearn and scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from runners.runner import run_check
from tests.helpers.runner_helpers import FEATURES, JitteryClassifier, classification_data, metric, write_repo

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget


def fit_lr(frame: pd.DataFrame, cols: list[str] = FEATURES) -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(frame[cols].to_numpy(dtype=float), frame["y"].to_numpy())


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return classification_data(800, 1), classification_data(500, 2)


def cache_of(root: Path) -> Path:
    """A cache directory beside (never inside) the repository."""
    return root.with_name(root.name + "-cache")


def run(root: Path, spec: str, check: str, thresholds: dict, version: str = "2.0.0", champion: str | None = None):
    return run_check(root, check, spec_file=spec, version=version, champion=champion, thresholds=thresholds,
                     cache_dir=cache_of(root))


def with_time(kind: str) -> list[dict]:
    return [{"name": c, "type": "float"} for c in FEATURES] + [{"name": "ts", "type": kind, "modelInput": False}]


# --- performance -------------------------------------------------------------------------------

def test_performance_values_equal_sklearn_and_fail_when_below(tmp_path, data):
    ref, ev = data
    model = fit_lr(ref)
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": model}, validation={"sliceColumns": ["group"]})
    x, y = ev[FEATURES].to_numpy(dtype=float), ev["y"].to_numpy()
    pred, proba = model.predict(x), model.predict_proba(x)[:, 1]
    acc = skm.accuracy_score(y, pred)
    ok = run(root, spec, "performance", {"min_accuracy": 0.6, "min_roc_auc": 0.6, "max_slice_gap": 0.2})
    assert ok.status == "pass", ok.summary
    assert metric(ok, "accuracy")["value"] == pytest.approx(acc, abs=1e-12)
    assert metric(ok, "roc_auc")["value"] == pytest.approx(skm.roc_auc_score(y, proba), abs=1e-12)
    assert metric(ok, "f1")["value"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert metric(ok, "log_loss")["value"] == pytest.approx(skm.log_loss(y, model.predict_proba(x)), abs=1e-12)
    for g in (0, 1):
        mask = ev["group"].to_numpy() == g
        assert metric(ok, "accuracy", f"group={g}")["value"] == pytest.approx(skm.accuracy_score(y[mask], pred[mask]))
    worst = min(skm.accuracy_score(y[ev["group"] == g], pred[ev["group"] == g]) for g in (0, 1))
    gap = [m for m in ok.to_json()["metrics"] if m["name"] == "slice_gap"][0]
    assert gap["value"] == pytest.approx(acc - worst, abs=1e-12)
    bad = run(root, spec, "performance", {"min_accuracy": min(0.999, acc + 0.05)})
    assert bad.status == "fail"
    assert metric(bad, "accuracy")["passed"] is False
    assert "accuracy" in bad.summary


def test_threshold_for_the_other_task_is_not_applicable(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": fit_lr(ref)})
    r = run(root, spec, "performance", {"min_accuracy": 0.5, "min_r2": 0.9, "max_rmse": 0.1})
    assert r.status == "pass"
    r2 = metric(r, "r2")
    assert r2["passed"] is None and r2["gate"] is False and r2["note"].startswith("not applicable")
    assert r2["threshold"] == 0.9


def test_regression_performance_equals_sklearn(tmp_path):
    rng = np.random.default_rng(3)
    def frame(n):
        x = rng.normal(size=(n, 4))
        f = pd.DataFrame(x, columns=FEATURES)
        f["group"] = rng.integers(0, 2, n)
        f["y"] = 3 * x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=n)
        return f
    ref, ev = frame(400), frame(200)
    model = LinearRegression().fit(ref[FEATURES].to_numpy(), ref["y"].to_numpy())
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": model}, task="regression")
    pred = model.predict(ev[FEATURES].to_numpy())
    r = run(root, spec, "performance", {"min_r2": 0.8, "min_accuracy": 0.9})
    assert r.status == "pass"
    assert metric(r, "r2")["value"] == pytest.approx(skm.r2_score(ev["y"], pred), abs=1e-12)
    assert metric(r, "rmse")["value"] == pytest.approx(np.sqrt(skm.mean_squared_error(ev["y"], pred)), abs=1e-12)
    assert metric(r, "mae")["value"] == pytest.approx(skm.mean_absolute_error(ev["y"], pred), abs=1e-12)
    assert metric(r, "accuracy")["note"].startswith("not applicable")
    assert run(root, spec, "performance", {"min_r2": 0.999}).status == "fail"


# --- champion ----------------------------------------------------------------------------------

def test_champion_model_that_raises_is_an_error(tmp_path, data):
    ref, ev = data
    strong, weak = fit_lr(ref), fit_lr(ref, ["x3"])  # x3 carries no signal
    root, spec = write_repo(tmp_path, ref, ev, {"1.0.0": weak, "2.0.0": strong})
    better = run(root, spec, "champion", {"max_metric_degradation": 0.01, "max_prediction_shift": 1.0},
                 version="2.0.0", champion="1.0.0")
    assert better.status == "error"  # the weak model expects 1 column: a model that raises is an error
    assert "champion model (1.0.0) raised on predict" in better.error


def test_champion_degradation_values(tmp_path, data):
    ref, ev = data
    strong = fit_lr(ref)
    weak = LogisticRegression(C=1e-4, max_iter=1000).fit(
        np.column_stack([ref["x3"], ref["x2"], ref["x3"], ref["x2"]]), ref["y"])
    root, spec = write_repo(tmp_path, ref, ev, {"1.0.0": weak, "2.0.0": strong})
    x, y = ev[FEATURES].to_numpy(dtype=float), ev["y"].to_numpy()
    acc_s, acc_w = skm.accuracy_score(y, strong.predict(x)), skm.accuracy_score(y, weak.predict(x))
    ok = run(root, spec, "champion", {"max_metric_degradation": 0.01, "max_prediction_shift": 1.0},
             version="2.0.0", champion="1.0.0")
    assert ok.status == "pass", ok.summary
    assert metric(ok, "accuracy_degradation")["value"] == pytest.approx(acc_w - acc_s, abs=1e-12)
    ks = stats.ks_2samp(strong.predict_proba(x)[:, 1], weak.predict_proba(x)[:, 1]).statistic
    assert metric(ok, "prediction_shift")["value"] == pytest.approx(ks, abs=1e-12)
    worse = run(root, spec, "champion", {"max_metric_degradation": 0.01}, version="1.0.0", champion="2.0.0")
    assert worse.status == "fail"
    assert metric(worse, "accuracy_degradation")["value"] == pytest.approx(acc_s - acc_w, abs=1e-12)
    assert {i.role for i in worse.inputs} == {"evaluation_data", "candidate_model", "champion_model"}
    nothing = run(root, spec, "champion", {"max_metric_degradation": 0.01}, version="2.0.0", champion=None)
    assert nothing.status == "error" and "champion" in nothing.error


# --- drift -------------------------------------------------------------------------------------

def bin_shares(v: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Share of values in each right-closed bin (lo, hi], by brute force."""
    return np.array([((v > lo) & (v <= hi)).mean() for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)])


def test_drift_values_equal_scipy_and_planted_drift_fails(tmp_path, data):
    ref, _ = data
    ev = classification_data(500, 9, shift=1.0)  # x0 shifted by one standard deviation
    ev.loc[:249, "group"] = 1  # and the group mix changes
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": fit_lr(ref)})
    r = run(root, spec, "drift", {"max_ks": 0.2, "min_p_value": 0.01, "max_psi": 0.25, "max_drifted_share": 0.2})
    assert r.status == "fail"
    feats = r.details["features"]
    assert set(r.details["drifted"]) >= {"x0"}
    for c in FEATURES:
        expected = stats.ks_2samp(ref[c], ev[c], method="asymp")
        assert feats[c]["ks"] == pytest.approx(expected.statistic, abs=1e-12)
        assert abs(feats[c]["p_value"] - expected.pvalue) < 1e-9
        assert feats[c]["wasserstein"] == pytest.approx(stats.wasserstein_distance(ref[c], ev[c]), rel=1e-9)
        edges = np.unique(np.sort(ref[c].to_numpy())[(np.arange(1, 10) * len(ref)) // 10])
        bounds = np.concatenate([[-np.inf], edges, [np.inf]])
        pr, pe = (np.maximum(bin_shares(v, bounds), 1e-4) for v in (ref[c].to_numpy(), ev[c].to_numpy()))
        assert feats[c]["psi"] == pytest.approx(np.sum((pe - pr) * np.log(pe / pr)), abs=1e-12)
    table = np.array([[np.sum(ref["group"] == g) for g in (0, 1)], [np.sum(ev["group"] == g) for g in (0, 1)]])
    chi = stats.chi2_contingency(table, correction=False)
    assert feats["group"]["chi2"] == pytest.approx(chi.statistic, rel=1e-12)
    assert feats["group"]["p_value"] == pytest.approx(chi.pvalue, rel=1e-9)
    js = jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum(), base=2)
    assert feats["group"]["js"] == pytest.approx(js, abs=1e-12)
    assert metric(r, "drifted_share")["value"] == pytest.approx(len(r.details["drifted"]) / 5)
    assert feats["x0"]["drifted"] and feats["x0"]["ks"] > 0.3
    assert not feats["x2"]["drifted"]


def test_drift_passes_on_same_distribution_and_reuses_cache(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": fit_lr(ref)})
    th = {"max_ks": 0.2, "min_p_value": 0.001, "max_psi": 0.25, "max_drifted_share": 0.2}
    first = run(root, spec, "drift", th)
    assert first.status == "pass", first.summary
    cached = list((cache_of(root) / "sorted").rglob("*.npz"))
    assert len(cached) == 4  # one sorted reference column per numeric feature
    ref_digest = next(i.sha256 for i in first.inputs if i.role == "reference_data")
    assert all(p.parent.name == ref_digest for p in cached)
    stamp = {p: p.stat().st_mtime_ns for p in cached}
    second = run(root, spec, "drift", th)
    assert second.details["features"] == first.details["features"]
    assert {p: p.stat().st_mtime_ns for p in cached} == stamp  # read, not rewritten


# --- bias --------------------------------------------------------------------------------------

def test_bias_fair_and_biased_models(tmp_path):
    th = {"max_demographic_parity_diff": 0.1, "min_disparate_impact": 0.8, "max_equalized_odds_diff": 0.1}
    ref, ev = classification_data(1500, 4), classification_data(1500, 5)
    root, spec = write_repo(tmp_path / "fair", ref, ev, {"2.0.0": fit_lr(ref)})
    fair = run(root, spec, "bias", th)
    assert fair.status == "pass", fair.summary
    bref, bev = classification_data(1500, 4, biased=True), classification_data(1500, 5, biased=True)
    model = fit_lr(bref)
    root, spec = write_repo(tmp_path / "biased", bref, bev, {"2.0.0": model})
    biased = run(root, spec, "bias", th)
    assert biased.status == "fail"
    pred = model.predict(bev[FEATURES].to_numpy())
    y, g = bev["y"].to_numpy(), bev["group"].to_numpy()
    rates = [pred[g == k].mean() for k in (0, 1)]
    tpr = [pred[(g == k) & (y == 1)].mean() for k in (0, 1)]
    fpr = [pred[(g == k) & (y == 0)].mean() for k in (0, 1)]
    assert metric(biased, "demographic_parity_diff", "group")["value"] == pytest.approx(abs(rates[0] - rates[1]))
    assert metric(biased, "disparate_impact", "group")["value"] == pytest.approx(min(rates) / max(rates))
    assert metric(biased, "equalized_odds_diff", "group")["value"] == pytest.approx(
        max(abs(tpr[0] - tpr[1]), abs(fpr[0] - fpr[1])))
    assert metric(biased, "positive_rate", "group=1")["value"] == pytest.approx(rates[1])
    assert "group" in biased.summary


def test_bias_without_sensitive_attribute_is_an_error(tmp_path, data):
    ref, ev = data
    inputs = [{"name": c, "type": "float"} for c in FEATURES]
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": fit_lr(ref)}, inputs=inputs)
    r = run(root, spec, "bias", {"max_demographic_parity_diff": 0.1})
    assert r.status == "error" and "sensitive: true" in r.error


# --- importance --------------------------------------------------------------------------------

def test_importance_shift(tmp_path, data):
    from sklearn.inspection import permutation_importance

    ref, ev = data
    a = fit_lr(ref)
    blind = ref[FEATURES].to_numpy(dtype=float).copy()
    blind[:, 0] = np.random.default_rng(0).normal(size=len(blind))  # trained without x0: relies on x1
    b = LogisticRegression(max_iter=1000).fit(blind, ref["y"])
    root, spec = write_repo(tmp_path, ref, ev, {"1.0.0": a, "2.0.0": b, "3.0.0": a})
    same = run(root, spec, "importance", {"max_importance_shift": 0.05}, version="3.0.0", champion="1.0.0")
    assert same.status == "pass" and metric(same, "importance_shift", "x0")["value"] == 0.0
    moved = run(root, spec, "importance", {"max_importance_shift": 0.3}, version="2.0.0", champion="1.0.0")
    assert moved.status == "fail"
    x, y = ev[FEATURES].to_numpy(dtype=float), ev["y"].to_numpy()
    def share(m):
        v = np.clip(permutation_importance(m, x, y, scoring="accuracy", n_repeats=5, random_state=0).importances_mean,
                    0, None)
        return v / v.sum()
    expected = np.abs(share(b) - share(a))
    for i, c in enumerate(FEATURES):
        assert metric(moved, "importance_shift", c)["value"] == pytest.approx(expected[i], abs=1e-12)


# --- robustness --------------------------------------------------------------------------------

def test_robustness(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"1.0.0": fit_lr(ref), "2.0.0": JitteryClassifier()})
    th = {"max_noise_sensitivity": 0.1, "max_extreme_sensitivity": 0.6}
    stable = run(root, spec, "robustness", th, version="1.0.0")
    assert stable.status == "pass"
    assert metric(stable, "noise_sensitivity")["value"] < 0.05
    jittery = run(root, spec, "robustness", th, version="2.0.0")
    assert jittery.status == "fail"
    assert 0.3 < metric(jittery, "noise_sensitivity")["value"] < 0.7
    assert metric(jittery, "noise_sensitivity")["passed"] is False


# --- data quality ------------------------------------------------------------------------------

def test_data_quality(tmp_path, data):
    ref, ev = data
    inputs = [{"name": "group", "type": "category", "categories": [0, 1], "sensitive": True, "modelInput": False},
              {"name": "x0", "type": "float", "min": -3, "max": 3},
              *[{"name": c, "type": "float"} for c in FEATURES[1:]]]
    clean_ev = ev.copy()
    clean_ev["x0"] = clean_ev["x0"].clip(-3, 3)
    clean_ref = ref.copy()
    clean_ref["x0"] = clean_ref["x0"].clip(-3, 3)
    root, spec = write_repo(tmp_path / "ok", clean_ref, clean_ev, {"2.0.0": fit_lr(ref)}, inputs=inputs)
    th = {"max_missing_rate": 0.01, "max_out_of_range_rate": 0.01, "max_unseen_category_rate": 0.0}
    assert run(root, spec, "data_quality", th).status == "pass"
    dirty = clean_ev.copy()
    dirty.loc[0:49, "x1"] = np.nan          # 50 of 500 missing
    dirty.loc[100:124, "x0"] = 10.0         # 25 out of range
    dirty.loc[200:209, "group"] = 7         # 10 unseen categories
    root, spec = write_repo(tmp_path / "bad", clean_ref, dirty, {"2.0.0": fit_lr(ref)}, inputs=inputs)
    r = run(root, spec, "data_quality", th)
    assert r.status == "fail"
    assert metric(r, "missing_rate", "evaluation:x1")["value"] == pytest.approx(0.1)
    assert metric(r, "out_of_range_rate", "evaluation:x0")["value"] == pytest.approx(0.05)
    assert metric(r, "unseen_category_rate", "evaluation:group")["value"] == pytest.approx(0.02)
    assert r.details["evaluation"]["columns"]["group"]["unseen_categories"] == ["7"]
    assert metric(r, "missing_rate", "reference:x1")["passed"] is True


# --- leakage -----------------------------------------------------------------------------------

def test_leakage_leaking_feature_and_overlap(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path / "ok", ref, ev, {"2.0.0": fit_lr(ref)})
    th = {"max_single_feature_score": 0.95, "max_row_overlap": 0.0}
    clean = run(root, spec, "leakage", th)
    assert clean.status == "pass", clean.summary
    auc = skm.roc_auc_score(ref["y"], ref["x0"])
    assert metric(clean, "single_feature_score", "x0")["value"] == pytest.approx(max(auc, 1 - auc))
    leak_ref, leak_ev = ref.copy(), ev.copy()
    rng = np.random.default_rng(0)
    for f in (leak_ref, leak_ev):
        f["x3"] = f["y"] + rng.normal(scale=0.01, size=len(f))   # the label, barely disguised
    leak_ev = pd.concat([leak_ev.iloc[:475], leak_ref.iloc[:25]], ignore_index=True)  # 25 copied rows
    root, spec = write_repo(tmp_path / "leak", leak_ref, leak_ev, {"2.0.0": fit_lr(leak_ref)})
    r = run(root, spec, "leakage", th)
    assert r.status == "fail"
    gate = [m for m in r.to_json()["metrics"] if m["name"] == "single_feature_score" and m["gate"]][0]
    assert gate["scope"] == "x3" and gate["value"] == pytest.approx(skm.roc_auc_score(leak_ref["y"], leak_ref["x3"]))
    assert metric(r, "row_overlap")["value"] == pytest.approx(25 / 500)


def test_leakage_time_travel(tmp_path, data):
    ref, ev = data
    ref, ev = ref.copy(), ev.copy()
    ref["ts"] = pd.date_range("2026-01-01", periods=len(ref), freq="h").astype(str)
    ev["ts"] = pd.date_range("2026-01-20", periods=len(ev), freq="h").astype(str)  # starts before ref ends
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": fit_lr(ref)}, validation={"timeColumn": "ts"},
                            inputs=with_time("string"))
    r = run(root, spec, "leakage", {"max_row_overlap": 0.0})
    newest = pd.to_datetime(ref["ts"]).max()
    assert metric(r, "time_travel_share")["value"] == pytest.approx((pd.to_datetime(ev["ts"]) < newest).mean())
    assert r.status == "fail"


# --- fit ---------------------------------------------------------------------------------------

def test_fit_overfit_tree_fails(tmp_path, data):
    ref, ev = data
    tree = DecisionTreeClassifier(random_state=0).fit(ref[FEATURES].to_numpy(), ref["y"])
    root, spec = write_repo(tmp_path, ref, ev, {"1.0.0": fit_lr(ref), "2.0.0": tree})
    th = {"max_train_eval_gap": 0.1}
    assert run(root, spec, "fit", th, version="1.0.0").status == "pass"
    r = run(root, spec, "fit", th, version="2.0.0")
    assert r.status == "fail" and "overfits" in r.summary
    train = skm.accuracy_score(ref["y"], tree.predict(ref[FEATURES].to_numpy()))
    held = skm.accuracy_score(ev["y"], tree.predict(ev[FEATURES].to_numpy()))
    assert train == 1.0
    assert metric(r, "train_eval_gap")["value"] == pytest.approx(train - held)


# --- backtest ----------------------------------------------------------------------------------

def test_backtest_windows(tmp_path, data):
    ref, ev = data
    model = fit_lr(ref)
    ev = ev.copy()
    ev["ts"] = np.arange(len(ev))[::-1]  # newest first in the file
    root, spec = write_repo(tmp_path / "ok", ref, ev, {"2.0.0": model}, validation={"timeColumn": "ts"},
                            inputs=with_time("integer"))
    th = {"min_window_score": 0.6, "max_window_degradation": 0.15, "min_windows": 4}
    ok = run(root, spec, "backtest", th)
    assert ok.status == "pass", ok.summary
    assert metric(ok, "windows")["value"] == 4
    decayed = ev.copy()
    late = decayed["ts"] >= 375  # the last quarter in time: labels flipped
    decayed.loc[late, "y"] = 1 - decayed.loc[late, "y"]
    root, spec = write_repo(tmp_path / "bad", ref, decayed, {"2.0.0": model}, validation={"timeColumn": "ts"},
                            inputs=with_time("integer"))
    bad = run(root, spec, "backtest", th)
    assert bad.status == "fail"
    rows = decayed.sort_values("ts", kind="stable").iloc[375:]
    expected = skm.accuracy_score(rows["y"], model.predict(rows[FEATURES].to_numpy()))
    assert metric(bad, "window_score", "window 3")["value"] == pytest.approx(expected)


def test_backtest_without_time_column_is_an_error(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": fit_lr(ref)})
    r = run(root, spec, "backtest", {"min_window_score": 0.5})
    assert r.status == "error" and "timeColumn" in r.error
