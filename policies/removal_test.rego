package govops.removal_test

import data.govops.fixtures_test as f
import rego.v1

removal_plan := {"model": "acme/m", "change": "removed", "kinds": ["removed_model"], "thresholds": []}

# The PR deletes specs/acme/m.yaml: the input's spec is the last one the base declared.
removed := json.patch(f.base, [{"op": "replace", "path": "/plan", "value": removal_plan}])

test_rmv_001_removal_warned if "GOV-RMV-001" in f.warned with input as removed

test_rmv_001_message_names_serving_versions if count([w | some w in f.result.warn; w.rule == "GOV-RMV-001"; contains(w.message, "versions [\"1.0.0\", \"1.1.0\"] stop serving")]) == 1 with input as removed

test_rmv_001_edit_not_warned if not "GOV-RMV-001" in f.warned with input as f.base

test_approved_removal_not_denied if count(f.result.deny) == 0 with input as removed

removed_bob_only := json.patch(f.bob_only, [{"op": "replace", "path": "/plan", "value": removal_plan}])

test_removal_needs_the_tiers_approvals if {"GOV-APP-001", "GOV-APP-002"} & f.denied == {"GOV-APP-001", "GOV-APP-002"} with input as removed_bob_only

removed_by_outsider := json.patch(removed, [{"op": "replace", "path": "/context/author", "value": "mallory"}])

test_removal_by_someone_outside_the_tenant_denied if "GOV-TEN-003" in f.denied with input as removed_by_outsider

window := {"name": "year-end-close", "start": "2026-11-30T00:00:00+00:00", "end": "2026-12-02T00:00:00+00:00", "start_ns": 1795996800000000000, "end_ns": 1796169600000000000, "tenants": []}

removed_in_freeze := json.patch(removed, [{"op": "replace", "path": "/freezes", "value": [window]}])

test_removal_inside_a_freeze_denied if "GOV-FRZ-001" in f.denied with input as removed_in_freeze

# The removed spec's own content is not judged: an unpinned artifact in a spec being
# deleted does not hold its deletion up.
removed_unpinned := json.patch(removed, [{"op": "remove", "path": "/spec/spec/versions/0/artifact/sha256"}])

test_removed_spec_content_not_judged if not "GOV-ART-001" in f.denied with input as removed_unpinned

edited_unpinned := json.patch(f.base, [{"op": "remove", "path": "/spec/spec/versions/0/artifact/sha256"}])

test_edited_spec_content_still_judged if "GOV-ART-001" in f.denied with input as edited_unpinned

# A model removed together with its tenant, or from a path its tenant no longer owns.
removed_with_tenant := json.patch(removed, [{"op": "replace", "path": "/config/tenants", "value": {}}])

test_removal_with_its_tenant_not_denied if count({"GOV-TEN-001", "GOV-TEN-002"} & f.denied) == 0 with input as removed_with_tenant

edit_of_undeclared_tenant := json.patch(f.base, [{"op": "replace", "path": "/config/tenants", "value": {}}])

test_edit_of_undeclared_tenant_still_denied if "GOV-TEN-001" in f.denied with input as edit_of_undeclared_tenant
