package govops.monitoring_test

import data.govops.fixtures_test as f
import rego.v1

no_thresholds := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/monitoring/thresholds", "value": {"drift": {}, "performance": {}, "bias": {}, "anomaly": {}, "operational": {}, "kpis": []}}])

test_alr_001_no_alert_thresholds_denied if "GOV-ALR-001" in f.denied with input as no_thresholds

no_monitoring := json.patch(f.base, [{"op": "remove", "path": "/spec/spec/monitoring"}])

test_alr_001_no_monitoring_denied if "GOV-ALR-001" in f.denied with input as no_monitoring

test_alr_001_thresholds_present_allowed if not "GOV-ALR-001" in f.denied with input as f.base

no_channels := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/monitoring/channels", "value": []}])

test_alr_002_no_channel_denied if "GOV-ALR-002" in f.denied with input as no_channels

no_channels_low := json.patch(no_channels, [{"op": "replace", "path": "/config/tiers/high/requireAlerting", "value": false}])

test_alr_002_tier_without_alerting_allowed if not "GOV-ALR-002" in f.denied with input as no_channels_low

no_shutdown := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/monitoring/autoShutdown/enabled", "value": false}])

test_alr_003_auto_shutdown_off_denied if "GOV-ALR-003" in f.denied with input as no_shutdown

test_alr_003_auto_shutdown_on_allowed if not "GOV-ALR-003" in f.denied with input as f.base
