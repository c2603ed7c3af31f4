# regopy 1.5.2 note: avoid `!=` (it crashes rego-cpp under `with input as`) and passing
# builtin-produced strings to sprintf (they come out quoted); see policies/README.md.
# Helpers shared by every rule package. No rule here decides anything on its own.
package govops.lib

import rego.v1

# The run-level documents. The published input carries them (what `govops policy input`
# prints and `opa eval -I -d policies/ data.govops.main` replays); the embedded engine may
# send a compact input without them and load them once per interpreter as
# data.govops_run (see policies/README.md, "Compact inputs"). Both forms decide the same.
config := input.config if {
	input.config
} else := data.govops_run.config

freezes := input.freezes if {
	input.freezes
} else := data.govops_run.freezes

waivers := input.waivers if {
	input.waivers
} else := data.govops_run.waivers

# The spec at the base (null for a new model); a compact input of a re-check marks it
# as the spec itself instead of sending a second copy.
previous := input.spec if {
	input.previous_is_spec == true
} else := input.previous

previous_checks := input.checks if {
	input.previous_is_spec == true
} else := input.previous_checks

# The model body (`spec:` of the spec file).
spec := input.spec.spec

# The model's deployment ({} when it declares none) and its challengers.
deployment := object.get(spec, "deployment", {})

challengers := object.get(deployment, "challengers", [])

# The governance settings of the model's tier ({} for an unknown tier: lint reports that).
tier := object.get(config.tiers, spec.tier, {})

# True when this input is a change (a PR), false on a re-check of main (`--all`).
changed if not input.plan.change == "unchanged"

# True when the change deletes the model's spec: the input's spec is the one at the base.
removed if input.plan.change == "removed"

# People other than the author who approved the change.
approvers contains a.approver if {
	some a in input.context.approvals
	not a.approver == input.context.author
}

# A person is in a group when govops.yaml lists them there; for a group govops.yaml
# does not define, the group the CI platform reported with the approval counts.
in_group(person, group) if member(person, group)

in_group(person, group) if {
	not config.groups[group]
	some a in input.context.approvals
	a.approver == person
	a.group == group
}

# The change carries an approval from the risk group by someone other than the author.
risk_approved if {
	some p in approvers
	in_group(p, config.riskGroup)
}

# `min_*` thresholds are stricter when higher, every other one when lower.
weaker(name, value, reference) if {
	startswith(name, "min_")
	value < reference
}

weaker(name, value, reference) if {
	not startswith(name, "min_")
	value > reference
}

# Membership as govops.yaml lists it (what waivers are judged by).
member(person, group) if person in object.get(config.groups, group, [])
