"""The tier's checks on the example specs in specs/ (real models, real data, a real MLServer).

Everything passes except the failures listed in KNOWN_FAILURES: each is a real finding
about an example candidate version (explained in README), asserted by the metric that
fails, so a change in the checks that hides or adds a failure is caught here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.spec.workspace import load_workspace
from engine.validation.dag import build_dag
from engine.validation.executors.local import run_validation
from tests.conftest import copy_example_repo

# (model, check) -> the failing gate metrics (name, scope)
KNOWN_FAILURES = {
    ("clinical/disease-progression", "champion"): {("rmse_degradation", "overall"), ("r2_degradation", "overall")},
    ("clinical/disease-progression", "robustness"): {("extreme_sensitivity", "overall")},
    ("clinical/disease-progression", "fit"): {("train_eval_gap", "overall")},
    ("clinical/readmission-triage", "champion"): {("roc_auc_degradation", "overall"),
                                                  ("log_loss_degradation", "overall")},
    ("clinical/readmission-triage", "fit"): {("train_eval_gap", "overall")},
    ("clinical/readmission-triage", "bias"): {("demographic_parity_diff", "sex"), ("disparate_impact", "sex"),
                                              ("equalized_odds_diff", "sex")},
    ("lab/iris-species", "drift"): {("drifted_share", "overall")},
    ("lab/iris-species", "champion"): {("log_loss_degradation", "overall"), ("prediction_shift", "overall")},
    ("oncology/tumor-malignancy", "champion"): {("accuracy_degradation", "overall"), ("f1_degradation", "overall"),
                                                ("log_loss_degradation", "overall")},
}


@pytest.mark.slow
def test_example_specs(tmp_path: Path):
    root = copy_example_repo(tmp_path / "repo", git=False)
    ws = load_workspace(root)
    tasks = build_dag(ws.specs, ws.config)
    assert len(tasks) == 35
    run = run_validation(root, tasks, tmp_path / "out", jobs=2, timeout_s=300)
    seen = {}
    for r in run.results:
        key = (r["model"], r["check"])
        assert r["status"] != "error", (key, r["error"])
        failing = {(m["name"], m["scope"]) for m in r["metrics"] if m["gate"] and m["passed"] is False}
        seen[key] = r["status"]
        if key in KNOWN_FAILURES:
            assert r["status"] == "fail" and failing == KNOWN_FAILURES[key], (key, failing, r["summary"])
        else:
            assert r["status"] == "pass", (key, r["summary"])
        assert r["inputs"] and all(len(i["sha256"]) == 64 for i in r["inputs"])
    assert set(KNOWN_FAILURES) <= set(seen)
    assert seen[("clinical/readmission-triage", "serving_parity")] == "pass"
    iris = next(r for r in run.results if r["model"] == "lab/iris-species" and r["check"] == "drift")
    # tiny data: 45 evaluation rows leave a reference-decile bin empty, and PSI punishes empty bins
    assert iris["details"]["features"]["sepal_width"]["psi"] > 0.25
    assert iris["details"]["features"]["sepal_width"]["ks"] < 0.2
