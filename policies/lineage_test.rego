package govops.lineage_test

import data.govops.fixtures_test as f
import rego.v1

no_data_digest := json.patch(f.base, [{"op": "remove", "path": "/spec/spec/versions/1/lineage/trainingData/sha256"}])

test_lin_001_no_training_data_digest_denied if "GOV-LIN-001" in f.denied with input as no_data_digest

no_lineage := json.patch(f.base, [{"op": "remove", "path": "/spec/spec/versions/0/lineage"}])

test_lin_001_no_lineage_denied if "GOV-LIN-001" in f.denied with input as no_lineage

test_lin_001_lineage_present_allowed if not "GOV-LIN-001" in f.denied with input as f.base

no_code := json.patch(f.base, [{"op": "remove", "path": "/spec/spec/versions/0/lineage/code"}])

test_lin_002_no_code_commit_denied if "GOV-LIN-002" in f.denied with input as no_code

no_code_low := json.patch(no_code, [{"op": "replace", "path": "/config/tiers/high/requireLineage", "value": false}])

test_lin_002_tier_without_lineage_allowed if not "GOV-LIN-002" in f.denied with input as no_code_low
