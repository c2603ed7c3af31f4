# Shared fixtures for the unit tests: a high-tier model changed in a fully approved PR.
package govops.fixtures_test

import rego.v1

config := {
	"riskGroup": "risk",
	"groups": {"risk": ["rita.risk", "omar.risk"]},
	"allowedRuntimes": ["mlserver_sklearn.SKLearnModel"],
	"personalData": ["email", "ssn"],
	"tenants": {"acme": {"paths": ["specs/acme/"], "owners": ["ann.ds"], "approvers": ["bob.lead"]}},
	"tiers": {
		"low": {
			"requiredChecks": ["performance"],
			"defaults": {"performance": {"min_accuracy": 0.7}},
			"approvals": {"count": 1, "groups": []},
			"maxFirstCanaryWeight": 50,
			"requireLineage": false,
			"requireAlerting": false,
			"requireAutoShutdown": false,
			"requireProgressiveRollout": false,
			"forbidSensitiveFeatures": false,
		},
		"high": {
			"requiredChecks": ["performance", "bias"],
			"defaults": {"performance": {"min_accuracy": 0.8, "max_log_loss": 0.5}, "bias": {"min_disparate_impact": 0.8}},
			"approvals": {"count": 2, "groups": ["risk"]},
			"maxFirstCanaryWeight": 10,
			"requireLineage": true,
			"requireAlerting": true,
			"requireAutoShutdown": true,
			"requireProgressiveRollout": true,
			"forbidSensitiveFeatures": true,
		},
	},
	"freezes": [],
}

version(id) := {
	"id": id,
	"artifact": {"uri": concat("", ["artifacts/", id, "/model.joblib"]), "sha256": "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"},
	"runtime": "mlserver_sklearn.SKLearnModel",
	"lineage": {
		"trainingData": {"uri": "data/train.csv", "sha256": "aa0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"},
		"code": {"repo": "https://git.example.com/acme/train", "commit": "abc1234"},
	},
}

spec := {
	"apiVersion": "govops/v1",
	"kind": "Model",
	"metadata": {"name": "m", "tenant": "acme", "owners": ["ann.ds"]},
	"spec": {
		"tier": "high",
		"task": "classification",
		"interface": {
			"inputs": [
				{"name": "age", "type": "float", "sensitive": false, "modelInput": true},
				{"name": "sex", "type": "category", "sensitive": true, "modelInput": false},
			],
			"outputs": [{"name": "y", "type": "integer", "sensitive": false, "modelInput": true}],
		},
		"versions": [version("1.0.0"), version("1.1.0")],
		"deployment": {"champion": "1.0.0", "challengers": [{"version": "1.1.0", "mode": "canary", "weight": 5}], "failover": "1.1.0"},
		"validation": {"label": "y", "checks": {}},
		"monitoring": {
			"thresholds": {"drift": {"max_psi": 0.2}, "performance": {}, "bias": {}, "anomaly": {}, "operational": {}, "kpis": []},
			"channels": [{"type": "email", "to": ["oncall@example.com"]}],
			"autoShutdown": {"enabled": true},
		},
	},
}

checks := {"performance": {"min_accuracy": 0.8, "max_log_loss": 0.5}, "bias": {"min_disparate_impact": 0.8}}

# 2026-12-01T00:00:00Z
now := 1796083200000000000

base := {
	"model": "acme/m",
	"file": "specs/acme/m.yaml",
	"mode": "change",
	"spec": spec,
	"previous": spec,
	"previous_file": "specs/acme/m.yaml",
	"plan": {"model": "acme/m", "change": "modified", "kinds": ["metadata_change"], "thresholds": []},
	"checks": checks,
	"previous_checks": checks,
	"context": {
		"author": "ann.ds",
		"approvals": [{"approver": "bob.lead", "group": null}, {"approver": "rita.risk", "group": "risk"}],
		"labels": [],
		"changed_files": ["specs/acme/m.yaml"],
		"target_branch": "main",
		"pr_number": 7,
	},
	"config": config,
	"freezes": [],
	"waivers": [],
	"now_ns": now,
}

# The same model re-checked on main: no change, no context.
recheck := json.patch(base, [
	{"op": "replace", "path": "/mode", "value": "recheck"},
	{"op": "replace", "path": "/plan", "value": {"model": "acme/m", "change": "unchanged", "kinds": [], "thresholds": []}},
	{"op": "replace", "path": "/context", "value": {"author": null, "approvals": [], "labels": [], "changed_files": [], "pr_number": null, "target_branch": null}},
])

# Only bob.lead (tenant approver) approved: no risk-group approval.
bob_only := json.patch(base, [{"op": "replace", "path": "/context/approvals", "value": [{"approver": "bob.lead", "group": null}]}])

# Evaluated against the current input: use as `... with input as CASE` (one line per test;
# `govops policy test` sets CASE as the input, since regopy cannot evaluate `with`).
result := data.govops.main

denied := {d.rule | some d in data.govops.main.deny}

warned := {w.rule | some w in data.govops.main.warn}

# json.patch, not object.union: regopy 1.5.2's object.union does not merge nested objects.
test_base_is_clean if count(result.deny) + count(result.warn) == 0 with input as base

test_recheck_is_clean if count(result.deny) + count(result.warn) == 0 with input as recheck

test_items_have_rule_message_path if result.deny == [{"rule": "GOV-ART-001", "path": "spec.versions[0].artifact", "message": "version 1.0.0: artifact artifacts/1.0.0/model.joblib is not pinned; add artifact.sha256 (the sha256sum of the file, or run `make artifacts`)"}] with input as unpinned

# Unpinned at the base too (an unpinned released version is GOV-ART-004 when the PR drops its digest).
unpinned := json.patch(base, [
	{"op": "remove", "path": "/spec/spec/versions/0/artifact/sha256"},
	{"op": "remove", "path": "/previous/spec/versions/0/artifact/sha256"},
])
