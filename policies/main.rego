# The one entrypoint: data.govops.main -> {"deny": [...], "warn": [...]} for one model's input.
#
# Waivers (policies/waivers.yaml, read through lib.waivers) turn a matching deny into a
# warn until they expire; expiry is compared with input.now_ns, so the same decision
# comes out at PR time, at merge and on a later re-check of main.
package govops

import data.govops.lib
import rego.v1

# Every area's deny and warn items, each package referenced by name. A dynamic reference
# (`data.govops[area]`) would also reach this package, and with it `main` itself: OPA
# refuses that as a recursion (rego_recursion_error), whatever rego-cpp does. A new area
# gets a line in both objects (policies/README.md, "Adding an area").
area_deny := {
	"approvals": {d | some d in data.govops.approvals.deny},
	"artifacts": {d | some d in data.govops.artifacts.deny},
	"checks": {d | some d in data.govops.checks.deny},
	"features": {d | some d in data.govops.features.deny},
	"freeze": {d | some d in data.govops.freeze.deny},
	"lineage": {d | some d in data.govops.lineage.deny},
	"meta": {d | some d in data.govops.meta.deny},
	"monitoring": {d | some d in data.govops.monitoring.deny},
	"packs": {d | some d in data.govops.packs.deny},
	"removal": {d | some d in data.govops.removal.deny},
	"rollout": {d | some d in data.govops.rollout.deny},
	"tenancy": {d | some d in data.govops.tenancy.deny},
}

area_warn := {
	"approvals": {w | some w in data.govops.approvals.warn},
	"artifacts": {w | some w in data.govops.artifacts.warn},
	"checks": {w | some w in data.govops.checks.warn},
	"features": {w | some w in data.govops.features.warn},
	"freeze": {w | some w in data.govops.freeze.warn},
	"lineage": {w | some w in data.govops.lineage.warn},
	"meta": {w | some w in data.govops.meta.warn},
	"monitoring": {w | some w in data.govops.monitoring.warn},
	"packs": {w | some w in data.govops.packs.warn},
	"removal": {w | some w in data.govops.removal.warn},
	"rollout": {w | some w in data.govops.rollout.warn},
	"tenancy": {w | some w in data.govops.tenancy.warn},
}

areas := ["artifacts", "checks", "rollout", "approvals", "tenancy", "meta", "monitoring", "features", "lineage", "freeze", "packs"]

# A removed model has no spec left to judge: only who may remove it, and when, decide.
# (Its last spec is the input's spec, so its tier and tenant pick the approvals.)
removal_areas := ["removal", "approvals", "tenancy", "meta", "freeze"]

active_areas := removal_areas if lib.removed
else := areas

raw_deny contains d if {
	some area in active_areas
	some d in area_deny[area]
}

raw_warn contains w if {
	some area in active_areas
	some w in area_warn[area]
}

raw_warn contains w if {
	some waiver in lib.waivers
	waiver.model in {input.model, "*"}
	not lib.member(waiver.approver, lib.config.riskGroup)
	w := {
		"rule": "GOV-WVR-001",
		"path": "",
		"message": sprintf(
			"waiver of %s for %s is ignored: its approver %s is not in the %s group",
			[waiver.rule, waiver.model, waiver.approver, lib.config.riskGroup],
		),
	}
}

# Waivers that cover deny item d now: same rule, this model (or "*"), not expired,
# approved by a member of the risk group as govops.yaml lists it.
matching_waivers(d) := [waiver |
	some waiver in lib.waivers
	waiver.rule == d.rule
	waiver.model in {input.model, "*"}
	input.now_ns < waiver.expires_ns
	lib.member(waiver.approver, lib.config.riskGroup)
]

waived contains d if {
	some d in raw_deny
	count(matching_waivers(d)) > 0
}

main := {
	"deny": [d | some d in raw_deny; not d in waived],
	"warn": array.concat(
		[w | some w in raw_warn],
		[object.union(d, {"message": waived_message(d)}) | some d in waived],
	),
}

waived_message(d) := sprintf(
	"waived until %s by %s (%s): %s",
	[w.expires, w.approver, w.reason, d.message],
) if {
	w := matching_waivers(d)[0]
}
