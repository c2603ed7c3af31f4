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

# Lowering the tier in the same change: the tier it leaves still demands its approvals.
lowered := json.patch(f.bob_only, [{"op": "replace", "path": "/spec/spec/tier", "value": "low"}])

test_app_001_lowered_tier_alone_is_satisfied_by_one_approval if not "GOV-APP-001" in f.denied with input as lowered

test_app_003_lowered_tier_needs_the_left_tiers_count if "GOV-APP-003" in f.denied with input as lowered

test_app_004_lowered_tier_needs_the_left_tiers_groups if "GOV-APP-004" in f.denied with input as lowered

lowered_approved := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/tier", "value": "low"}])

test_app_003_lowered_tier_with_the_left_tiers_count_allowed if not "GOV-APP-003" in f.denied with input as lowered_approved

test_app_004_lowered_tier_with_the_left_tiers_group_allowed if not "GOV-APP-004" in f.denied with input as lowered_approved

test_app_003_same_tier_is_not_a_move if not "GOV-APP-003" in f.denied with input as f.bob_only

test_app_004_same_tier_is_not_a_move if not "GOV-APP-004" in f.denied with input as f.bob_only

new_model_bob_only := json.patch(f.bob_only, [{"op": "replace", "path": "/previous", "value": null}])

test_app_003_new_model_has_no_tier_to_leave if not "GOV-APP-003" in f.denied with input as new_model_bob_only

test_app_003_recheck_needs_no_approvals if not "GOV-APP-003" in f.denied with input as f.recheck
