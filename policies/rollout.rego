# Traffic stays sane and new champions earn their place progressively.
package govops.rollout

import data.govops.lib
import rego.v1

deployment := lib.deployment

challengers := lib.challengers

weighted_total := sum([c.weight | some c in challengers; c.mode in {"canary", "ab"}])

deny contains v if {
	weighted_total > 100
	v := {
		"rule": "GOV-TRF-001",
		"path": "spec.deployment.challengers",
		"message": sprintf(
			"canary and A/B weights add up to %v%%; they may take at most 100%% of traffic, lower them",
			[weighted_total],
		),
	}
}

previous_canaries contains c.version if {
	some c in lib.previous.spec.deployment.challengers
	c.mode == "canary"
}

previous_trials contains c.version if {
	some c in lib.previous.spec.deployment.challengers
	c.mode in {"canary", "shadow"}
}

deny contains v if {
	some i, c in challengers
	c.mode == "canary"
	not c.version in previous_canaries
	cap := object.get(lib.tier, "maxFirstCanaryWeight", 100)
	c.weight > cap
	v := {
		"rule": "GOV-TRF-002",
		"path": sprintf("spec.deployment.challengers[%v].weight", [i]),
		"message": sprintf(
			"a first canary of version %s may take at most %v%% of traffic in tier %s (has %v%%); start lower and raise it in a later change",
			[c.version, cap, lib.spec.tier, c.weight],
		),
	}
}

version_ids := {ver.id | some ver in lib.spec.versions}

deny contains v if {
	deployment.failover
	not deployment.failover in version_ids
	v := {
		"rule": "GOV-TRF-003",
		"path": "spec.deployment.failover",
		"message": sprintf(
			"failover version %s is not declared in spec.versions; declare it or pick a declared version",
			[deployment.failover],
		),
	}
}

deny contains v if {
	deployment.failover == deployment.champion
	v := {
		"rule": "GOV-TRF-004",
		"path": "spec.deployment.failover",
		"message": sprintf(
			"failover version %s is the champion itself; fail over to a different, known-good version",
			[deployment.failover],
		),
	}
}

deny contains v if {
	lib.tier.requireProgressiveRollout == true
	"champion_change" in input.plan.kinds
	not deployment.champion in previous_trials
	v := {
		"rule": "GOV-ROLL-001",
		"path": "spec.deployment.champion",
		"message": sprintf(
			"version %s becomes champion without a shadow or canary phase, which tier %s requires; first add it as a shadow or canary challenger",
			[deployment.champion, lib.spec.tier],
		),
	}
}
