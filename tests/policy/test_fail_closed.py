"""Fail closed on the unknown (issue #15, holes 8 and 9).

A gated metric that cannot be computed fails its check with the reason; only a threshold the
spec's task makes inapplicable is ``applicable: false`` and does not gate. Monitoring: a bounded
metric without a value is an alert, and a spec on main that stops loading is an error of the
pass (exit 2, ``file:line:col`` on stderr) with a critical ``monitoring.blind`` alert, never a
silently dropped model. Real models, real CLI, real alert receivers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from engine.cli import main
from engine.monitoring.measure import Measured, bounded
from engine.monitoring.state import read_health
from engine.spec.check_result import SCHEMA_FILE, Metric, document_passes, judge, not_applicable, status_of
from runners.runner import run_check
from tests.conftest import copy_example_repo, govops, run_git
from tests.helpers.alert_receivers import HttpReceivers, SmtpReceiver
from tests.helpers.monitoring_fixtures import traffic, write_feedback, write_predictions
from tests.helpers.runner_helpers import FEATURES, classification_data, metric, write_repo


def run(root: Path, spec: str, check: str, thresholds: dict, champion: str | None = None):
    return run_check(root, check, spec_file=spec, version="2.0.0", champion=champion, thresholds=thresholds,
                     cache_dir=root / ".cache")


def valid_document(result) -> dict:
    doc = result.to_json()
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(doc)
    return doc


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return classification_data(600, 1), classification_data(400, 2)


def svc(frame: pd.DataFrame) -> LinearSVC:
    """A classifier with no predict_proba: ROC AUC and log loss cannot be computed for it."""
    return LinearSVC().fit(frame[FEATURES].to_numpy(dtype=float), frame["y"].to_numpy())


def lr(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(frame[FEATURES].to_numpy(dtype=float), frame["y"].to_numpy())


# --- validation: a thresholded metric that cannot be computed fails, with the reason ---------------

@pytest.mark.slow
def test_roc_auc_without_probabilities_fails_the_check_with_the_reason(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": svc(ref)})
    r = run(root, spec, "performance", {"min_accuracy": 0.5, "min_roc_auc": 0.6})
    doc = valid_document(r)
    assert r.status == "fail" and r.error is None  # a governance failure, not a broken check
    auc = metric(doc, "roc_auc")
    assert auc["passed"] is False and auc["value"] is None and auc["applicable"] is True and auc["gate"] is True
    assert auc["note"] == "could not be computed: the model gives no probabilities (it has no predict_proba)"
    assert "roc_auc could not be computed: the model gives no probabilities" in r.summary
    assert metric(doc, "accuracy")["passed"] is True  # the computable metric is still judged
    assert not document_passes(doc)


@pytest.mark.slow
def test_roc_auc_on_one_class_of_labels_fails_with_the_reason(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev[ev["y"] == 1], {"2.0.0": lr(ref)})
    r = run(root, spec, "performance", {"min_roc_auc": 0.6})
    auc = metric(r, "roc_auc")
    assert r.status == "fail" and auc["passed"] is False
    assert auc["note"] == "could not be computed: the labels hold one class only (1)"


@pytest.mark.slow
def test_unthresholded_unknown_metric_does_not_gate(tmp_path, data):
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": svc(ref)})
    r = run(root, spec, "performance", {"min_accuracy": 0.5})
    assert r.status == "pass", r.summary
    auc = metric(r, "roc_auc")
    assert auc["value"] is None and auc["threshold"] is None and auc["passed"] is None


@pytest.mark.slow
def test_regression_model_with_classification_thresholds_is_not_applicable(tmp_path):
    rng = np.random.default_rng(5)

    def frame(n: int) -> pd.DataFrame:
        f = pd.DataFrame(rng.normal(size=(n, 4)), columns=FEATURES)
        f["group"] = rng.integers(0, 2, n)
        f["y"] = f["x0"] * 2 + f["x1"] + rng.normal(scale=0.1, size=n)
        return f

    ref, ev = frame(300), frame(200)
    model = LinearRegression().fit(ref[FEATURES].to_numpy(), ref["y"].to_numpy())
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": model}, task="regression")
    # what a tier's defaults give every model: both tasks' thresholds
    r = run(root, spec, "performance", {"min_accuracy": 0.7, "min_roc_auc": 0.75, "min_r2": 0.3})
    doc = valid_document(r)
    assert r.status == "pass", r.summary
    for name in ("accuracy", "roc_auc"):
        m = metric(doc, name)
        assert m["applicable"] is False and m["passed"] is None and m["gate"] is False
        assert m["note"] == f"not applicable: {name} is a classification metric"
    assert metric(doc, "r2")["applicable"] is True and metric(doc, "r2")["passed"] is True
    assert document_passes(doc)


@pytest.mark.slow
def test_single_class_slice_is_judged_not_skipped(tmp_path, data):
    """A slice holding one class still has an accuracy: it is judged like any other (no unknown)."""
    ref, ev = data
    ev = ev.copy()
    ev["region"] = np.where(ev["y"] == 1, "pos", "mixed")
    ev.loc[ev.index[:40], "region"] = "mixed"
    inputs = [{"name": c, "type": "float"} for c in FEATURES] + [
        {"name": "region", "type": "string", "modelInput": False}]
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": lr(ref)}, inputs=inputs,
                            validation={"sliceColumns": ["region"]})
    r = run(root, spec, "performance", {"max_slice_gap": 0.5})
    pos = metric(r, "accuracy", "region=pos")
    assert pos["value"] is not None and pos["note"] is None
    gap = next(m for m in r.to_json()["metrics"] if m["name"] == "slice_gap")
    assert gap["passed"] in (True, False) and gap["value"] is not None


@pytest.mark.slow
def test_slice_whose_metric_is_undefined_fails_the_gap_with_the_reason(tmp_path):
    """Regression R^2 on a one-row slice (the spec allows slices of 1 row): the gap fails closed."""
    rng = np.random.default_rng(6)
    ref = pd.DataFrame(rng.normal(size=(300, 4)), columns=FEATURES)
    ref["y"] = ref["x0"] + rng.normal(scale=0.1, size=300)
    ev = pd.DataFrame(rng.normal(size=(200, 4)), columns=FEATURES)
    ev["y"] = ev["x0"] + rng.normal(scale=0.1, size=200)
    ev["region"] = "north"
    ev.loc[0, "region"] = "south"
    for f in (ref, ev):
        f["group"] = 0
    ref["region"] = "north"
    inputs = [{"name": c, "type": "float"} for c in FEATURES] + [
        {"name": "region", "type": "string", "modelInput": False}]
    model = LinearRegression().fit(ref[FEATURES].to_numpy(), ref["y"].to_numpy())
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": model}, task="regression", inputs=inputs,
                            validation={"sliceColumns": ["region"]})
    r = run(root, spec, "performance", {"max_slice_gap": 0.5, "min_slice_rows": 1})
    assert r.status == "fail", r.summary
    south = metric(r, "slice_gap", "region=south")
    assert south["passed"] is False and south["value"] is None
    assert south["note"] == "could not be computed: r2 on region=south: R^2 needs at least 2 rows"
    assert "slice_gap [region=south] could not be computed" in r.summary
    assert metric(r, "slice_gap", "region=north")["passed"] is True  # the computable slice is still judged


@pytest.mark.slow
def test_disparate_impact_without_positive_predictions_fails(tmp_path, data):
    """A model that never predicts the positive class: the ratio of positive rates is 0/0, not 'fair'."""
    ref, ev = data
    never = DummyClassifier(strategy="constant", constant=0).fit(ref[FEATURES].to_numpy(), ref["y"].to_numpy())
    root, spec = write_repo(tmp_path, ref, ev, {"2.0.0": never})
    r = run(root, spec, "bias", {"max_demographic_parity_diff": 0.1, "min_disparate_impact": 0.8})
    di = metric(r, "disparate_impact", "group")
    assert r.status == "fail", r.summary
    assert di["passed"] is False and di["gate"] is True
    assert "no group of 'group' receives a positive prediction" in di["note"]
    assert metric(r, "demographic_parity_diff", "group")["passed"] is True


@pytest.mark.slow
def test_champion_comparison_cannot_be_dodged_by_losing_probabilities(tmp_path, data):
    """The champion has a ROC AUC, the candidate none: the roc_auc degradation fails instead of vanishing."""
    ref, ev = data
    root, spec = write_repo(tmp_path, ref, ev, {"1.0.0": lr(ref), "2.0.0": svc(ref)}, champion="1.0.0")
    r = run(root, spec, "champion", {"max_metric_degradation": 0.05}, champion="1.0.0")
    deg = metric(r, "roc_auc_degradation")
    assert r.status == "fail", r.summary
    assert deg["passed"] is False and "the candidate has no roc_auc" in deg["note"]
    assert "no predict_proba" in deg["note"]
    assert metric(r, "accuracy_degradation")["passed"] is True


def test_judge_and_status_fail_closed_on_unknowns():
    m = judge("min_roc_auc", None, 0.8, why="the model gives no probabilities")
    assert m.passed is False and m.note == "could not be computed: the model gives no probabilities"
    assert judge("max_psi", float("nan"), 0.2).passed is False
    assert judge("min_roc_auc", None, None).passed is None  # no threshold: nothing judged
    na = not_applicable("min_r2", 0.3, "r2 is a regression metric")
    assert na.applicable is False and na.passed is None and na.gate is False
    assert status_of([na]) == "pass"
    # a hand-built gating metric under a threshold with no verdict is not a pass either
    assert status_of([Metric("x", None, 0.5, ">=", None)]) == "fail"


def test_a_pass_that_its_own_metrics_contradict_does_not_pass():
    """A result document (a worker's, an Argo step's, an uploaded artifact) is re-judged from its metrics."""
    base = {"status": "pass", "metrics": [{"name": "roc_auc", "value": None, "threshold": 0.8, "op": ">=",
                                           "passed": None, "gate": True, "scope": "overall", "note": None}]}
    assert not document_passes(base)
    assert not document_passes({**base, "metrics": [{**base["metrics"][0], "passed": False}]})
    assert document_passes({**base, "metrics": [{**base["metrics"][0], "applicable": False, "gate": False}]})
    assert not document_passes({**base, "status": "error", "metrics": []})
    assert not document_passes(None)


GOVOPS_YAML = """\
apiVersion: govops/v1
kind: Governance
specPaths: [specs]
riskGroup: risk
groups: {risk: [risk.officer]}
tiers:
  medium:
    description: a tier whose defaults apply both tasks' thresholds to every model
    requiredChecks: [performance]
    defaults:
      performance: {min_accuracy: 0.6, min_roc_auc: 0.6, min_r2: 0.3}
    approvals: {count: 1}
tenants:
  t: {paths: [specs/t/], owners: [someone], approvers: [lead]}
allowedRuntimes: [mlserver_sklearn.SKLearnModel]
"""


@pytest.mark.slow
def test_validate_exits_1_and_shows_why_a_tier_default_could_not_be_computed(tmp_path, data):
    ref, ev = data
    root, _ = write_repo(tmp_path / "repo", ref, ev, {"2.0.0": svc(ref)})
    (root / "govops.yaml").write_text(GOVOPS_YAML)
    p = govops("-C", str(root), "validate", "--model", "t/m", "--out", str(tmp_path / "out"), "--jobs", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith("t/m"))
    assert "FAIL" in row and "roc_auc" in row and "the model gives no probabilities" in row
    doc = json.loads((tmp_path / "out" / "t" / "m" / "performance.json").read_text())
    assert doc["status"] == "fail" and metric(doc, "roc_auc")["passed"] is False
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["ok"] is False


@pytest.mark.slow
def test_validate_passes_a_regression_model_under_classification_tier_defaults(tmp_path):
    rng = np.random.default_rng(8)
    ref = pd.DataFrame(rng.normal(size=(300, 4)), columns=FEATURES)
    ev = pd.DataFrame(rng.normal(size=(200, 4)), columns=FEATURES)
    for f in (ref, ev):
        f["group"] = rng.integers(0, 2, len(f))
        f["y"] = f["x0"] * 2 + rng.normal(scale=0.1, size=len(f))
    model = LinearRegression().fit(ref[FEATURES].to_numpy(), ref["y"].to_numpy())
    root, _ = write_repo(tmp_path / "repo", ref, ev, {"2.0.0": model}, task="regression")
    (root / "govops.yaml").write_text(GOVOPS_YAML)
    p = govops("-C", str(root), "validate", "--model", "t/m", "--out", str(tmp_path / "out"), "--jobs", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    doc = json.loads((tmp_path / "out" / "t" / "m" / "performance.json").read_text())
    assert doc["status"] == "pass"
    assert metric(doc, "accuracy")["applicable"] is False and metric(doc, "roc_auc")["applicable"] is False
    assert metric(doc, "r2")["passed"] is True


# --- monitoring: an unknown is an alert, a spec that stops loading is a blind spot ---------------------

def test_monitored_metric_without_a_value_fails_closed_unless_not_judged():
    unknown = bounded("performance", "roc_auc", None, {"min_roc_auc": 0.75},
                      why="the prediction log holds no probabilities (proba column)")
    assert unknown.passed is False and unknown.score == 0.0 and unknown.unknown
    assert unknown.describe() == ("performance.roc_auc could not be computed: the prediction log holds no "
                                  "probabilities (proba column) (allowed >= 0.75)")
    waiting = bounded("performance", "roc_auc", None, {"min_roc_auc": 0.75}, not_judged="3 row(s) with feedback")
    assert waiting.passed is None and waiting.score is None and waiting.note == "3 row(s) with feedback"
    assert bounded("drift", "psi", float("inf"), {"max_psi": 0.2}).passed is False
    assert Measured("kpi", "x", None).passed is None  # no bounds: nothing to judge


M = "clinical/readmission-triage"
SPEC = "specs/clinical/readmission-triage.yaml"
HOUR = 3600 * 10**9


def monitored_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: HttpReceivers,
                   smtp: SmtpReceiver) -> Path:
    """The example repository with only the triage model, its channels pointed at the real receivers."""
    repo = copy_example_repo(tmp_path / "repo", git=False)
    for f in (repo / "specs").rglob("*.yaml"):
        if f.relative_to(repo).as_posix() != SPEC:
            f.unlink()
    (repo / ".govops").mkdir(exist_ok=True)
    (repo / ".govops" / "secrets.yaml").write_text(
        f"SLACK_WEBHOOK_CLINICAL: {http.url}/slack/T1/B1/abc\nPAGERDUTY_CLINICAL: pd-routing-key\n"
        f"SMTP_HOST: 127.0.0.1\nSMTP_PORT: {smtp.port}\nSMTP_FROM: govops@example.com\n")
    monkeypatch.setenv("GOVOPS_PAGERDUTY_URL", http.url)
    monkeypatch.setenv("GOVOPS_ALERT_RETRY_BASE_S", "0.01")
    monkeypatch.delenv("GOVOPS_LOG_DIR", raising=False)
    for var in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "SLACK_WEBHOOK_CLINICAL", "PAGERDUTY_CLINICAL", "SMTP_HOST"):
        monkeypatch.delenv(var, raising=False)
    run_git(repo, "init", "-q", "-b", "main")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "one monitored model")
    return repo


def typo(repo: Path) -> int:
    """``champion:`` misspelt ``champoin:`` on main; returns the line of the typo."""
    text = (repo / SPEC).read_text()
    assert "\n    champion: 1.1.0\n" in text
    (repo / SPEC).write_text(text.replace("\n    champion: 1.1.0\n", "\n    champoin: 1.1.0\n"))
    return next(i for i, x in enumerate((repo / SPEC).read_text().splitlines(), 1) if "champoin:" in x)


@pytest.mark.slow
def test_a_spec_that_stops_loading_is_a_blind_spot_not_a_silent_drop(tmp_path, monkeypatch, capsys):
    with HttpReceivers() as http, SmtpReceiver() as smtp:
        repo = monitored_repo(tmp_path, monkeypatch, http, smtp)
        t = time.time_ns()
        logs = repo / ".govops" / "logs"
        write_predictions(logs, M, traffic(repo, M, "1.1.0", 300, seed=1), start_ns=t - HOUR + 10**9,
                          spacing_ns=10**9)
        # a pass while the spec loads: the model is measured and its file and channels are recorded
        assert main(["-C", str(repo), "monitor", "--once", "--format", "json"]) in (0, 1)
        first = json.loads(capsys.readouterr().out)
        assert [m["model"] for m in first["models"]] == [M] and first["models"][0]["error"] is None
        sent_before = len(http.slack)

        line = typo(repo)
        code = main(["-C", str(repo), "monitor", "--once", "--format", "json"])
        captured = capsys.readouterr()
        assert code == 2  # input a person must fix (see engine/commands/monitor.py), never 0
        err = captured.err
        assert f"{SPEC}:" in err and "monitoring blind: clinical/readmission-triage is not monitored" in err
        # every lint error of the file, each at its line:col: the missing field and the typo
        assert "missing required field 'champion' in spec.deployment [schema/missing-field]" in err
        assert f"{line}:5: unknown field 'champoin' in spec.deployment (did you mean 'champion'?)" in err
        doc = json.loads(captured.out)
        blind = next(m for m in doc["models"] if m["model"] == M)  # still listed, not dropped
        assert blind["error"].startswith(f"{SPEC}:") and blind["details"]["blind"] is True
        keys = {a["key"] for a in blind["alerts"]}
        assert keys == {f"{M}|monitoring.blind|critical"}
        assert all(a["delivered"] for a in blind["alerts"])
        # delivered through the normal alert path, to the channels the spec names
        texts = [r.body["text"] for r in http.slack[sent_before:]]
        assert any("monitoring blind" in x and f"{SPEC}:" in x for x in texts)
        assert any("monitoring blind" in r.body["payload"]["summary"] for r in http.pagerduty
                   if r.body["event_action"] == "trigger")
        assert any("monitoring blind" in str(msg["Subject"]) for msg in smtp.messages)
        health = read_health(repo)[M]
        assert "monitoring.blind" in health["flags"] and health["blind"]["error"].startswith(f"{SPEC}:")
        active = json.loads((repo / ".govops" / "monitoring" / "alerts.json").read_text())["active"]
        assert f"{M}|monitoring.blind|critical" in active

        # the typo fixed: the model is monitored again and the blind alert resolves
        (repo / SPEC).write_text((repo / SPEC).read_text().replace("champoin:", "champion:"))
        assert main(["-C", str(repo), "monitor", "--once", "--format", "json"]) in (0, 1)
        again = json.loads(capsys.readouterr().out)
        assert again["models"][0]["error"] is None
        assert any(a["key"] == f"{M}|monitoring.blind|critical" and a["status"] == "resolved"
                   for a in again["models"][0]["alerts"])
        assert read_health(repo)[M]["blind"] is None


@pytest.mark.slow
def test_a_broken_spec_without_earlier_state_still_fails_the_pass(tmp_path, monkeypatch):
    """No earlier pass, the model asked for by id: still exit 2, file:line on stderr (real CLI process)."""
    with HttpReceivers() as http, SmtpReceiver() as smtp:
        repo = monitored_repo(tmp_path, monkeypatch, http, smtp)
        line = typo(repo)
        p = govops("-C", str(repo), "monitor", "--once", "--model", M, "--dry-run")
        assert p.returncode == 2, p.stdout + p.stderr
        assert f"{SPEC}:" in p.stderr and "monitoring blind" in p.stderr and "Traceback" not in p.stderr
        assert f"{line}:" in p.stderr
        assert not http.slack  # --dry-run sends nothing


@pytest.mark.slow
def test_monitored_roc_auc_without_logged_probabilities_is_an_alert(tmp_path, monkeypatch, capsys):
    with HttpReceivers() as http, SmtpReceiver() as smtp:
        repo = monitored_repo(tmp_path, monkeypatch, http, smtp)
        t = time.time_ns()
        logs = repo / ".govops" / "logs"
        rows = traffic(repo, M, "1.1.0", 300, seed=3)
        rows["proba"] = np.nan  # the gateway logged no probabilities
        write_predictions(logs, M, rows, start_ns=t - HOUR + 10**9, spacing_ns=10**9)
        write_feedback(logs, M, rows, ts_ns=t - 10**9)
        main(["-C", str(repo), "monitor", "--once", "--format", "json"])
        doc = json.loads(capsys.readouterr().out)["models"][0]
        auc = next(m for m in doc["metrics"] if m["key"] == "performance.roc_auc")
        assert auc["passed"] is False and auc["unknown"] is True and auc["score"] == 0.0
        assert "could not be computed: the prediction log lacks a probability" in auc["note"]
        assert "performance.roc_auc" in doc["flags"]
        assert f"{M}|performance.roc_auc|warning" in {a["key"] for a in doc["alerts"]}
        assert any("performance.roc_auc could not be computed" in r.body["text"] for r in http.slack)


def test_state_keeps_no_secret_values_for_blind_alerts():
    """The channels recorded for blind alerts are secret *names*; a webhook URL never reaches state.json."""
    from engine.monitoring.blind import channel_data, channels_of

    data = {"spec": {"monitoring": {"channels": [
        {"type": "slack", "webhookSecret": "SLACK_WEBHOOK_CLINICAL"}, {"type": "nope"}, "junk"]}}}
    chans = channels_of(data)
    assert [c.type for c in chans] == ["slack"]
    assert channel_data(chans) == [{"type": "slack", "webhookSecret": "SLACK_WEBHOOK_CLINICAL"}]
    assert channels_of({"spec": {"monitoring": {"channels": [
        {"type": "slack", "webhookSecret": "https://hooks.slack.com/services/T/B/x"}]}}}) == []
