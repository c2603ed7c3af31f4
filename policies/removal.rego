# Removing a model's spec takes the model out of service at merge. The tier's approvals,
# the tenant's four-eyes rule and freezes decide whether it may go (main.rego applies only
# those to a removal, and lib.changed holds for it as for any edit); this package only
# says what the removal does, so reviewers see it.
package govops.removal

import data.govops.lib
import rego.v1

# The versions that serve traffic now: the champion, then the challengers.
serving := [v |
	some v in array.concat([object.get(lib.deployment, "champion", null)], [c.version | some c in lib.challengers])
	is_string(v)
]

warn contains v if {
	lib.removed
	v := {
		"rule": "GOV-RMV-001",
		"path": "spec.deployment",
		"message": sprintf(
			"removing %s (tier %s) takes it out of service at merge: versions %v stop serving and callers get 404; check no client still calls it",
			[input.model, lib.spec.tier, serving],
		),
	}
}
