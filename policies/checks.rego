# The tier's required validation checks run, with thresholds no weaker than the tier's.
package govops.checks

import data.govops.lib
import rego.v1

required := object.get(lib.tier, "requiredChecks", [])

defaults := object.get(lib.tier, "defaults", {})

deny contains v if {
	some c in required
	lib.spec.validation.checks[c].enabled == false
	v := {
		"rule": "GOV-CHK-001",
		"path": sprintf("spec.validation.checks.%s.enabled", [c]),
		"message": sprintf(
			"check %s is required for tier %s and cannot be disabled; remove `enabled: false`",
			[c, lib.spec.tier],
		),
	}
}

deny contains v if {
	count(required) > 0
	not lib.spec.validation
	v := {
		"rule": "GOV-CHK-002",
		"path": "spec",
		"message": sprintf(
			"tier %s requires the checks %v but the spec has no validation section; add spec.validation with referenceData, evaluationData and label",
			[lib.spec.tier, required],
		),
	}
}

deny contains v if {
	lib.spec.validation
	some c in required
	count(object.get(input.checks, c, {})) == 0
	v := {
		"rule": "GOV-CHK-003",
		"path": "spec.validation.checks",
		"message": sprintf(
			"required check %s has no thresholds (none in the tier's defaults, none in the spec); add spec.validation.checks.%s.thresholds",
			[c, c],
		),
	}
}

# [check, threshold] pairs whose effective value is weaker than the tier's default.
weaker_than_default contains [c, t] if {
	some c, thresholds in input.checks
	some t, value in thresholds
	reference := defaults[c][t]
	is_number(value)
	is_number(reference)
	lib.weaker(t, value, reference)
}

# The change set this value (a new model, or a different value than at the base).
introduced(c, t) if not object.get(object.get(lib.previous_checks, c, {}), t, null) == input.checks[c][t]

deny contains v if {
	some [c, t] in weaker_than_default
	introduced(c, t)
	not lib.risk_approved
	v := {
		"rule": "GOV-THR-001",
		"path": sprintf("spec.validation.checks.%s.thresholds.%s", [c, t]),
		"message": sprintf(
			"%s.%s = %v is weaker than tier %s's default %v; tighten it, or get an approval from the %s group",
			[c, t, input.checks[c][t], lib.spec.tier, defaults[c][t], lib.config.riskGroup],
		),
	}
}

warn contains v if {
	some [c, t] in weaker_than_default
	not introduced(c, t)
	v := {
		"rule": "GOV-THR-002",
		"path": sprintf("spec.validation.checks.%s.thresholds.%s", [c, t]),
		"message": sprintf(
			"%s.%s = %v is weaker than tier %s's default %v (approved earlier); record the exception as a waiver in policies/waivers.yaml",
			[c, t, input.checks[c][t], lib.spec.tier, defaults[c][t]],
		),
	}
}

deny contains v if {
	some change in input.plan.thresholds
	change.change == "loosened"
	not [change.check, change.threshold] in weaker_than_default
	not lib.risk_approved
	v := {
		"rule": "GOV-THR-003",
		"path": loosened_path(change),
		"message": sprintf(
			"this change loosens %s.%s (%v -> %v); a change may tighten thresholds, never loosen them, unless the %s group approves",
			[change.check, change.threshold, change.from, change.to, lib.config.riskGroup],
		),
	}
}

deny contains v if {
	some change in input.plan.thresholds
	change.change == "check_removed"
	not lib.risk_approved
	v := {
		"rule": "GOV-THR-003",
		"path": "spec.validation.checks",
		"message": sprintf(
			"this change removes the %s check; a change may add checks, never drop them, unless the %s group approves",
			[change.check, lib.config.riskGroup],
		),
	}
}

loosened_path(change) := sprintf("spec.validation.checks.%s.thresholds.%s", [change.check, change.threshold]) if {
	input.spec.spec.validation.checks[change.check].thresholds[change.threshold]
} else := "spec.validation.checks"
