# A tenant's specs live under its own paths and change only by its people (four-eyes).
package govops.tenancy

import data.govops.lib
import rego.v1

tenant_name := input.spec.metadata.tenant

tenant := lib.config.tenants[tenant_name]

people := {p | some p in array.concat(object.get(tenant, "owners", []), object.get(tenant, "approvers", []))}

# Where a spec lives and whether its tenant exists are judged on specs that remain: a
# model removed with its tenant, or from a path its tenant no longer owns, is not held up.
deny contains v if {
	not lib.removed
	not lib.config.tenants[tenant_name]
	v := {
		"rule": "GOV-TEN-001",
		"path": "metadata.tenant",
		"message": sprintf("tenant %s is not declared in govops.yaml; ask the risk group to add it under tenants", [tenant_name]),
	}
}

deny contains v if {
	not lib.removed
	not under_own_path
	v := {
		"rule": "GOV-TEN-002",
		"path": "metadata.tenant",
		"message": sprintf(
			"%s belongs to tenant %s but is not under its paths %v; move the file there",
			[input.file, tenant_name, tenant.paths],
		),
	}
}

under_own_path if {
	some p in tenant.paths
	startswith(input.file, p)
}

deny contains v if {
	lib.changed
	tenant
	not author_name in people # not `input.context.author`: undefined there (no context) must deny on OPA too
	v := {
		"rule": "GOV-TEN-003",
		"path": "metadata.tenant",
		"message": sprintf(
			"%s may not change tenant %s's specs; only its owners or approvers %v may, per govops.yaml",
			[author_name, tenant_name, sort([p | some p in people])],
		),
	}
}

author_name := input.context.author if is_string(input.context.author)
else := "an unknown author (pass --author)"

deny contains v if {
	lib.changed
	tenant
	not tenant_approved
	v := {
		"rule": "GOV-TEN-004",
		"path": "metadata.tenant",
		"message": sprintf(
			"four-eyes: a change to tenant %s's specs needs an approval from one of %v other than the author",
			[tenant_name, sort([p | some p in people])],
		),
	}
}

tenant_approved if {
	some p in lib.approvers
	p in people
}
