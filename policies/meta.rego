# The rules themselves (policies/, govops.yaml) change only with the risk group's approval.
package govops.meta

import data.govops.lib
import rego.v1

governed_files contains f if {
	some f in input.context.changed_files
	f == "govops.yaml"
}

governed_files contains f if {
	some f in input.context.changed_files
	startswith(f, "policies/")
}

deny contains v if {
	count(governed_files) > 0
	not lib.risk_approved
	first := sort([f | some f in governed_files])[0]
	v := {
		"rule": "GOV-META-001",
		"path": "",
		"file": first,
		"message": sprintf(
			"this change edits governance files %v; it needs an approval from the %s group",
			[sort([f | some f in governed_files]), lib.config.riskGroup],
		),
	}
}
