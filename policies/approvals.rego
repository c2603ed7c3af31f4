# A change gets the approvals its tier demands, from people other than its author.
package govops.approvals

import data.govops.lib
import rego.v1

needed := object.get(object.get(lib.tier, "approvals", {}), "count", 1)

groups := object.get(object.get(lib.tier, "approvals", {}), "groups", [])

deny contains v if {
	lib.changed
	count(lib.approvers) < needed
	v := {
		"rule": "GOV-APP-001",
		"path": "spec.tier",
		"message": sprintf(
			"tier %s needs %v approval(s) from distinct people other than the author; this change has %v: %v",
			[lib.spec.tier, needed, count(lib.approvers), sort([p | some p in lib.approvers])],
		),
	}
}

deny contains v if {
	lib.changed
	some g in groups
	not approved_by_group(g)
	v := {
		"rule": "GOV-APP-002",
		"path": "spec.tier",
		"message": sprintf(
			"tier %s needs an approval from the %s group %v, other than the author; ask one of them to approve",
			[lib.spec.tier, g, object.get(lib.config.groups, g, [])],
		),
	}
}

approved_by_group(g) if {
	some p in lib.approvers
	lib.in_group(p, g)
}
