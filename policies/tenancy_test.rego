package govops.tenancy_test

import data.govops.fixtures_test as f
import rego.v1

unknown_tenant := json.patch(f.base, [{"op": "replace", "path": "/spec/metadata/tenant", "value": "umbrella"}])

test_ten_001_undeclared_tenant_denied if "GOV-TEN-001" in f.denied with input as unknown_tenant

test_ten_001_declared_tenant_allowed if not "GOV-TEN-001" in f.denied with input as f.base

wrong_path := json.patch(f.recheck, [{"op": "replace", "path": "/file", "value": "specs/other/m.yaml"}])

test_ten_002_spec_outside_tenant_paths_denied if "GOV-TEN-002" in f.denied with input as wrong_path

test_ten_002_spec_under_tenant_path_allowed if not "GOV-TEN-002" in f.denied with input as f.recheck

outsider := json.patch(f.base, [{"op": "replace", "path": "/context/author", "value": "mallory"}])

test_ten_003_outsider_author_denied if "GOV-TEN-003" in f.denied with input as outsider

no_author := json.patch(f.base, [{"op": "replace", "path": "/context/author", "value": null}])

test_ten_003_unknown_author_denied if "GOV-TEN-003" in f.denied with input as no_author

test_ten_003_owner_author_allowed if not "GOV-TEN-003" in f.denied with input as f.base

risk_only := json.patch(f.base, [{"op": "replace", "path": "/context/approvals", "value": [{"approver": "rita.risk", "group": "risk"}, {"approver": "omar.risk", "group": "risk"}]}])

test_ten_004_no_tenant_approval_denied if "GOV-TEN-004" in f.denied with input as risk_only

test_ten_004_tenant_approver_allowed if not "GOV-TEN-004" in f.denied with input as f.base
