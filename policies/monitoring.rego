# Medium and high tiers are watched in production; high tier shuts itself down when sick.
package govops.monitoring

import data.govops.lib
import rego.v1

monitoring := object.get(lib.spec, "monitoring", {})

thresholds := object.get(monitoring, "thresholds", {})

threshold_count := sum([count(object.get(thresholds, kind, {})) | some kind in ["drift", "performance", "bias", "anomaly", "operational", "kpis"]])

deny contains v if {
	lib.tier.requireAlerting == true
	threshold_count == 0
	v := {
		"rule": "GOV-ALR-001",
		"path": alert_path,
		"message": sprintf(
			"tier %s requires alert thresholds; add spec.monitoring.thresholds (e.g. drift.max_psi, operational.max_error_rate)",
			[lib.spec.tier],
		),
	}
}

alert_path := "spec.monitoring.thresholds" if lib.spec.monitoring
else := "spec"

deny contains v if {
	lib.tier.requireAlerting == true
	count(object.get(monitoring, "channels", [])) == 0
	v := {
		"rule": "GOV-ALR-002",
		"path": alert_path,
		"message": sprintf(
			"tier %s requires at least one alert channel; add spec.monitoring.channels (slack, pagerduty or email)",
			[lib.spec.tier],
		),
	}
}

deny contains v if {
	lib.tier.requireAutoShutdown == true
	not monitoring.autoShutdown.enabled == true
	v := {
		"rule": "GOV-ALR-003",
		"path": shutdown_path,
		"message": sprintf(
			"tier %s requires automatic shutdown; set spec.monitoring.autoShutdown.enabled: true",
			[lib.spec.tier],
		),
	}
}

shutdown_path := "spec.monitoring.autoShutdown.enabled" if lib.spec.monitoring
else := "spec"
