package govops.waivers_test

import data.govops.fixtures_test as f
import rego.v1

waiver := {"rule": "GOV-ART-001", "model": "acme/m", "reason": "vendor artifact, digest pending", "approver": "rita.risk", "expires": "2026-12-31T00:00:00+00:00", "expires_ns": 1798675200000000000}

waived := json.patch(f.unpinned, [{"op": "replace", "path": "/waivers", "value": [waiver]}])

test_waiver_removes_deny if not "GOV-ART-001" in f.denied with input as waived

test_waiver_reports_waived_deny_as_warn if "GOV-ART-001" in f.warned with input as waived

expired := json.patch(waived, [{"op": "replace", "path": "/now_ns", "value": 1798675200000000000}])

test_expired_waiver_no_longer_applies if "GOV-ART-001" in f.denied with input as expired

other_model := json.patch(waived, [{"op": "replace", "path": "/waivers/0/model", "value": "acme/other"}])

test_waiver_for_other_model_does_not_apply if "GOV-ART-001" in f.denied with input as other_model

wildcard := json.patch(waived, [{"op": "replace", "path": "/waivers/0/model", "value": "*"}])

test_wildcard_waiver_applies if not "GOV-ART-001" in f.denied with input as wildcard

bad_approver := json.patch(waived, [{"op": "replace", "path": "/waivers/0/approver", "value": "ann.ds"}])

test_wvr_001_waiver_by_non_risk_member_ignored if "GOV-ART-001" in f.denied with input as bad_approver

test_wvr_001_waiver_by_non_risk_member_warned if "GOV-WVR-001" in f.warned with input as bad_approver

test_wvr_001_valid_waiver_not_warned if not "GOV-WVR-001" in f.warned with input as waived
