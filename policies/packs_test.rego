package govops.packs_test

import data.govops.fixtures_test as f
import rego.v1

with_packs := json.patch(f.base, [{"op": "add", "path": "/config/tiers/high/requirePacks", "value": ["sr-11-7"]}])

covered := {"title": "SR 11-7", "found": true, "complete": true, "controls": {"SR-DEV-1": {"status": "covered", "ref": "III", "missing": [], "missing_text": "", "path": "spec"}}}

partial := {"title": "SR 11-7", "found": true, "complete": false, "controls": {"SR-DEV-1": {"status": "partial", "ref": "III", "missing": ["spec:metadata.limitations"], "missing_text": "spec:metadata.limitations", "path": "metadata.limitations"}}}

complete_input := json.patch(with_packs, [{"op": "add", "path": "/packs", "value": {"sr-11-7": covered}}])

incomplete_input := json.patch(with_packs, [{"op": "add", "path": "/packs", "value": {"sr-11-7": partial}}])

test_pack_002_incomplete_coverage_denied if "GOV-PACK-002" in f.denied with input as incomplete_input

test_pack_002_complete_coverage_allowed if not "GOV-PACK-002" in f.denied with input as complete_input

test_pack_001_complete_coverage_allowed if not "GOV-PACK-001" in f.denied with input as complete_input

test_pack_001_coverage_absent_denied if "GOV-PACK-001" in f.denied with input as with_packs

not_found := json.patch(with_packs, [{"op": "add", "path": "/packs", "value": {"sr-11-7": {"title": "sr-11-7", "found": false, "complete": false, "controls": {}}}}])

test_pack_001_pack_not_in_library_denied if "GOV-PACK-001" in f.denied with input as not_found

test_pack_tier_without_packs_allowed if not "GOV-PACK-002" in f.denied with input as f.base

test_pack_001_tier_without_packs_not_denied if not "GOV-PACK-001" in f.denied with input as f.base

# The engine sends coverage for a pack the spec's tiers do not name when the same change removes a
# model whose tier requires it (a rename into a lower tier): that pack is required too.
renamed := json.patch(f.base, [{"op": "add", "path": "/packs", "value": {"sr-11-7": partial}}, {"op": "replace", "path": "/previous", "value": null}])

test_pack_002_pack_sent_for_a_rename_is_required if "GOV-PACK-002" in f.denied with input as renamed

staging := json.patch(incomplete_input, [{"op": "add", "path": "/spec/spec/deployment/environment", "value": "staging"}])

warned := {w.rule | some w in data.govops.main.warn}

test_pack_002_staging_not_denied if not "GOV-PACK-002" in f.denied with input as staging

test_pack_003_staging_warned if "GOV-PACK-003" in warned with input as staging

unchanged := json.patch(incomplete_input, [{"op": "replace", "path": "/plan/change", "value": "unchanged"}])

test_pack_recheck_of_main_not_denied if not "GOV-PACK-002" in f.denied with input as unchanged

test_pack_003_production_not_warned if not "GOV-PACK-003" in warned with input as incomplete_input

lowered := json.patch(incomplete_input, [{"op": "replace", "path": "/spec/spec/tier", "value": "low"}])

test_pack_002_lowering_the_tier_does_not_shed_the_pack if "GOV-PACK-002" in f.denied with input as lowered
