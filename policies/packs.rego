# A high-tier model reaches production only with every control of its regulation packs covered.
#
# The tier names the packs (govops.yaml: tiers.<tier>.requirePacks). The engine judges each
# control against the packs at the base (policies/packs/*.yaml read at the base tip, like
# this file) and sends the result as input.packs; a change cannot weaken the pack it is
# judged by. A required pack with no coverage in the input is denied, never skipped.
package govops.packs

import data.govops.lib
import rego.v1

required contains name if {
	some name in object.get(lib.tier, "requirePacks", [])
}

# A change that also lowers the model's tier is still judged by the packs of its tier at the base.
required contains name if {
	base_tier := object.get(lib.config.tiers, lib.previous.spec.tier, {})
	some name in object.get(base_tier, "requirePacks", [])
}

# Every pack the engine sent coverage for is required as well: it also sends the packs of the
# tiers of models the same change removes when this model is new (a rename into a lower tier).
required contains name if {
	some name, _ in input.packs
}

serves if lib.deployment.champion

environment := object.get(lib.deployment, "environment", "production")

production if environment == "production"

packs := input.packs if {
	input.packs
} else := {}

deny contains v if {
	lib.changed
	serves
	production
	some name in required
	not packs[name].found == true
	v := {
		"rule": "GOV-PACK-001",
		"path": "spec.tier",
		"message": sprintf(
			"tier %s requires regulation pack %s, which the judging library does not hold (policies/packs/%s.yaml at the base); the production rollout waits until it does",
			[lib.spec.tier, name, name],
		),
	}
}

deny contains v if {
	lib.changed
	serves
	production
	some name in required
	some id, c in packs[name].controls
	not c.status == "covered"
	v := {
		"rule": "GOV-PACK-002",
		"path": c.path,
		"message": sprintf(
			"%s control %s (%s) is %s for this production rollout: missing %s; add the evidence (see govops report --pack %s)",
			[name, id, c.ref, c.status, c.missing_text, name],
		),
	}
}

warn contains v if {
	lib.changed
	serves
	not production
	some name in required
	some id, c in packs[name].controls
	not c.status == "covered"
	v := {
		"rule": "GOV-PACK-003",
		"path": c.path,
		"message": sprintf(
			"%s control %s (%s) is %s: missing %s; a production rollout of this model would be denied",
			[name, id, c.ref, c.status, c.missing_text],
		),
	}
}
