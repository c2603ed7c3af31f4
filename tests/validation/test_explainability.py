"""``explainability``: values equal scikit-learn's own inspection functions on the example models.

The check reaches the artifact only through its sandboxed prediction worker; the test loads
the same (trusted, committed) artifact with joblib and calls scikit-learn directly with the
same ``random_state``: the numbers must be the same.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.inspection import partial_dependence, permutation_importance

from engine.spec.workspace import load_workspace
from runners.checks.explainability import GRID_RESOLUTION, N_REPEATS, PERCENTILES, SEED, TOP_FEATURES
from runners.runner import run_check
from tests.conftest import copy_example_repo
from tests.helpers.runner_helpers import metric

CASES = [
    # (model, spec file, candidate, champion, scoring)
    ("clinical/readmission-triage", "specs/clinical/readmission-triage.yaml", "2.0.0", "1.1.0", "accuracy"),
    ("clinical/disease-progression", "specs/clinical/disease-progression.yaml", "1.1.0", "1.0.0", "r2"),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_example_repo(tmp_path_factory.mktemp("explain") / "repo", git=False)


def _local(repo: Path, spec_file: str, version: str):
    ws = load_workspace(repo)
    spec = next(s.spec for s in ws.specs if s.file == spec_file)
    v = spec.version(version)
    assert v is not None
    ev = pd.read_csv(repo / spec.spec.validation.evaluation_data.uri)
    x = ev[spec.model_inputs()].to_numpy(dtype=float)
    y = ev[spec.spec.validation.label].to_numpy()
    return joblib.load(repo / v.artifact.uri), x, y, spec.model_inputs(), ev


@pytest.mark.parametrize(("model", "spec_file", "version", "champion", "scoring"), CASES)
@pytest.mark.slow
def test_values_equal_scikit_learn(repo: Path, model: str, spec_file: str, version: str, champion: str,
                                   scoring: str) -> None:
    res = run_check(repo, "explainability", spec_file=spec_file, version=version, champion=champion,
                    thresholds={}, cache_dir=None)
    assert res.status == "pass", res.summary  # no threshold set: evidence, not a gate
    est, x, y, names, ev = _local(repo, spec_file, version)
    imp = permutation_importance(est, x, y, scoring=scoring, n_repeats=N_REPEATS, random_state=SEED)
    for i, name in enumerate(names):
        assert metric(res, "permutation_importance", name)["value"] == imp.importances_mean[i]
        assert res.details["features"][name]["importance_std"] == imp.importances_std[i]
    order = list(np.argsort(-imp.importances_mean, kind="stable"))
    assert res.details["ranking"] == [names[i] for i in order]
    assert list(res.details["partial_dependence"]) == [names[i] for i in order[:TOP_FEATURES]]
    for i in order[:TOP_FEATURES]:
        ref = partial_dependence(est, x, [i], method="brute", kind="average", grid_resolution=GRID_RESOLUTION,
                                 percentiles=PERCENTILES)
        got = res.details["partial_dependence"][names[i]]
        assert got["grid"] == [float(v) for v in ref["grid_values"][0]]
        assert np.array_equal(np.asarray(got["average"]), ref["average"])
        assert res.details["charts"]["partial_dependence"][names[i]].startswith("<svg")
    # the challenger's importance shift against the champion, from scikit-learn's numbers
    champ, *_ = _local(repo, spec_file, champion)
    champ_imp = permutation_importance(champ, x, y, scoring=scoring, n_repeats=N_REPEATS, random_state=SEED)

    def share(v: np.ndarray) -> np.ndarray:
        c = np.clip(v, 0, None)
        return c / c.sum()

    shift = np.abs(share(imp.importances_mean) - share(champ_imp.importances_mean))
    for i, name in enumerate(names):
        assert metric(res, "importance_shift", name)["value"] == pytest.approx(shift[i], abs=1e-12)
    # performance per declared slice (sex), the task's primary metric
    pred = est.predict(x)
    for value in sorted(ev["sex"].unique()):
        mask = (ev["sex"] == value).to_numpy()
        expected = (skm.accuracy_score if scoring == "accuracy" else skm.r2_score)(y[mask], pred[mask])
        assert metric(res, scoring, f"sex={value}")["value"] == pytest.approx(expected, abs=1e-12)
    # evidence: the digests of what it read, and charts inline
    roles = {i.role: i.sha256 for i in res.inputs}
    assert {"evaluation_data", "candidate_model", "champion_model"} <= set(roles)
    assert res.details["charts"]["importance"].startswith("<svg") and "<script" not in str(res.details["charts"])


@pytest.mark.slow
def test_gates_only_where_thresholds_say_so(repo: Path) -> None:
    spec_file = "specs/clinical/readmission-triage.yaml"
    strict = run_check(repo, "explainability", spec_file=spec_file, version="2.0.0", champion="1.1.0",
                       thresholds={"max_top_feature_share": 0.2, "max_importance_shift": 0.01}, cache_dir=None)
    assert strict.status == "fail"
    assert metric(strict, "top_feature_share", "s5")["passed"] is False
    loose = run_check(repo, "explainability", spec_file=spec_file, version="2.0.0", champion="1.1.0",
                      thresholds={"max_top_feature_share": 0.9, "max_importance_shift": 0.5, "max_slice_gap": 0.3},
                      cache_dir=None)
    assert loose.status == "pass", loose.summary


def test_a_digest_mismatch_is_refused(repo: Path, tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "repo"
    shutil.copytree(repo, other)
    artifact = other / "artifacts/models/clinical/readmission-triage/2.0.0/model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    res = run_check(other, "explainability", spec_file="specs/clinical/readmission-triage.yaml", version="2.0.0",
                    thresholds={}, cache_dir=None)
    assert res.status == "error" and "digest mismatch" in (res.error or "")


def test_argo_renders_the_check_where_the_tier_requires_it(repo: Path) -> None:
    from engine.validation.dag import build_dag
    from engine.validation.workflow import RunContext, manifest_tasks, pr_workflows, tier_template

    ws = load_workspace(repo)
    assert ws.config is not None
    high = ws.config.tiers["high"]
    tiers = {**ws.config.tiers, "high": high.model_copy(update={
        "required_checks": [*high.required_checks, "explainability"],
        "defaults": {**high.defaults, "explainability": {"max_importance_shift": 0.3}}})}
    config = ws.config.model_copy(update={"tiers": tiers})
    tasks = build_dag(ws.specs, config)
    mine = [t for t in tasks if t.check == "explainability"]
    high_models = {s.id for s in ws.specs if s.spec.spec.tier == "high"}
    assert {t.model for t in mine} == high_models and high_models
    manifest = pr_workflows(tasks, RunContext(repository="o/r", pr_number=1, head_sha="0" * 40))[0].to_dict()
    rendered = [t for t in manifest_tasks(manifest) if t["check"] == "explainability"]
    assert len(rendered) == len(high_models) and all(t["champion"] for t in rendered)
    assert rendered[0]["thresholds"] == {"max_importance_shift": 0.3}
    template = tier_template("high", config).to_dict()
    assert "explainability" in str(template["metadata"]["annotations"])
