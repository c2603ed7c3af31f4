package govops.rollout_test

import data.govops.fixtures_test as f
import rego.v1

overweight := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/deployment/challengers", "value": [
	{"version": "1.1.0", "mode": "ab", "weight": 60},
	{"version": "1.0.0", "mode": "ab", "weight": 50},
]}])

test_trf_001_weights_over_100_denied if "GOV-TRF-001" in f.denied with input as overweight

exactly_100 := json.patch(overweight, [{"op": "replace", "path": "/spec/spec/deployment/challengers/1/weight", "value": 40}])

test_trf_001_weights_at_100_allowed if not "GOV-TRF-001" in f.denied with input as exactly_100

first_canary_high := json.patch(f.base, [
	{"op": "replace", "path": "/spec/spec/deployment/challengers/0/weight", "value": 25},
	{"op": "replace", "path": "/previous/spec/deployment/challengers", "value": []},
])

test_trf_002_first_canary_over_cap_denied if "GOV-TRF-002" in f.denied with input as first_canary_high

first_canary_at_cap := json.patch(first_canary_high, [{"op": "replace", "path": "/spec/spec/deployment/challengers/0/weight", "value": 10}])

test_trf_002_first_canary_at_cap_allowed if not "GOV-TRF-002" in f.denied with input as first_canary_at_cap

raised_canary := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/deployment/challengers/0/weight", "value": 25}])

test_trf_002_raising_existing_canary_allowed if not "GOV-TRF-002" in f.denied with input as raised_canary

unknown_failover := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/deployment/failover", "value": "0.9.0"}])

test_trf_003_unknown_failover_denied if "GOV-TRF-003" in f.denied with input as unknown_failover

test_trf_003_declared_failover_allowed if not "GOV-TRF-003" in f.denied with input as f.base

failover_is_champion := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/deployment/failover", "value": "1.0.0"}])

test_trf_004_failover_is_champion_denied if "GOV-TRF-004" in f.denied with input as failover_is_champion

test_trf_004_other_failover_allowed if not "GOV-TRF-004" in f.denied with input as f.base

promoted_untried := json.patch(f.base, [
	{"op": "replace", "path": "/spec/spec/deployment/champion", "value": "1.1.0"},
	{"op": "replace", "path": "/spec/spec/deployment/challengers", "value": []},
	{"op": "replace", "path": "/spec/spec/deployment/failover", "value": "1.0.0"},
	{"op": "replace", "path": "/previous/spec/deployment/challengers", "value": []},
	{"op": "replace", "path": "/plan/kinds", "value": ["champion_change"]},
])

test_roll_001_champion_without_trial_denied if "GOV-ROLL-001" in f.denied with input as promoted_untried

promoted_after_canary := json.patch(promoted_untried, [{"op": "replace", "path": "/previous/spec/deployment/challengers", "value": [{"version": "1.1.0", "mode": "canary", "weight": 5}]}])

test_roll_001_champion_after_canary_allowed if not "GOV-ROLL-001" in f.denied with input as promoted_after_canary

promoted_in_low_tier := json.patch(promoted_untried, [{"op": "replace", "path": "/config/tiers/high/requireProgressiveRollout", "value": false}])

test_roll_001_tier_without_requirement_allowed if not "GOV-ROLL-001" in f.denied with input as promoted_in_low_tier
