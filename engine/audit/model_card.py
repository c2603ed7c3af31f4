"""Model cards: the documentation a model-risk reviewer asks for, generated from the spec and the recorded evidence.

Audit stage (read side). Sections follow Mitchell et al., "Model Cards for Model Reporting"
(FAT* 2019, arXiv:1810.03993: model details, intended use, factors, metrics, evaluation data,
training data, quantitative analyses, ethical considerations, caveats and recommendations) and
the Hugging Face model-card layout (Model Details, Uses, Bias/Risks/Limitations, Training
Details, Evaluation, Technical Specifications), extended with what govops holds and a
regulator asks for: approvals, deployment history, monitoring thresholds and current health.

Every fact is a :func:`fact`: a value with the source it came from (the spec file at the
commit read, or a ledger record: the commit it is about, the note's commit, when it was
recorded), or ``missing`` with why. A missing fact is shown as missing, never left out. The
recorded facts come from :mod:`engine.audit.evidence_index`, the index the compliance report
and the pack reports read. Rendering is in :mod:`engine.audit.model_card_render`. Never writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.audit.evidence_index import EvidenceIndex
from engine.spec.errors import InputError

SECTIONS = (
    ("details", "Model details", "Mitchell §4.1 Model Details; HF: Model Details"),
    ("intended_use", "Intended use", "Mitchell §4.2 Intended Use; HF: Uses"),
    ("interface", "Inputs and outputs", "HF: Technical Specifications"),
    ("training_data", "Training data", "Mitchell §4.6 Training Data; HF: Training Details"),
    ("evaluation_data", "Evaluation data", "Mitchell §4.5 Evaluation Data; HF: Evaluation / Testing Data"),
    ("factors", "Factors", "Mitchell §4.3 Factors; HF: Evaluation / Factors"),
    ("metrics", "Metrics", "Mitchell §4.4 Metrics; HF: Evaluation / Metrics"),
    ("quantitative", "Quantitative analyses", "Mitchell §4.7 Quantitative Analyses; HF: Evaluation / Results"),
    ("fairness", "Fairness", "Mitchell §4.8 Ethical Considerations; HF: Bias, Risks, and Limitations"),
    ("explainability", "Explainability", "Annex IV 2(b)/2(e) EU AI Act; SR 11-7 V.1 conceptual soundness"),
    ("caveats", "Limitations and caveats", "Mitchell §4.9 Caveats and Recommendations; HF: Recommendations"),
    ("approvals", "Approvals", "SR 11-7 VI governance"),
    ("deployments", "Deployment history", "EU AI Act Annex IV point 6"),
    ("monitoring", "Monitoring", "EU AI Act Article 72; SR 11-7 V.2 ongoing monitoring"),
)
"""``(key, heading, where the section comes from)`` in the card's order."""


def fact(value: Any, source: dict[str, Any] | None, missing: str = "") -> dict[str, Any]:
    """A value and where it came from, or ``missing`` (with why) when the value is absent or empty."""
    if value is None or value == "" or value == [] or value == {}:
        return {"value": None, "missing": missing or "not recorded", "source": source}
    return {"value": value, "source": source}


def _spec_source(index: EvidenceIndex, file: str, path: str) -> dict[str, Any]:
    return {"kind": "spec", "file": file, "path": path, "commit": index.commit, "label": f"{file}: {path}"}


def _metrics_of(result: dict[str, Any] | None, scope: str | None = "overall") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in (result or {}).get("metrics") or []:
        if isinstance(m, dict) and (scope is None or m.get("scope") == scope):
            out[str(m.get("name"))] = m.get("value")
    return out


def build_card(index: EvidenceIndex, model: str, version: str | None = None,
               results_dir: Path | None = None) -> dict[str, Any]:
    """The card of ``model`` at ``version`` (default: the champion) as data (``--format json``)."""
    loaded = index.specs.get(model)
    if loaded is None:
        known = ", ".join(sorted(index.specs)) or "none"
        raise InputError(f"no model '{model}' at {index.ref} ({index.commit[:12]}); known: {known}")
    spec = loaded.spec
    dep = spec.spec.deployment
    version = version or (dep.champion if dep else spec.spec.versions[-1].id)
    v = spec.version(version)
    if v is None:
        known = ", ".join(x.id for x in spec.spec.versions)
        raise InputError(f"{model} has no version '{version}' (declared: {known})", file=loaded.file)
    idx = spec.spec.versions.index(v)
    src = lambda path: _spec_source(index, loaded.file, path)  # noqa: E731
    vpath = f"spec.versions[{idx}]"
    results = index.results(model, version)
    local = _local_results(results_dir, model, version, v.artifact.sha256) if results_dir else {}
    sections = {
        "details": _details(spec, v, vpath, src),
        "intended_use": _intended_use(spec, src),
        "interface": _interface(spec, src),
        "training_data": _training(v, vpath, src),
        "evaluation_data": _evaluation(spec, src),
        "factors": _factors(spec, src),
        "metrics": _metric_defs(index, spec, src),
        "quantitative": _quantitative(v, vpath, results, src),
        "fairness": _check_section(results, "bias", "no bias result recorded for this version"),
        "explainability": _explainability(results, local),
        "caveats": {"limitations": fact(spec.metadata.limitations, src("metadata.limitations"),
                                        "no limitations written in the spec (metadata.limitations)")},
        "approvals": _approvals(index, model, version),
        "deployments": _deployments(index, model),
        "monitoring": _monitoring(index, spec, model, src),
    }
    return {
        "title": f"Model card: {model} {version}",
        "model": model, "version": version, "tier": spec.spec.tier, "ref": index.ref, "commit": index.commit,
        "file": loaded.file, "sections": [{"key": k, "heading": h, "basis": b, "facts": sections[k]}
                                          for k, h, b in SECTIONS],
    }


def _details(spec: Any, v: Any, vpath: str, src: Any) -> dict[str, Any]:
    code = v.lineage.code if v.lineage else None
    return {
        "model": fact(spec.id, src("metadata")),
        "version": fact(v.id, src(vpath + ".id")),
        "version description": fact(v.description, src(vpath + ".description"), "no description of this version"),
        "owners (developed by)": fact(list(spec.metadata.owners), src("metadata.owners")),
        "risk tier": fact(spec.spec.tier, src("spec.tier")),
        "model type (task)": fact(spec.spec.task, src("spec.task")),
        "runtime": fact(v.runtime, src(vpath + ".runtime")),
        "artifact": fact(v.artifact.uri, src(vpath + ".artifact.uri")),
        "artifact sha256": fact(v.artifact.sha256, src(vpath + ".artifact.sha256"), "the artifact is not pinned"),
        "created": fact(v.created.isoformat() if v.created else None, src(vpath + ".created"), "no creation date"),
        "parent version": fact(v.lineage.parent if v.lineage else None, src(vpath + ".lineage.parent"),
                               "no parent version (a first version, or lineage not declared)"),
        "training code": fact(f"{code.repo}@{code.commit}" if code else None, src(vpath + ".lineage.code"),
                              "training code not declared (lineage.code)"),
    }


def _intended_use(spec: Any, src: Any) -> dict[str, Any]:
    dep = spec.spec.deployment
    return {
        "purpose": fact(spec.metadata.description, src("metadata.description"), "no description in the spec"),
        "tags": fact(list(spec.metadata.tags), src("metadata.tags"), "no tags"),
        "environment": fact(dep.environment if dep else None, src("spec.deployment.environment"),
                            "not deployed (no spec.deployment)"),
        "champion": fact(dep.champion if dep else None, src("spec.deployment.champion"), "no champion"),
    }


def _interface(spec: Any, src: Any) -> dict[str, Any]:
    def rows(features: list[Any]) -> list[dict[str, Any]]:
        return [{"name": f.name, "type": f.type, "sensitive": f.sensitive, "model input": f.model_input,
                 "range": None if f.min is None and f.max is None else [f.min, f.max],
                 "categories": f.categories} for f in features]

    return {"inputs": fact(rows(list(spec.spec.interface.inputs)), src("spec.interface.inputs")),
            "outputs": fact(rows(list(spec.spec.interface.outputs)), src("spec.interface.outputs"))}


def _training(v: Any, vpath: str, src: Any) -> dict[str, Any]:
    td = v.lineage.training_data if v.lineage else None
    return {"training data": fact(td.uri if td else None, src(vpath + ".lineage.trainingData"),
                                  "training data not declared (lineage.trainingData)"),
            "training data sha256": fact(td.sha256 if td else None, src(vpath + ".lineage.trainingData.sha256"),
                                         "training data not pinned by digest")}


def _evaluation(spec: Any, src: Any) -> dict[str, Any]:
    val = spec.spec.validation
    why = "no evaluation data declared (spec.validation)"
    return {
        "evaluation data": fact(val.evaluation_data.uri if val else None, src("spec.validation.evaluationData"), why),
        "evaluation data sha256": fact(val.evaluation_data.sha256 if val else None,
                                       src("spec.validation.evaluationData.sha256"), why if not val else
                                       "evaluation data not pinned by digest"),
        "reference data": fact(val.reference_data.uri if val else None, src("spec.validation.referenceData"), why),
        "label": fact(val.label if val else None, src("spec.validation.label"), why),
    }


def _factors(spec: Any, src: Any) -> dict[str, Any]:
    val = spec.spec.validation
    sensitive = [f.name for f in spec.spec.interface.inputs if f.sensitive]
    return {"slices": fact(list(val.slice_columns) if val else None, src("spec.validation.sliceColumns"),
                           "no slice columns declared (validation.sliceColumns)"),
            "sensitive attributes": fact(sensitive, src("spec.interface.inputs"), "no sensitive attribute declared")}


def _metric_defs(index: EvidenceIndex, spec: Any, src: Any) -> dict[str, Any]:
    from engine.spec.thresholds import effective_checks

    checks = effective_checks(spec, index.config)
    return {"checks and thresholds": fact({c: t for c, t in checks.items()}, src("spec.tier"),
                                          "the tier runs no checks")}


def _quantitative(v: Any, vpath: str, results: dict[str, Any], src: Any) -> dict[str, Any]:
    perf = results.get("performance")
    out = {"claimed offline metrics": fact(dict(v.metrics), src(vpath + ".metrics"), "no metrics claimed")}
    if perf is None:
        out["measured metrics"] = fact(None, None, "no performance result recorded for this version")
        out["per slice"] = fact(None, None, "no performance result recorded for this version")
        return out
    result = perf["result"]
    out["status"] = fact(result.get("status"), perf["link"])
    out["measured metrics"] = fact(_metrics_of(result), perf["link"], "the recorded result holds no metric")
    slices = [m for m in result.get("metrics") or [] if isinstance(m, dict) and "=" in str(m.get("scope"))]
    out["per slice"] = fact({f"{m.get('scope')}: {m.get('name')}": m.get("value") for m in slices}, perf["link"],
                            "no slice metrics recorded")
    return out


def _check_section(results: dict[str, Any], check: str, why: str) -> dict[str, Any]:
    found = results.get(check)
    if found is None:
        return {"status": fact(None, None, why), "metrics": fact(None, None, why)}
    result = found["result"]
    metrics = {f"{m.get('name')} [{m.get('scope')}]": m.get("value") for m in result.get("metrics") or []
               if isinstance(m, dict)}
    return {"status": fact(result.get("status"), found["link"]), "summary": fact(result.get("summary"), found["link"]),
            "metrics": fact(metrics, found["link"], "the recorded result holds no metric")}


def _explainability(results: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    found = results.get("explainability")
    why = "no explainability result recorded for this version (run the explainability check)"
    out: dict[str, Any] = {}
    if found is None:
        out["permutation importance"] = fact(None, None, why)
        out["importance shift vs champion"] = fact(None, None, why)
    else:
        metrics = found["result"].get("metrics") or []
        imp = {str(m.get("scope")): m.get("value") for m in metrics
               if isinstance(m, dict) and m.get("name") == "permutation_importance"}
        shift = {str(m.get("scope")): m.get("value") for m in metrics
                 if isinstance(m, dict) and m.get("name") == "importance_shift" and m.get("gate") is False}
        out["status"] = fact(found["result"].get("status"), found["link"])
        out["permutation importance"] = fact(imp, found["link"], "the recorded result holds no importance")
        out["importance shift vs champion"] = fact(shift, found["link"], "no champion was compared")
    detail = local.get("explainability")
    if detail is None:
        out["partial dependence"] = fact(None, None, "no full explainability result given (--results DIR of "
                                                     "govops validate): the ledger keeps metrics, not curves")
    else:
        out["partial dependence"] = fact(detail["details"].get("partial_dependence"), detail["source"])
        out["charts"] = fact(detail["details"].get("charts"), detail["source"])
    return out


def _approvals(index: EvidenceIndex, model: str, version: str) -> dict[str, Any]:
    found = index.approvals(model, version)
    why = "no approval recorded with a rollout of this version"
    if found is None:
        return {"approvers": fact(None, None, why)}
    people = [f"{a.get('approver')}" + (f" ({a['group']})" if a.get("group") else "") for a in found["approvals"]]
    return {"approvers": fact(people, found["link"], why)}


def _deployments(index: EvidenceIndex, model: str) -> dict[str, Any]:
    rows = index.deployments(model)
    return {"rollouts": fact(rows, {"kind": "ledger", "label": "rollout records", "commit": index.commit},
                             "no rollout recorded in the ledger (git notes refs/notes/govops)")}


def _monitoring(index: EvidenceIndex, spec: Any, model: str, src: Any) -> dict[str, Any]:
    mon = spec.spec.monitoring
    thresholds = mon.thresholds.model_dump(by_alias=True, exclude_defaults=False) if mon else None
    thresholds = {k: v for k, v in (thresholds or {}).items() if v}
    health = index.health.get(model)
    state = {"kind": "monitoring", "label": ".govops/monitoring/state.json", "commit": None,
             "recorded": health.get("updated") if health else None}
    return {
        "thresholds": fact(thresholds, src("spec.monitoring.thresholds"), "no monitoring thresholds declared"),
        "channels": fact([c.type for c in mon.channels] if mon else None, src("spec.monitoring.channels"),
                         "no alert channel declared"),
        "auto shutdown": fact(mon.auto_shutdown.enabled if mon else None, src("spec.monitoring.autoShutdown"),
                              "automatic shutdown not declared"),
        "current health": fact(None if health is None else health.get("health"), state,
                               "no health measured (govops monitor has not run here)"),
    }


def _local_results(directory: Path, model: str, version: str, artifact_sha: str | None) -> dict[str, Any]:
    """Full check results (``govops validate --out DIR``) for this version, only when they read this artifact."""
    out: dict[str, Any] = {}
    if not directory.is_dir():
        raise InputError(f"--results {directory}: not a directory", file=str(directory))
    for path in sorted(directory.rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(doc, dict) or doc.get("model") != model or doc.get("version") != version:
            continue
        inputs = doc.get("inputs")
        read = {i.get("sha256") for i in inputs if isinstance(i, dict) and i.get("role") == "candidate_model"
                and isinstance(i.get("sha256"), str)} if isinstance(inputs, list) else set()
        if artifact_sha is None or artifact_sha not in read:
            continue  # a result for other bytes than the governed artifact is no evidence for it
        out[str(doc.get("check"))] = {"details": doc.get("details") or {},
                                      "source": {"kind": "result", "label": str(path), "file": str(path),
                                                 "commit": None, "recorded": doc.get("started")}}
    return out
