package govops.checks_test

import data.govops.fixtures_test as f
import rego.v1

bias_off := json.patch(f.base, [{"op": "add", "path": "/spec/spec/validation/checks/bias", "value": {"enabled": false, "thresholds": {}}}])

test_chk_001_required_check_disabled_denied if "GOV-CHK-001" in f.denied with input as bias_off

drift_off := json.patch(f.base, [{"op": "add", "path": "/spec/spec/validation/checks/drift", "value": {"enabled": false, "thresholds": {}}}])

test_chk_001_optional_check_disabled_allowed if not "GOV-CHK-001" in f.denied with input as drift_off

no_validation := json.patch(f.base, [{"op": "remove", "path": "/spec/spec/validation"}])

test_chk_002_no_validation_denied if "GOV-CHK-002" in f.denied with input as no_validation

nothing_required := json.patch(no_validation, [{"op": "replace", "path": "/config/tiers/high/requiredChecks", "value": []}])

test_chk_002_nothing_required_allowed if not "GOV-CHK-002" in f.denied with input as nothing_required

bias_empty := json.patch(f.base, [{"op": "replace", "path": "/checks/bias", "value": {}}])

test_chk_003_required_check_without_thresholds_denied if "GOV-CHK-003" in f.denied with input as bias_empty

test_chk_003_thresholds_present_allowed if not "GOV-CHK-003" in f.denied with input as f.base

loosened_unapproved := json.patch(f.bob_only, [{"op": "replace", "path": "/checks/performance/min_accuracy", "value": 0.75}])

test_thr_001_weaker_than_default_denied if "GOV-THR-001" in f.denied with input as loosened_unapproved

max_loosened := json.patch(f.bob_only, [{"op": "replace", "path": "/checks/performance/max_log_loss", "value": 0.9}])

test_thr_001_max_threshold_weaker_denied if "GOV-THR-001" in f.denied with input as max_loosened

loosened_risk_approved := json.patch(f.base, [{"op": "replace", "path": "/checks/performance/min_accuracy", "value": 0.75}])

test_thr_001_risk_approved_allowed if not "GOV-THR-001" in f.denied with input as loosened_risk_approved

tightened := json.patch(f.bob_only, [{"op": "replace", "path": "/checks/performance/min_accuracy", "value": 0.9}])

test_thr_001_tightened_allowed if not "GOV-THR-001" in f.denied with input as tightened

weak_on_main := json.patch(f.recheck, [
	{"op": "replace", "path": "/checks/performance/min_accuracy", "value": 0.75},
	{"op": "replace", "path": "/previous_checks/performance/min_accuracy", "value": 0.75},
])

test_thr_002_existing_weak_threshold_warned if "GOV-THR-002" in f.warned with input as weak_on_main

test_thr_002_existing_weak_threshold_not_denied if not "GOV-THR-001" in f.denied with input as weak_on_main

test_thr_002_default_threshold_not_warned if not "GOV-THR-002" in f.warned with input as f.recheck

loosened_vs_base := json.patch(f.bob_only, [
	{"op": "replace", "path": "/checks/performance/min_accuracy", "value": 0.85},
	{"op": "replace", "path": "/previous_checks/performance/min_accuracy", "value": 0.9},
	{"op": "replace", "path": "/plan/thresholds", "value": [{"check": "performance", "threshold": "min_accuracy", "from": 0.9, "to": 0.85, "change": "loosened"}]},
])

test_thr_003_loosened_vs_base_denied if "GOV-THR-003" in f.denied with input as loosened_vs_base

check_removed := json.patch(f.bob_only, [{"op": "replace", "path": "/plan/thresholds", "value": [{"check": "drift", "threshold": null, "from": null, "to": null, "change": "check_removed"}]}])

test_thr_003_check_removed_denied if "GOV-THR-003" in f.denied with input as check_removed

tightened_vs_base := json.patch(f.bob_only, [
	{"op": "replace", "path": "/checks/performance/min_accuracy", "value": 0.85},
	{"op": "replace", "path": "/plan/thresholds", "value": [{"check": "performance", "threshold": "min_accuracy", "from": 0.8, "to": 0.85, "change": "tightened"}]},
])

test_thr_003_tightened_vs_base_allowed if not "GOV-THR-003" in f.denied with input as tightened_vs_base
