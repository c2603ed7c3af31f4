package govops.freeze_test

import data.govops.fixtures_test as f
import rego.v1

window := {"name": "year-end-close", "start": "2026-11-30T00:00:00+00:00", "end": "2026-12-02T00:00:00+00:00", "start_ns": 1795996800000000000, "end_ns": 1796169600000000000, "tenants": []}

frozen := json.patch(f.base, [{"op": "replace", "path": "/freezes", "value": [window]}])

test_frz_001_change_inside_window_denied if "GOV-FRZ-001" in f.denied with input as frozen

test_frz_001_message_names_window if count([d | some d in f.result.deny; d.rule == "GOV-FRZ-001"; contains(d.message, "year-end-close")]) == 1 with input as frozen

after_window := json.patch(frozen, [{"op": "replace", "path": "/now_ns", "value": 1796169600000000000}])

test_frz_001_change_at_window_end_allowed if not "GOV-FRZ-001" in f.denied with input as after_window

other_tenant := json.patch(frozen, [{"op": "replace", "path": "/freezes/0/tenants", "value": ["globex"]}])

test_frz_001_other_tenants_window_allowed if not "GOV-FRZ-001" in f.denied with input as other_tenant

frozen_recheck := json.patch(f.recheck, [{"op": "replace", "path": "/freezes", "value": [window]}])

test_frz_001_recheck_inside_window_allowed if not "GOV-FRZ-001" in f.denied with input as frozen_recheck
