package govops.meta_test

import data.govops.fixtures_test as f
import rego.v1

policy_edit := json.patch(f.bob_only, [{"op": "replace", "path": "/context/changed_files", "value": ["policies/checks.rego", "specs/acme/m.yaml"]}])

test_meta_001_policy_change_without_risk_denied if "GOV-META-001" in f.denied with input as policy_edit

config_edit := json.patch(f.bob_only, [{"op": "replace", "path": "/context/changed_files", "value": ["govops.yaml"]}])

test_meta_001_config_change_without_risk_denied if "GOV-META-001" in f.denied with input as config_edit

config_edit_approved := json.patch(config_edit, [{"op": "add", "path": "/context/approvals/-", "value": {"approver": "omar.risk", "group": "risk"}}])

test_meta_001_config_change_with_risk_allowed if not "GOV-META-001" in f.denied with input as config_edit_approved

test_meta_001_spec_only_change_allowed if not "GOV-META-001" in f.denied with input as f.bob_only

workflow_edit := json.patch(f.bob_only, [{"op": "replace", "path": "/context/changed_files", "value": [".github/workflows/govops-pr.yml"]}])

test_meta_001_ci_workflow_change_without_risk_denied if "GOV-META-001" in f.denied with input as workflow_edit

owners_edit := json.patch(f.bob_only, [{"op": "replace", "path": "/context/changed_files", "value": ["CODEOWNERS"]}])

test_meta_001_codeowners_change_without_risk_denied if "GOV-META-001" in f.denied with input as owners_edit
