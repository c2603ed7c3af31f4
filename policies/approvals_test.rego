package govops.approvals_test

import data.govops.fixtures_test as f
import rego.v1

test_app_001_too_few_approvals_denied if "GOV-APP-001" in f.denied with input as f.bob_only

self_approved := json.patch(f.base, [{"op": "replace", "path": "/context/approvals", "value": [{"approver": "ann.ds", "group": null}, {"approver": "rita.risk", "group": "risk"}]}])

test_app_001_author_approval_does_not_count if "GOV-APP-001" in f.denied with input as self_approved

test_app_001_two_distinct_approvals_allowed if not "GOV-APP-001" in f.denied with input as f.base

test_app_001_recheck_needs_no_approvals if not "GOV-APP-001" in f.denied with input as f.recheck

test_app_002_no_risk_approval_denied if "GOV-APP-002" in f.denied with input as f.bob_only

claimed_risk := json.patch(f.base, [{"op": "replace", "path": "/context/approvals/1", "value": {"approver": "eve", "group": "risk"}}])

test_app_002_claimed_group_not_in_config_denied if "GOV-APP-002" in f.denied with input as claimed_risk

test_app_002_risk_member_allowed if not "GOV-APP-002" in f.denied with input as f.base
