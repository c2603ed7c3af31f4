# Medium and high tiers know where each version came from.
package govops.lineage

import data.govops.lib
import rego.v1

deny contains v if {
	lib.tier.requireLineage == true
	some i, ver in lib.spec.versions
	not ver.lineage.trainingData.sha256
	v := {
		"rule": "GOV-LIN-001",
		"path": lineage_path(ver, i),
		"message": sprintf(
			"version %s has no training data digest; add lineage.trainingData with uri and sha256 (tier %s requires lineage)",
			[ver.id, lib.spec.tier],
		),
	}
}

deny contains v if {
	lib.tier.requireLineage == true
	some i, ver in lib.spec.versions
	not ver.lineage.code.commit
	v := {
		"rule": "GOV-LIN-002",
		"path": lineage_path(ver, i),
		"message": sprintf(
			"version %s has no code commit; add lineage.code with repo and commit (tier %s requires lineage)",
			[ver.id, lib.spec.tier],
		),
	}
}

lineage_path(ver, i) := sprintf("spec.versions[%v].lineage", [i]) if ver.lineage
else := sprintf("spec.versions[%v]", [i])
