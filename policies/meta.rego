# The rules themselves (policies/, govops.yaml) and what enforces them (CI workflows under
# .github/, CODEOWNERS) change only with the risk group's approval. A PR's own edits never
# judge it (the base's rules do), but they take effect once merged.
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

governed_files contains f if {
	some f in input.context.changed_files
	startswith(f, ".github/")
}

governed_files contains f if {
	some f in input.context.changed_files
	f in {"CODEOWNERS", "docs/CODEOWNERS"}
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
