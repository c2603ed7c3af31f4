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

# A released version is immutable. Once a version id is on main (it is in the spec at the
# base of the change), its artifact digest, runtime and lineage stay what was reviewed and
# validated: pointing an existing id at other bytes would slip a new model past every rule
# that looks for new versions (progressive rollout, first canary weight, validation of new
# versions). Registries treat versions this way and container images treat digests this way.
released_versions := {ver.id: ver | some ver in lib.previous.spec.versions}

immutable_fields := {
	"artifact": "artifact (uri, sha256, format)",
	"runtime": "runtime",
	"lineage": "lineage",
}

released_value(ver, field) := object.get(ver, field, null)

deny contains v if {
	some i, ver in lib.spec.versions
	old := released_versions[ver.id]
	some field, label in immutable_fields
	not released_value(old, field) == released_value(ver, field)
	v := {
		"rule": "GOV-ART-004",
		"path": sprintf("spec.versions[%v].%s", [i, field]),
		"message": sprintf(
			"version %s is released on main and immutable: its %s changed; add a new version id for the new artifact (and roll it out as a challenger) instead of editing %s",
			[ver.id, label, ver.id],
		),
	}
}
