# Change freezes from govops.yaml: nothing changes inside a window.
package govops.freeze

import data.govops.lib
import rego.v1

deny contains v if {
	lib.changed
	some f in lib.freezes
	f.start_ns <= input.now_ns
	input.now_ns < f.end_ns
	applies(f)
	v := {
		"rule": "GOV-FRZ-001",
		"path": "metadata",
		"message": sprintf(
			"change freeze %s is in force (%s to %s); merge after it ends, or ask the risk group to amend govops.yaml",
			[f.name, f.start, f.end],
		),
	}
}

applies(f) if count(f.tenants) == 0

applies(f) if input.spec.metadata.tenant in f.tenants
