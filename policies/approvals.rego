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

# A change that moves a model to another tier answers to the tier it leaves as well: lowering
# `spec.tier` in the same pull request must not shed the approvals the model's current tier
# demands (the new tier's own rules judge the new spec; these two rules keep the door).
leaving := object.get(lib.config.tiers, lib.previous.spec.tier, {}) if {
	lib.previous.spec.tier
	not lib.previous.spec.tier == lib.spec.tier
}

leaving_needed := object.get(object.get(leaving, "approvals", {}), "count", 1)

deny contains v if {
	lib.changed
	leaving
	count(lib.approvers) < leaving_needed
	v := {
		"rule": "GOV-APP-003",
		"path": "spec.tier",
		"message": sprintf(
			"this change moves the model from tier %s to tier %s; leaving tier %s needs %v approval(s) from distinct people other than the author; this change has %v: %v",
			[lib.previous.spec.tier, lib.spec.tier, lib.previous.spec.tier, leaving_needed, count(lib.approvers), sort([p | some p in lib.approvers])],
		),
	}
}

deny contains v if {
	lib.changed
	some g in object.get(object.get(leaving, "approvals", {}), "groups", [])
	not approved_by_group(g)
	v := {
		"rule": "GOV-APP-004",
		"path": "spec.tier",
		"message": sprintf(
			"this change moves the model from tier %s to tier %s; leaving tier %s needs an approval from the %s group %v, other than the author",
			[lib.previous.spec.tier, lib.spec.tier, lib.previous.spec.tier, g, object.get(lib.config.groups, g, [])],
		),
	}
}
