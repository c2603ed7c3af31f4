# Every version is a pinned, allowed artifact with a stable id.
package govops.artifacts

import data.govops.lib
import rego.v1

allowed_runtimes := {r | some r in lib.config.allowedRuntimes}

floating_ids := {"latest", "current", "stable", "head", "main", "master", "dev", "snapshot", "nightly", "newest"}

floating(id) if lower(id) in floating_ids

floating(id) if contains(lower(id), "latest")

floating(id) if endswith(lower(id), "-snapshot")

deny contains v if {
	some i, ver in lib.spec.versions
	not ver.artifact.sha256
	v := {
		"rule": "GOV-ART-001",
		"path": sprintf("spec.versions[%v].artifact", [i]),
		"message": sprintf(
			"version %s: artifact %s is not pinned; add artifact.sha256 (the sha256sum of the file, or run `make artifacts`)",
			[ver.id, ver.artifact.uri],
		),
	}
}

deny contains v if {
	some i, ver in lib.spec.versions
	not ver.runtime in allowed_runtimes
	v := {
		"rule": "GOV-ART-002",
		"path": sprintf("spec.versions[%v].runtime", [i]),
		"message": sprintf(
			"version %s: runtime %s is not allowed; use one of %v (govops.yaml allowedRuntimes)",
			[ver.id, ver.runtime, sort(lib.config.allowedRuntimes)],
		),
	}
}

deny contains v if {
	some i, ver in lib.spec.versions
	floating(ver.id)
	v := {
		"rule": "GOV-ART-003",
		"path": sprintf("spec.versions[%v].id", [i]),
		"message": sprintf(
			"version id %s names a moving target; give each trained artifact an immutable id such as 1.4.0",
			[ver.id],
		),
	}
}
