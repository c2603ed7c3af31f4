"""Every bad input of issue 5 gives an ``error`` result with a message, never a crash."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from runners.runner import run_check
from tests.helpers.runner_helpers import FEATURES, RaisingModel, classification_data, metric, sha, write_repo

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return classification_data(300, 11), classification_data(200, 12)


def lr(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression(max_iter=500).fit(frame[FEATURES].to_numpy(), frame["y"])


def run(root, spec, check, thresholds=None, **kw):
    return run_check(root, check, spec_file=spec, version=kw.pop("version", "2.0.0"), champion=kw.pop("champion", None),
                     thresholds=thresholds or {}, cache_dir=root.with_name(root.name + "-cache"), **kw)


def test_digest_mismatch_is_refused_before_unpickling(tmp_path, frames, monkeypatch):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    model_file = root / "artifacts" / "models" / "2.0.0" / "model.joblib"
    pinned = sha(model_file)
    joblib.dump(lr(ev), model_file)  # the artifact was swapped after pinning
    actual = sha(model_file)
    calls = []
    monkeypatch.setattr(joblib, "load", lambda *a, **k: calls.append(a) or pytest.fail("joblib.load was called"))
    r = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert calls == []
    assert r.status == "error"
    assert pinned in r.error and actual in r.error and "refusing" in r.error
    assert all(i.role != "candidate_model" for i in r.inputs)


def test_model_without_pinned_digest_is_never_loaded(tmp_path, frames, monkeypatch):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    doc = json.loads((root / spec).read_text())
    del doc["spec"]["versions"][0]["artifact"]["sha256"]
    (root / spec).write_text(json.dumps(doc))
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("joblib.load was called"))
    r = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert r.status == "error" and "no sha256" in r.error


def test_missing_data_file(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    (root / "artifacts" / "data" / "evaluation.csv").unlink()
    r = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert r.status == "error" and "artifacts/data/evaluation.csv: no such file" in r.error


def test_corrupt_data_files(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)}, fmt="parquet")
    path = root / "artifacts" / "data" / "evaluation.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    doc = json.loads((root / spec).read_text())
    doc["spec"]["validation"]["evaluationData"]["sha256"] = sha(path)  # digest matches: the content is bad
    (root / spec).write_text(json.dumps(doc))
    r = run(root, spec, "drift", {"max_ks": 0.2})
    assert r.status == "error" and "cannot parse artifacts/data/evaluation.parquet as parquet" in r.error


def test_corrupt_file_with_pinned_digest_is_a_mismatch(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    (root / "artifacts" / "data" / "reference.csv").write_bytes(b"\x00\xff garbage")
    r = run(root, spec, "drift", {"max_ks": 0.2})
    assert r.status == "error" and "digest mismatch for reference_data" in r.error


def test_parquet_data_works(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)}, fmt="parquet")
    r = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert r.status == "pass"
    assert {i.uri for i in r.inputs} >= {"artifacts/data/evaluation.parquet"}


def test_object_storage_without_fsspec_says_what_to_install(tmp_path, frames, monkeypatch):
    import sys

    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    doc = json.loads((root / spec).read_text())
    doc["spec"]["validation"]["evaluationData"]["uri"] = "s3://bucket/eval.csv"
    (root / spec).write_text(json.dumps(doc))
    monkeypatch.setitem(sys.modules, "fsspec", None)  # not installed
    r = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert r.status == "error" and "needs fsspec" in r.error and "s3fs" in r.error


def test_absent_label_column(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev.drop(columns=["y"]), {"2.0.0": lr(ref)})
    for check in ("performance", "fit", "data_quality"):
        r = run(root, spec, check, {})
        assert r.status == "error", check
        assert "label column 'y'" in r.error


def test_one_row_slice_is_reported_not_judged(tmp_path, frames):
    ref, ev = frames
    ev = ev.copy()
    ev["region"] = "north"
    ev.loc[0, "region"] = "south"  # a slice of one row
    inputs = [{"name": c, "type": "float"} for c in FEATURES] + [
        {"name": "region", "type": "string", "modelInput": False}]
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)}, inputs=inputs,
                            validation={"sliceColumns": ["region"]})
    r = run(root, spec, "performance", {"min_accuracy": 0.5, "max_slice_gap": 0.1})
    assert r.status == "pass"
    south = metric(r, "accuracy", "region=south")
    assert south["passed"] is None and "1 row(s)" in south["note"]
    assert metric(r, "slice_gap", "region=north")["passed"] is True  # the one-row slice is not the worst


def test_only_tiny_slices_is_an_error_not_a_silent_pass(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)}, validation={"sliceColumns": ["group"]})
    r = run(root, spec, "performance", {"max_slice_gap": 0.1, "min_slice_rows": 10_000})
    assert r.status == "error" and "worst-slice gap cannot be judged" in r.error


def test_constant_features(tmp_path, frames):
    ref, ev = frames
    ref, ev = ref.copy(), ev.copy()
    ref["x2"] = 1.0
    ev["x2"] = 1.0
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    drift = run(root, spec, "drift", {"max_ks": 0.3, "max_wasserstein": 0.5, "max_drifted_share": 0.5})
    assert drift.status == "pass"
    x2 = drift.details["features"]["x2"]
    assert x2["ks"] == 0.0 and x2["wasserstein"] == 0.0 and x2["psi"] == 0.0
    doc = drift.to_json()
    json.dumps(doc, allow_nan=False)  # no NaN reaches the document
    for check in ("performance", "robustness", "leakage", "importance"):
        r = run(root, spec, check, {}, champion="2.0.0" if check == "importance" else None)
        assert r.status == "pass", (check, r.summary)
    assert metric(run(root, spec, "leakage", {}), "single_feature_score", "x2")["value"] == 0.5


def test_all_nan_columns(tmp_path, frames):
    ref, ev = frames
    ev = ev.copy()
    ev["x1"] = np.nan
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    perf = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert perf.status == "error" and "x1 hold no values (all missing)" in perf.error
    drift = run(root, spec, "drift", {"max_ks": 0.2})
    assert drift.status == "error" and "x1 hold no values" in drift.error
    dq = run(root, spec, "data_quality", {"max_missing_rate": 0.01})
    assert dq.status == "fail"  # measuring missing values is this check's job
    assert metric(dq, "missing_rate", "evaluation:x1")["value"] == 1.0


def test_unseen_categories(tmp_path, frames):
    ref, ev = frames
    ev = ev.copy()
    ev.loc[:19, "group"] = 5  # a category never seen in training nor declared
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    dq = run(root, spec, "data_quality", {"max_unseen_category_rate": 0.0})
    assert dq.status == "fail"
    assert metric(dq, "unseen_category_rate", "evaluation:group")["value"] == pytest.approx(20 / 200)
    drift = run(root, spec, "drift", {"max_js": 0.05})
    assert drift.details["features"]["group"]["categories"] == 3
    assert "group" in drift.details["drifted"]


def test_model_that_raises_on_predict(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": RaisingModel()})
    for check in ("performance", "robustness", "fit", "bias"):
        r = run(root, spec, check, {})
        assert r.status == "error"
        assert "raised on predict" in r.error and "feature store unavailable" in r.error


def test_unknown_threshold_and_unknown_check(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    r = run(root, spec, "drift", {"max_kss": 0.1})
    assert r.status == "error" and "unknown threshold(s) max_kss for check 'drift'" in r.error
    r = run(root, spec, "sharpness", {})
    assert r.status == "error" and "unknown check 'sharpness'" in r.error


def test_unknown_version(tmp_path, frames):
    ref, ev = frames
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)})
    r = run(root, spec, "performance", {}, version="9.9.9")
    assert r.status == "error" and "no version '9.9.9'" in r.error and "2.0.0" in r.error
