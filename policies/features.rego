# What the model may see: no personal data, no sensitive attributes where the tier forbids them.
package govops.features

import data.govops.lib
import rego.v1

personal := {lower(c) | some c in lib.config.personalData}

deny contains v if {
	lib.tier.forbidSensitiveFeatures == true
	some i, f in lib.spec.interface.inputs
	f.sensitive == true
	f.modelInput == true
	v := {
		"rule": "GOV-SEN-001",
		"path": sprintf("spec.interface.inputs[%v]", [i]),
		"message": sprintf(
			"%s is a sensitive attribute and tier %s forbids feeding it to the model; set modelInput: false (it stays available to the bias check)",
			[f.name, lib.spec.tier],
		),
	}
}

deny contains v if {
	some side in ["inputs", "outputs"]
	some i, f in lib.spec.interface[side]
	lower(f.name) in personal
	v := {
		"rule": "GOV-PII-001",
		"path": sprintf("spec.interface.%s[%v].name", [side, i]),
		"message": sprintf(
			"column %s is personal data (govops.yaml personalData) and may not appear in a model's interface; drop it or use a non-identifying derivative",
			[f.name],
		),
	}
}

deny contains v if {
	"bias" in object.get(lib.tier, "requiredChecks", [])
	count([f | some f in lib.spec.interface.inputs; f.sensitive == true]) == 0
	v := {
		"rule": "GOV-BIAS-001",
		"path": "spec.interface.inputs",
		"message": sprintf(
			"tier %s requires a bias check, which runs over the declared sensitive attributes, and none is declared; mark the protected columns with sensitive: true (modelInput: false keeps them out of the model)",
			[lib.spec.tier],
		),
	}
}
