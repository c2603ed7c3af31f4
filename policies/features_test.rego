package govops.features_test

import data.govops.fixtures_test as f
import rego.v1

sex_as_feature := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/interface/inputs/1/modelInput", "value": true}])

test_sen_001_sensitive_model_input_denied if "GOV-SEN-001" in f.denied with input as sex_as_feature

sex_as_feature_allowed_tier := json.patch(sex_as_feature, [{"op": "replace", "path": "/config/tiers/high/forbidSensitiveFeatures", "value": false}])

test_sen_001_tier_allowing_sensitive_features_allowed if not "GOV-SEN-001" in f.denied with input as sex_as_feature_allowed_tier

email_input := json.patch(f.base, [{"op": "add", "path": "/spec/spec/interface/inputs/-", "value": {"name": "Email", "type": "string", "sensitive": false, "modelInput": true}}])

test_pii_001_personal_data_column_denied if "GOV-PII-001" in f.denied with input as email_input

email_domain := json.patch(f.base, [{"op": "add", "path": "/spec/spec/interface/inputs/-", "value": {"name": "email_domain", "type": "string", "sensitive": false, "modelInput": true}}])

test_pii_001_derived_column_allowed if not "GOV-PII-001" in f.denied with input as email_domain

no_sensitive := json.patch(f.base, [{"op": "replace", "path": "/spec/spec/interface/inputs/1/sensitive", "value": false}])

test_bias_001_no_sensitive_attribute_denied if "GOV-BIAS-001" in f.denied with input as no_sensitive

test_bias_001_sensitive_attribute_declared_allowed if not "GOV-BIAS-001" in f.denied with input as f.base
