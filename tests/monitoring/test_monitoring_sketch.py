"""Mergeable sketches and reference profiles agree with the validation statistics and scipy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from engine.spec.errors import InputError
from engine.statistics.drift import psi_sorted
from engine.statistics.sketch import (
    CategoricalSketch,
    NumericSketch,
    category_keys,
    js_and_psi,
    ks,
    numeric_reference,
    psi,
)
from engine.validation.profile import (
    Profile,
    compute_profile,
    ensure_profile,
    load_profile,
    store_beside_results,
    stored_path,
)
from tests.conftest import copy_example_repo


def test_psi_equals_the_drift_checks_psi() -> None:
    rng = np.random.default_rng(1)
    ref, win = rng.normal(0, 1, 5000), rng.normal(0.4, 1.3, 3000)
    r = numeric_reference(ref)
    w = NumericSketch.empty_like(r).add(win)
    assert psi(r, w) == pytest.approx(psi_sorted(np.sort(ref), np.sort(win)), rel=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_ks_from_sketch_is_close_to_scipy(shift: float) -> None:
    rng = np.random.default_rng(2)
    ref, win = rng.normal(0, 1, 20000), rng.normal(shift, 1, 5000)
    r = numeric_reference(ref)
    d = ks(r, NumericSketch.empty_like(r).add(win))
    exact = ks_2samp(ref, win).statistic
    assert d is not None and d <= exact + 1e-12 and exact - d < 0.02


def test_sketches_merge_by_addition() -> None:
    rng = np.random.default_rng(3)
    r = numeric_reference(rng.normal(size=1000))
    a, b = rng.normal(size=700), rng.normal(size=300)
    a[5] = np.nan
    whole = NumericSketch.empty_like(r).add(np.concatenate([a, b]))
    merged = NumericSketch.empty_like(r).add(a).merge(NumericSketch.empty_like(r).add(b))
    assert merged.psi_counts.tolist() == whole.psi_counts.tolist()
    assert merged.ks_counts.tolist() == whole.ks_counts.tolist()
    assert (merged.count, merged.missing) == (999, 1)
    assert merged.mean == pytest.approx(whole.mean)
    other = numeric_reference(rng.normal(size=50))
    with pytest.raises(ValueError, match="different edges"):
        merged.merge(NumericSketch.empty_like(other))
    c1 = CategoricalSketch().add(np.array(["a", "b", None], dtype=object))
    c2 = CategoricalSketch().add(np.array(["b", "c"], dtype=object))
    m = c1.merge(c2)
    assert m.counts == {"a": 1, "b": 2, "c": 1} and m.missing == 1


def test_category_keys_treat_1_and_1_0_and_text_1_alike() -> None:
    keys, missing = category_keys(np.array([1.0, 2.0, np.nan, 2.5]))
    assert keys.tolist() == ["1", "2", "2.5"] and missing == 1
    assert category_keys(np.array(["1", None, "2"], dtype=object))[0].tolist() == ["1", "2"]
    assert category_keys(np.array([1, 2]))[0].tolist() == ["1", "2"]


def test_js_matches_scipy() -> None:
    r = CategoricalSketch({"a": 60, "b": 30, "c": 10})
    w = CategoricalSketch({"a": 20, "b": 30, "d": 50})
    js, p = js_and_psi(r, w)
    cats = ["a", "b", "c", "d"]
    pr = np.array([60, 30, 10, 0]) / 100
    pw = np.array([20, 30, 0, 50]) / 100
    assert js == pytest.approx(jensenshannon(pr, pw, base=2))
    assert p is not None and p > 1
    assert cats  # every category of both sides is compared


@pytest.mark.slow
def test_profile_of_a_real_version_is_small_and_roundtrips(tmp_path: Path) -> None:
    repo = copy_example_repo(tmp_path / "repo", git=False)
    from engine.spec.workspace import load_workspace

    spec = load_workspace(repo).by_id()["clinical/readmission-triage"].spec
    prof = compute_profile(repo, spec, "1.1.0")
    assert prof.rows == 309 and set(prof.features) == {f.name for f in spec.spec.interface.inputs}
    assert prof.features["sex"].kind == "categorical" and set(prof.features["sex"].categorical.counts) == {"1", "2"}
    bmi = prof.features["bmi"]
    assert bmi.kind == "numeric" and bmi.numeric.count == 309 and bmi.median is not None and bmi.mad > 0
    assert prof.prediction is not None and set(prof.prediction.categorical.counts) <= {"0", "1"}
    assert prof.proba is not None and 0 <= prof.proba.numeric.min <= prof.proba.numeric.max <= 1
    assert {i["role"] for i in prof.inputs} == {"reference_data", "model"}
    paths = store_beside_results(repo, prof, tmp_path / "validation")
    assert paths[0] == stored_path(repo, prof) and repo not in paths[0].parents  # the cache, not the checkout
    assert paths[1] == tmp_path / "validation" / "clinical" / "readmission-triage" / "profile-1.1.0.json"
    assert paths[0].stat().st_size < 64_000
    again = load_profile(paths[1])
    assert again is not None and again.to_data() == prof.to_data()
    assert ensure_profile(repo, spec, "1.1.0").to_data() == prof.to_data()  # stored: not recomputed


def test_damaged_profile_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError) as err:
        load_profile(p)
    assert err.value.file == str(p) and "delete it" in err.value.message
    with pytest.raises(ValueError):
        Profile.from_data({"format": "nope"})
