package govops.artifacts_test

import data.govops.fixtures_test as f
import rego.v1

test_art_001_unpinned_artifact_denied if "GOV-ART-001" in f.denied with input as f.unpinned

test_art_001_pinned_artifact_allowed if not "GOV-ART-001" in f.denied with input as f.base

bad_runtime := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/0/runtime", "value": "my.CustomRuntime"}])

test_art_002_runtime_not_allowed_denied if "GOV-ART-002" in f.denied with input as bad_runtime

allowed_runtime := json.patch(bad_runtime, [{"op": "add", "path": "/config/allowedRuntimes/-", "value": "my.CustomRuntime"}])

test_art_002_listed_runtime_allowed if not "GOV-ART-002" in f.denied with input as allowed_runtime

latest := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/1/id", "value": "Latest"}])

test_art_003_latest_version_denied if "GOV-ART-003" in f.denied with input as latest

snapshot := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/1/id", "value": "2.0-SNAPSHOT"}])

test_art_003_snapshot_version_denied if "GOV-ART-003" in f.denied with input as snapshot

semver := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/1/id", "value": "2.0.0-rc.1"}])

test_art_003_semver_allowed if not "GOV-ART-003" in f.denied with input as semver

swapped_artifact := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/0/artifact/sha256", "value": "1111111111111111111111111111111111111111111111111111111111111111"}])

test_art_004_swapped_artifact_of_released_version_denied if "GOV-ART-004" in f.denied with input as swapped_artifact

swapped_runtime := json.patch(f.base, [
	{"op": "replace", "path": "/spec/spec/versions/1/runtime", "value": "my.CustomRuntime"},
	{"op": "add", "path": "/config/allowedRuntimes/-", "value": "my.CustomRuntime"},
])

test_art_004_changed_runtime_of_released_version_denied if "GOV-ART-004" in f.denied with input as swapped_runtime

swapped_lineage := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/1/lineage/code/commit", "value": "def5678"}])

test_art_004_changed_lineage_of_released_version_denied if "GOV-ART-004" in f.denied with input as swapped_lineage

moved_artifact := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/versions/0/artifact/uri", "value": "s3://bucket/m/1.0.0/model.joblib"}])

# the same digest at another uri is still another artifact to every target that does not re-hash (Kubernetes)
test_art_004_moved_artifact_with_same_digest_denied if "GOV-ART-004" in f.denied with input as moved_artifact

described := json.patch(f.base, [{"op": "add", "path": "/spec/spec/versions/0/description", "value": "now documented"}])

test_art_004_description_edit_allowed if not "GOV-ART-004" in f.denied with input as described

new_version := json.patch(f.base, [{"op": "add", "path": "/spec/spec/versions/-", "value": f.version("1.2.0")}])

test_art_004_new_version_allowed if not "GOV-ART-004" in f.denied with input as new_version

new_model := json.patch(f.base, [{"op": "replace", "path": "/previous", "value": null}])

test_art_004_new_model_allowed if not "GOV-ART-004" in f.denied with input as new_model

test_art_004_recheck_allowed if not "GOV-ART-004" in f.denied with input as f.recheck
