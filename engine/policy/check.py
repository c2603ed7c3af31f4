"""``run_check``: lint + plan + policy for the models in scope (the policy stage's driver).

Picks the models (a change between two refs, every model, or the ones named), builds
one input per model (``engine.policy.inputs``) with its cache key and the text a backend
receives (``engine.policy.prepare``; for a re-check of every model this happens in the
processes that load the specs), reuses cached decisions, evaluates the rest through the
chosen backend, and turns deny/warn items into diagnostics at the spec's file:line.
Reads the repository and Git; never writes anything but the decision cache, which lives
in the cache directory outside the checkout (``engine.spec.statedir``). Any failure to decide
raises ``PolicyError`` (exit 2).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.change.plan import diff_specs
from engine.policy.backend import Decision, PolicyBackend, get_backend
from engine.policy.cache import DecisionCache
from engine.policy.compact import direct_reads
from engine.policy.inputs import InputBuilder, dumps_without_now, with_now
from engine.policy.judge import Rules, rules_for_change, rules_of_tree
from engine.policy.library import ENTRYPOINT_PATH, PolicyLibrary
from engine.policy.prepare import InputPreparer, Prepared, PrepareFailure, RunDocuments, prepare
from engine.policy.timeutil import parse_now
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic, Findings
from engine.spec.errors import ConfigError, GovopsError, InputError
from engine.spec.loader import YamlDocument
from engine.spec.settings import Settings
from engine.spec.workspace import LoadedSpec, load_workspace

if TYPE_CHECKING:
    from engine.change.gitread import Plan

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class Scope:
    """The models to judge: (head spec, base spec or None, plan entry or None) and what was found on the way."""

    config: Governance
    mode: str
    items: list[tuple[LoadedSpec, LoadedSpec | None, dict[str, Any] | None]]
    rules: Rules
    """The rules that judge these models (the base's for a change; see ``engine.policy.judge``)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    context: dict[str, Any] | None = None


@dataclass
class CheckOutcome:
    """What ``run_check`` found: findings to render, decision records, and the inputs sent."""

    findings: Findings
    decisions: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    prepared: list[Prepared] = field(default_factory=list)
    """The models judged, in order (with ``decisions``)."""
    spec_diagnostics: list[Diagnostic] = field(default_factory=list)
    """The findings of loading the specs and the rules (``findings`` less the policy violations)."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """``spec.versions[1].artifact`` -> ``("spec", "versions", 1, "artifact")``."""
    return tuple(int(m.group(2)) if m.group(2) is not None else m.group(1) for m in _PATH_PART.finditer(path))


def select(
    root: Path,
    *,
    base: str | None = None,
    head: str | None = None,
    all_models: bool = False,
    models: list[str] | None = None,
    context: dict[str, Any] | None = None,
    config_path: Path | None = None,
    rules: Rules | None = None,
    settings: Settings | None = None,
    plan: Plan | None = None,
) -> Scope:
    """The models in scope, with their base/head specs, plan entries and the rules that judge them.

    ``plan`` is the change's plan when the caller already made it (with ``rules.config``): it is not made again.
    """
    if (base is None) != (head is None):
        raise InputError("pass both --base and --head (or neither, with --all or model ids)")
    if base is not None and all_models:
        raise InputError("--all re-checks the working tree; it does not combine with --base/--head")
    settings = settings or Settings()
    if base is not None and head is not None:
        rules = rules or rules_for_change(root, base, head, settings.policy_dir, config_path, context)
        return _select_change(root, base, head, models, context, rules, plan)
    rules = rules or rules_of_tree(root, settings.policy_dir, config_path)
    ws = load_workspace(root, config_path=config_path)
    if ws.config is None:
        raise ConfigError("govops.yaml is invalid; run `govops lint` and fix it first", file=ws.config_file)
    specs = ws.specs
    diags = ws.diagnostics
    if models:
        known = ws.by_id()
        missing = [m for m in models if m not in known]
        if missing:
            raise InputError(f"unknown model(s): {', '.join(missing)}; known: {', '.join(sorted(known)) or 'none'}")
        specs = [known[m] for m in models]
        files = {s.file for s in specs}
        diags = [d for d in diags if d.file in files or d.file == ws.config_file]
    return Scope(rules.config, "recheck", [(s, s, None) for s in specs], rules, list(diags), context)


def _select_change(
    root: Path,
    base: str,
    head: str,
    models: list[str] | None,
    context: dict[str, Any] | None,
    rules: Rules,
    plan: Plan | None = None,
) -> Scope:
    from engine.change.gitread import GATE_PATHS, plan_between

    # both sides are read with the base's govops.yaml: a change cannot redefine the tiers,
    # tenants or groups it is judged by (its edits to them apply once merged)
    config = rules.config
    if plan is None:
        plan = plan_between(root, base, head, config)
    items: list[tuple[LoadedSpec, LoadedSpec | None, dict[str, Any] | None]] = []
    seen: set[str] = set()
    for entry in plan.entries:
        model = entry["model"]
        base_spec = plan.base_specs.get(model)
        # a removed model is judged on its last spec (plan.change "removed"): the policy
        # decides who may take it out of service, and when (policies/removal.rego)
        judged = plan.head_specs.get(model) or base_spec
        if judged is None:
            continue
        items.append((judged, base_spec, entry))
        seen.add(model)
    gate_changed = any(f == g or f.startswith(g + "/") for f in plan.changed_files for g in GATE_PATHS)
    if plan.config_changed or plan.policies_changed or gate_changed:
        # a change to the rules or to what enforces them is judged on every model (policies/meta.rego)
        for model, head_spec in sorted(plan.head_specs.items()):
            if model not in seen:
                items.append((head_spec, plan.base_specs.get(model), None))
    if models:
        items = [i for i in items if i[0].id in set(models)]
    ctx = dict(context or {})
    ctx.setdefault("changed_files", list(plan.changed_files))
    return Scope(config, "change", items, rules, list(rules.diagnostics) + list(plan.diagnostics), ctx)


def build_inputs(scope: Scope, settings: Settings) -> tuple[InputBuilder, list[dict[str, Any]]]:
    """The input documents for every model in scope (exactly what the backends receive), with its rules' waivers."""
    builder = _builder(scope.config, settings, scope.rules.waivers, scope.context, scope.mode)
    builder.packs = scope.rules.packs
    builder.removed_tiers = sorted({b.spec.spec.tier for _, b, e in scope.items
                                    if b is not None and e is not None and e.get("change") == "removed"})
    docs = []
    for head_spec, base_spec, entry in scope.items:
        if entry is None and base_spec is head_spec:
            entry = diff_specs(head_spec.spec, head_spec.spec, base_file=head_spec.file,
                               head_file=head_spec.file, config=scope.config)
        docs.append(builder.build(head_spec, base_spec, entry))
    return builder, docs


def _builder(
    config: Governance, settings: Settings, waivers: list[dict[str, Any]],
    context: dict[str, Any] | None, mode: str,
) -> InputBuilder:
    return InputBuilder(config, context=context, now_ns=parse_now(settings.now), waivers=waivers, mode=mode)


@dataclass
class _Prestart:
    """Work started before the models are selected, so it runs beside Git and spec loading.

    The regopy backend compiles (or loads its cached bundle) with the run-level
    documents while ``select`` reads specs and Git; ``git log`` for the policy revision
    runs beside everything. Best effort and silent: any problem here is met again, and
    reported, on the normal path.
    """

    library: PolicyLibrary | None = None
    run: RunDocuments | None = None
    backend: PolicyBackend | None = None
    revision: Any = None

    @classmethod
    def start(cls, rules: Rules, settings: Settings, backend: str | None) -> _Prestart:
        early = cls(library=rules.library)
        early.revision = rules.library.start_revision()
        try:
            early.run = RunDocuments.of(_builder(rules.config, settings, rules.waivers, None, "recheck"))
            chosen = get_backend(backend, settings)
            if chosen.accepts_compact:
                chosen.load(rules.library, early.run.docs, wait=False)
                early.backend = chosen
        except GovopsError:
            return early
        return early

    def backend_for(self, library: PolicyLibrary, run: RunDocuments) -> PolicyBackend | None:
        """The prestarted backend when it was loaded with this library and these run documents."""
        if self.backend is None or self.library is None or self.run is None:
            return None
        if library.digest != self.library.digest or run.digest != self.run.digest:
            return None
        backend, self.backend = self.backend, None
        return backend

    def close(self) -> None:
        """Stop a prestarted backend nobody took."""
        if self.backend is not None:
            self.backend.close()
            self.backend = None


def run_check(
    root: Path,
    *,
    base: str | None = None,
    head: str | None = None,
    all_models: bool = False,
    models: list[str] | None = None,
    context: dict[str, Any] | None = None,
    backend: str | None = None,
    config_path: Path | None = None,
    settings: Settings | None = None,
    rules: Rules | None = None,
    plan: Plan | None = None,
    spec_files: list[Path] | None = None,
) -> CheckOutcome:
    """Lint + plan + policy for the models in scope; raises ``PolicyError`` when no decision can be reached.

    ``spec_files`` limits a re-check of every model to those files (the result cache's misses,
    ``engine.policy.cached_check``) where the re-check path applies; elsewhere it is ignored.

    A change (``base``/``head``) is judged by the base's rules (``engine.policy.judge``);
    anything else by the working tree's. ``rules`` and ``plan`` let a caller that already
    read the rules and planned the change (``engine.report.pipeline``) pass them in; the
    plan must have been made with ``rules.config`` for the same ``base``/``head``.
    """
    settings = settings or Settings()
    root = root.resolve()
    if rules is None:
        if base is not None and head is not None:
            rules = rules_for_change(root, base, head, settings.policy_dir, config_path, context)
        else:
            rules = rules_of_tree(root, settings.policy_dir, config_path)
    early = _Prestart.start(rules, settings, backend)
    try:
        return _run_check(root, base, head, all_models, models, context, backend, config_path, settings, early,
                          rules, plan, spec_files)
    finally:
        early.close()


def _run_check(
    root: Path,
    base: str | None,
    head: str | None,
    all_models: bool,
    models: list[str] | None,
    context: dict[str, Any] | None,
    backend: str | None,
    config_path: Path | None,
    settings: Settings,
    early: _Prestart,
    rules: Rules,
    plan: Plan | None = None,
    spec_files: list[Path] | None = None,
) -> CheckOutcome:
    library = rules.library
    from engine.policy.reference import check_custom_library  # a custom library either engine refuses: file:line

    check_custom_library(library, settings.reference_engine)
    compact_ok = not direct_reads(library.modules)
    fresh = get_backend(backend, settings)
    if base is None and head is None and not models and compact_ok and fresh.accepts_compact:
        batch = prepare_recheck(root, settings, rules, context, config_path, spec_files)
    else:
        scope = select(
            root, base=base, head=head, all_models=all_models, models=models, context=context,
            config_path=config_path, rules=rules, settings=settings, plan=plan,
        )
        batch = _prepare_scope(scope, settings)
    builder, run = batch.builder, batch.run
    cache = DecisionCache(root, library.digest, enabled=settings.policy_cache, settings=settings)
    decisions: list[Decision | None] = [cache.get(p.key) for p in batch.prepared]
    missing = [i for i, hit in enumerate(decisions) if hit is None]

    chosen = early.backend_for(library, run) if missing else None
    if chosen is None:
        chosen = fresh
        if missing:
            chosen.load(library, run.docs if chosen.accepts_compact else None)
    if missing:
        send_compact = chosen.accepts_compact and compact_ok
        try:
            fresh_decisions = chosen.evaluate_many(
                [(batch.prepared[i].model, batch.payload(i, send_compact)) for i in missing]
            )
        finally:
            chosen.close()
        for i, decision in zip(missing, fresh_decisions, strict=True):
            decisions[i] = decision
            cache.put(batch.prepared[i].key, decision)
        cache.save()

    stamp = datetime.fromtimestamp(builder.now_ns / 1e9, UTC).isoformat()
    revision = early.revision() if early.revision is not None else library.revision()
    missed = set(missing)
    judged_by = rules.provenance(revision)
    records = [
        {
            "decision_id": str(uuid.uuid4()),
            "path": ENTRYPOINT_PATH,
            "model": p.model,
            "input_digest": p.key,
            "result": decisions[i],
            "timestamp": stamp,
            "revision": revision,
            "policy_digest": library.digest,
            "judged_by": judged_by,
            "backend": chosen.name,
            "cached": i not in missed,
        }
        for i, p in enumerate(batch.prepared)
    ]
    diagnostics = list(batch.diagnostics)
    diagnostics.extend(_violations(batch.prepared, decisions, lambda i: batch.document(root, i)))
    findings = Findings(diagnostics, models_checked=len(batch.prepared), tool="govops check")
    return CheckOutcome(findings=findings, decisions=records, inputs=batch.docs or [], prepared=list(batch.prepared),
                        spec_diagnostics=list(batch.diagnostics))


@dataclass
class _Batch:
    """The prepared inputs of one check, with what is needed to send and to report them."""

    builder: InputBuilder
    run: RunDocuments
    prepared: list[Prepared]
    diagnostics: list[Diagnostic]
    docs: list[dict[str, Any]] | None = None
    """The published input documents (the re-check path never holds them all at once)."""
    yaml: list[YamlDocument] | None = None
    """Each spec's YAML document for positions (else read again from disk, for specs with findings only)."""

    def payload(self, i: int, send_compact: bool) -> str:
        """What the backend receives for model ``i``: the compact form where it takes it, else the full input."""
        p = self.prepared[i]
        if p.compact and not send_compact:
            assert self.docs is not None, "full inputs are only sent on the scope path, which keeps them"
            return with_now(dumps_without_now(self.docs[i]["input"]), self.builder.now_ns)
        return with_now(p.text, self.builder.now_ns)

    def document(self, root: Path, i: int) -> YamlDocument:
        """The YAML document of model ``i`` (positions are parsed the first time one is asked for)."""
        if self.yaml is not None:
            return self.yaml[i]
        file = self.prepared[i].file
        return YamlDocument(file, None, {}, (root / file).read_bytes())


def _prepare_scope(scope: Scope, settings: Settings) -> _Batch:
    """Inputs for the selected models, built here from the loaded specs (a change, or models by name)."""
    builder, docs = build_inputs(scope, settings)
    run = RunDocuments.of(builder)
    bucket = builder.time_bucket()
    prepared = [prepare(doc["input"], h, run, bucket) for (h, _, _), doc in zip(scope.items, docs, strict=True)]
    return _Batch(builder, run, prepared, list(scope.diagnostics), docs, [h.doc for h, _, _ in scope.items])


def prepare_recheck(
    root: Path, settings: Settings, rules: Rules, context: dict[str, Any] | None, config_path: Path | None,
    spec_files: list[Path] | None = None,
) -> _Batch:
    """Inputs for every model (or those of ``spec_files``), built where each spec is loaded (worker processes)."""
    builder = _builder(rules.config, settings, rules.waivers, context, "recheck")
    run = RunDocuments.of(builder)
    preparer = InputPreparer(builder, run, builder.time_bucket())
    ws = load_workspace(root, spec_files, config_path=config_path, summarise=preparer)
    prepared: list[Prepared] = []
    for summary in ws.summaries:
        if isinstance(summary.extra, PrepareFailure):
            raise summary.extra.error()
        prepared.append(summary.extra)
    return _Batch(builder, run, prepared, list(ws.diagnostics))


def violations_of(root: Path, prepared: Prepared, decision: Decision) -> list[Diagnostic]:
    """The findings of one model's decision, at its spec's file:line (change-level ones at their own file)."""
    return _violations([prepared], [decision], lambda _: YamlDocument(prepared.file, None, {},
                                                                     (root / prepared.file).read_bytes()))


def _violations(
    models: list[Prepared], decisions: list[Decision | None], document: Callable[[int], YamlDocument]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen_change_level: set[tuple[str, str]] = set()
    for i, (prepared, decision) in enumerate(zip(models, decisions, strict=True)):
        assert decision is not None
        doc: YamlDocument | None = None
        for severity, key in (("error", "deny"), ("warning", "warn")):
            for item in decision[key]:
                other_file = item.get("file")
                if other_file:
                    if (item["rule"], item["message"]) in seen_change_level:
                        continue  # a change-level finding (e.g. govops.yaml edited) is reported once
                    seen_change_level.add((item["rule"], item["message"]))
                    file, line, col = other_file, 1, 1
                else:
                    doc = doc or document(i)
                    file = prepared.file
                    line, col = doc.position(parse_path(item.get("path") or ""))
                out.append(
                    Diagnostic(
                        file=file,
                        line=line,
                        col=col,
                        rule=item["rule"],
                        message=item["message"],
                        severity=severity,  # type: ignore[arg-type]
                        model=prepared.model,
                        path=item.get("path") or None,
                    )
                )
    return out
