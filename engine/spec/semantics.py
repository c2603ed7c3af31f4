"""Cross-field rules of a spec that a schema cannot express, each pointing at its field.

These are structural facts (a champion must be a declared version, a check name must
exist), not governance choices: governance lives in the Rego policies. Everything here
is checked by ``govops lint`` and therefore before any policy sees the spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.spec.catalog_of_checks import CHECK_THRESHOLDS, MONITORING_METRICS
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import KpiError
from engine.spec.kpi_syntax import parse as parse_kpi
from engine.spec.limits import max_data_bytes
from engine.spec.loader import JsonPath, YamlDocument, format_path
from engine.spec.model import ModelSpec
from engine.spec.schema_errors import suggest
from engine.spec.uris import local_file_problem, uri_problem

Finding = tuple[JsonPath, str, str]  # (path into the spec, rule id, message)


def spec_findings(spec: ModelSpec, config: Governance | None, root: Path) -> Iterator[Finding]:
    """Every structural problem in ``spec`` as (path, rule, message), one generator per part of the spec."""
    cap = max_data_bytes(config)
    if config is not None:
        yield from _config_names(spec, config)
        yield from _channel_secrets(spec, config)
    yield from _versions(spec, root, cap)
    yield from _features(spec)
    yield from _deployment(spec, config)
    yield from _validation_data(spec, root, cap)
    yield from _validation_checks(spec)
    yield from _monitoring(spec)


def _config_names(spec: ModelSpec, config: Governance) -> Iterator[Finding]:
    """The tier and the tenant are ones govops.yaml defines."""
    body = spec.spec
    if body.tier not in config.tiers:
        yield (
            ("spec", "tier"),
            "spec/unknown-tier",
            f"tier '{body.tier}' is not defined in govops.yaml{suggest(body.tier, set(config.tiers))}; "
            f"defined tiers: {', '.join(config.tiers)}",
        )
    if config.tenants and spec.metadata.tenant not in config.tenants:
        yield (
            ("metadata", "tenant"),
            "spec/unknown-tenant",
            f"tenant '{spec.metadata.tenant}' is not declared in govops.yaml"
            f"{suggest(spec.metadata.tenant, set(config.tenants))}",
        )


def _versions(spec: ModelSpec, root: Path, cap: int) -> Iterator[Finding]:
    """Each version is declared once; its artifact (and training data) URIs are well formed and readable."""
    ids: dict[str, int] = {}
    for i, version in enumerate(spec.spec.versions):
        if version.id in ids:
            yield (
                ("spec", "versions", i, "id"),
                "spec/duplicate-version",
                f"version '{version.id}' is declared twice (also versions[{ids[version.id]}])",
            )
        ids.setdefault(version.id, i)
        yield from _uri(version.artifact.uri, ("spec", "versions", i, "artifact", "uri"), root, cap)
        if version.lineage and version.lineage.training_data:
            yield from _uri(
                version.lineage.training_data.uri,
                ("spec", "versions", i, "lineage", "trainingData", "uri"),
                root,
                cap,
                read=False,
            )


def _deployment(spec: ModelSpec, config: Governance | None) -> Iterator[Finding]:
    """The deployment names declared versions (a challenger once, never the champion) and a known environment."""
    dep = spec.spec.deployment
    if dep is None:
        return
    ids = dict.fromkeys(v.id for v in spec.spec.versions)  # declaration order, first of each
    declared = ", ".join(ids)
    if dep.champion not in ids:
        yield (
            ("spec", "deployment", "champion"),
            "spec/undeclared-version",
            f"champion '{dep.champion}' is not a declared version (declared: {declared})",
        )
    seen: set[str] = set()
    for j, ch in enumerate(dep.challengers):
        where: JsonPath = ("spec", "deployment", "challengers", j, "version")
        if ch.version not in ids:
            yield where, "spec/undeclared-version", f"challenger '{ch.version}' is not a declared version"
        if ch.version == dep.champion:
            yield (
                where,
                "spec/challenger-is-champion",
                f"'{ch.version}' is the champion; it cannot challenge itself",
            )
        if ch.version in seen:
            yield where, "spec/duplicate-challenger", f"'{ch.version}' is listed twice as a challenger"
        seen.add(ch.version)
    if dep.failover is not None and dep.failover not in ids:
        yield (
            ("spec", "deployment", "failover"),
            "spec/undeclared-version",
            f"failover '{dep.failover}' is not a declared version (declared: {declared})",
        )
    if config is not None and config.environments and dep.environment not in config.environments:
        yield (
            ("spec", "deployment", "environment"),
            "spec/unknown-environment",
            f"environment '{dep.environment}' is not defined in govops.yaml"
            f"{suggest(dep.environment, set(config.environments))}",
        )


def _validation_data(spec: ModelSpec, root: Path, cap: int) -> Iterator[Finding]:
    """The validation data is readable, and its label, slice and time columns fit the interface."""
    body = spec.spec
    val = body.validation
    if val is None:
        return
    inputs = {f.name for f in body.interface.inputs}
    yield from _uri(val.reference_data.uri, ("spec", "validation", "referenceData", "uri"), root, cap)
    yield from _uri(val.evaluation_data.uri, ("spec", "validation", "evaluationData", "uri"), root, cap)
    if val.label in inputs:
        yield (
            ("spec", "validation", "label"),
            "spec/label-is-input",
            f"label '{val.label}' is also a model input; that is leakage by construction",
        )
    for k, col in enumerate(val.slice_columns):
        if col not in inputs:
            yield (
                ("spec", "validation", "sliceColumns", k),
                "spec/unknown-column",
                f"slice column '{col}' is not an input of the interface{suggest(col, inputs)}",
            )
    if val.time_column is not None and val.time_column not in inputs:
        yield (
            ("spec", "validation", "timeColumn"),
            "spec/unknown-column",
            f"time column '{val.time_column}' is not an input of the interface{suggest(val.time_column, inputs)}",
        )


def _validation_checks(spec: ModelSpec) -> Iterator[Finding]:
    """Every check and threshold named is one govops knows (``engine.spec.catalog_of_checks``)."""
    val = spec.spec.validation
    if val is None:
        return
    for name, check in val.checks.items():
        check_path: JsonPath = ("spec", "validation", "checks", name)
        if name not in CHECK_THRESHOLDS:
            yield check_path, "spec/unknown-check", f"unknown check '{name}'{suggest(name, set(CHECK_THRESHOLDS))}"
            continue
        for threshold in check.thresholds:
            if threshold not in CHECK_THRESHOLDS[name]:
                yield (
                    check_path + ("thresholds", threshold),
                    "spec/unknown-threshold",
                    f"check '{name}' has no threshold '{threshold}'"
                    f"{suggest(threshold, set(CHECK_THRESHOLDS[name]))}; "
                    f"known: {', '.join(CHECK_THRESHOLDS[name])}",
                )


def _monitoring(spec: ModelSpec) -> Iterator[Finding]:
    """Alert metrics are known ones and every KPI expression parses (monitoring would refuse it otherwise)."""
    mon = spec.spec.monitoring
    if mon is None:
        return
    for kind, known in MONITORING_METRICS.items():
        for metric in getattr(mon.thresholds, kind):
            if metric not in known:
                yield (
                    ("spec", "monitoring", "thresholds", kind, metric),
                    "spec/unknown-metric",
                    f"{kind} has no alert metric '{metric}'{suggest(metric, set(known))}; "
                    f"known: {', '.join(known)}",
                )
    for k, kpi in enumerate(mon.thresholds.kpis):
        try:
            parse_kpi(kpi.expression)
        except KpiError as exc:
            yield (
                ("spec", "monitoring", "thresholds", "kpis", k, "expression"),
                "spec/bad-kpi",
                f"KPI '{kpi.name}': {exc} (monitoring would refuse it)",
            )


def _uri(uri: str, path: JsonPath, root: Path, cap: int, *, read: bool = True) -> Iterator[Finding]:
    """A URI's form, then (when the file is local and there) that it is a regular file under the cap.

    ``read=False`` for files govops never reads (training data): only the kind is checked.
    """
    problem = uri_problem(uri, root)
    if problem:
        yield path, "spec/bad-uri", problem
        return
    problem = local_file_problem(uri, root, cap, check_size=read)
    if problem:
        yield path, "spec/unreadable-data", problem


def _features(spec: ModelSpec) -> Iterator[Finding]:
    for side in ("inputs", "outputs"):
        names: set[str] = set()
        for i, feature in enumerate(getattr(spec.spec.interface, side)):
            if feature.name in names:
                yield (
                    ("spec", "interface", side, i, "name"),
                    "spec/duplicate-feature",
                    f"{side[:-1]} '{feature.name}' is declared twice",
                )
            names.add(feature.name)


def _channel_secrets(spec: ModelSpec, config: Governance) -> Iterator[Finding]:
    """A channel may only name secrets its tenant is given in govops.yaml (never govops', CI or cloud ones)."""
    from engine.spec.secret_names import reserved_secret

    monitoring = spec.spec.monitoring
    if monitoring is None:
        return
    tenant = spec.metadata.tenant
    entry = config.tenants.get(tenant)
    allowed = set(entry.secrets) if entry is not None else set()
    for i, channel in enumerate(monitoring.channels):
        for attr, field in (("webhook_secret", "webhookSecret"), ("routing_key_secret", "routingKeySecret")):
            name = getattr(channel, attr, None)
            if not isinstance(name, str):
                continue
            if reserved_secret(name):
                why = "is reserved (govops, CI or cloud settings) and is never a channel secret"
            elif name not in allowed:
                why = (f"is not allowed for tenant '{tenant}' (govops.yaml tenants.{tenant}.secrets: "
                       f"{', '.join(sorted(allowed)) or 'none'})")
            else:
                continue
            yield (("spec", "monitoring", "channels", i, field), "spec/channel-secret", f"secret '{name}' {why}")


def config_findings(config: Governance) -> Iterator[Finding]:
    """Structural problems in govops.yaml."""
    for tier_name, tier in config.tiers.items():
        for k, check in enumerate(tier.required_checks):
            if check not in CHECK_THRESHOLDS:
                yield (
                    ("tiers", tier_name, "requiredChecks", k),
                    "config/unknown-check",
                    f"unknown check '{check}'{suggest(check, set(CHECK_THRESHOLDS))}",
                )
        for check, thresholds in tier.defaults.items():
            if check not in CHECK_THRESHOLDS:
                yield (
                    ("tiers", tier_name, "defaults", check),
                    "config/unknown-check",
                    f"unknown check '{check}'{suggest(check, set(CHECK_THRESHOLDS))}",
                )
                continue
            for threshold in thresholds:
                if threshold not in CHECK_THRESHOLDS[check]:
                    yield (
                        ("tiers", tier_name, "defaults", check, threshold),
                        "config/unknown-threshold",
                        f"check '{check}' has no threshold '{threshold}'"
                        f"{suggest(threshold, set(CHECK_THRESHOLDS[check]))}",
                    )
        for k, group in enumerate(tier.approvals.groups):
            if group not in config.groups:
                yield (
                    ("tiers", tier_name, "approvals", "groups", k),
                    "config/unknown-group",
                    f"approver group '{group}' is not defined under groups{suggest(group, set(config.groups))}",
                )
    if config.risk_group not in config.groups:
        yield ("riskGroup",), "config/unknown-group", f"risk group '{config.risk_group}' is not defined under groups"


def to_diagnostics(findings: Iterator[Finding], doc: YamlDocument, model_id: str | None) -> list[Diagnostic]:
    """Place findings at their file:line:col."""
    out = []
    for path, rule, message in findings:
        line, col = doc.position(path)
        out.append(
            Diagnostic(
                file=doc.file, line=line, col=col, rule=rule, message=message, model=model_id, path=format_path(path)
            )
        )
    return out
