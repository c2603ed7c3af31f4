"""``run_check``: lint + plan + policy for the models in scope (the policy stage's driver).

Picks the models (a change between two refs, every model, or the ones named), builds
one input per model (``engine.policy.inputs``), reuses cached decisions, evaluates the
rest through the chosen backend, and turns deny/warn items into diagnostics at the
spec's file:line. Reads the repository and Git; never writes anything but the decision
cache under ``.govops/cache/``. Any failure to decide raises ``PolicyError`` (exit 2).
"""

from __future__ import annotations

import bisect
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.config import Governance
from engine.diagnostics import Diagnostic
from engine.errors import ConfigError, GovopsError, InputError
from engine.output import Findings
from engine.plan import diff_specs
from engine.policy.backend import Decision, PolicyBackend, get_backend
from engine.policy.cache import DecisionCache, input_key
from engine.policy.compact import compact
from engine.policy.inputs import InputBuilder, dumps_without_now, freezes_data, with_now
from engine.policy.library import ENTRYPOINT_PATH, PolicyLibrary, load_library
from engine.policy.timeutil import parse_now
from engine.policy.waivers import load_waivers
from engine.settings import Settings
from engine.workspace import LoadedSpec, load_workspace

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class Scope:
    """The models to judge: (head spec, base spec or None, plan entry or None) and what was found on the way."""

    config: Governance
    mode: str
    items: list[tuple[LoadedSpec, LoadedSpec | None, dict[str, Any] | None]]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    context: dict[str, Any] | None = None


@dataclass
class CheckOutcome:
    """What ``run_check`` found: findings to render, decision records, and the inputs sent."""

    findings: Findings
    decisions: list[dict[str, Any]]
    inputs: list[dict[str, Any]]


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
) -> Scope:
    """The models in scope, with their base/head specs and plan entries."""
    if (base is None) != (head is None):
        raise InputError("pass both --base and --head (or neither, with --all or model ids)")
    if base is not None and all_models:
        raise InputError("--all re-checks the working tree; it does not combine with --base/--head")
    if base is not None and head is not None:
        return _select_change(root, base, head, models, context, config_path)
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
    return Scope(ws.config, "recheck", [(s, s, None) for s in specs], list(diags), context)


def _select_change(
    root: Path,
    base: str,
    head: str,
    models: list[str] | None,
    context: dict[str, Any] | None,
    config_path: Path | None,
) -> Scope:
    try:
        from engine.gitread import plan_between
    except ImportError:  # pragma: no cover - engine.gitread arrives with the PR stage
        raise InputError("checking a change needs engine.gitread (not installed); use --all") from None
    from engine.workspace import load_config

    config, config_file, cfg_diags = load_config(root, config_path)
    if config is None:
        raise ConfigError("govops.yaml is invalid; run `govops lint` and fix it first", file=config_file)
    plan = plan_between(root, base, head, config)
    items: list[tuple[LoadedSpec, LoadedSpec | None, dict[str, Any] | None]] = []
    seen: set[str] = set()
    for entry in plan.entries:
        model = entry["model"]
        head_spec = plan.head_specs.get(model)
        if head_spec is None:
            continue  # a removed model has no spec left to judge
        items.append((head_spec, plan.base_specs.get(model), entry))
        seen.add(model)
    if plan.config_changed or plan.policies_changed:
        for model, head_spec in sorted(plan.head_specs.items()):
            if model not in seen:
                items.append((head_spec, plan.base_specs.get(model), None))
    if models:
        items = [i for i in items if i[0].id in set(models)]
    ctx = dict(context or {})
    ctx.setdefault("changed_files", list(plan.changed_files))
    return Scope(config, "change", items, list(cfg_diags) + list(plan.diagnostics), ctx)


def build_inputs(
    scope: Scope, settings: Settings, library: PolicyLibrary, root: Path
) -> tuple[InputBuilder, list[dict[str, Any]]]:
    """The input documents for every model in scope (exactly what the backends receive)."""
    waivers = load_waivers(root / library.directory, library.directory)
    builder = InputBuilder(
        scope.config,
        context=scope.context,
        now_ns=parse_now(settings.now),
        waivers=waivers,
        mode=scope.mode,
    )
    docs = []
    for head_spec, base_spec, entry in scope.items:
        if entry is None and base_spec is head_spec:
            entry = diff_specs(head_spec.spec, head_spec.spec, base_file=head_spec.file,
                               head_file=head_spec.file, config=scope.config)
        docs.append(builder.build(head_spec, base_spec, entry))
    return builder, docs


@dataclass
class _Prestart:
    """Work started before the models are selected, so it runs beside Git and spec loading.

    The regopy backend compiles (or loads its cached bundle) with the run-level
    documents while ``select`` reads specs and Git; ``git log`` for the policy revision
    runs beside everything. Best effort and silent: any problem here is met again, and
    reported, on the normal path.
    """

    library: PolicyLibrary | None = None
    run: dict[str, Any] | None = None
    backend: PolicyBackend | None = None
    revision: Any = None

    @classmethod
    def start(cls, root: Path, settings: Settings, backend: str | None, config_path: Path | None) -> _Prestart:
        early = cls()
        try:
            early.library = load_library(root, settings.policy_dir)
        except GovopsError:
            return early
        early.revision = early.library.start_revision()
        try:
            from engine.workspace import load_config

            config, _, _ = load_config(root, config_path)
            if config is None:
                return early
            waivers = load_waivers(root / early.library.directory, early.library.directory)
            early.run = {"config": config.to_data(), "freezes": freezes_data(config), "waivers": waivers}
            chosen = get_backend(backend, settings)
            if chosen.accepts_compact:
                chosen.load(early.library, early.run, wait=False)
                early.backend = chosen
        except GovopsError:
            return early
        return early

    def backend_for(self, library: PolicyLibrary, run: dict[str, Any]) -> PolicyBackend | None:
        """The prestarted backend when it was loaded with this library and these run documents."""
        if self.backend is None or self.library is None:
            return None
        if library.digest != self.library.digest or run != self.run:
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
) -> CheckOutcome:
    """Lint + plan + policy for the models in scope; raises ``PolicyError`` when no decision can be reached."""
    settings = settings or Settings()
    root = root.resolve()
    early = _Prestart.start(root, settings, backend, config_path)
    try:
        return _run_check(root, base, head, all_models, models, context, backend, config_path, settings, early)
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
) -> CheckOutcome:
    scope = select(
        root, base=base, head=head, all_models=all_models, models=models, context=context, config_path=config_path
    )
    library = load_library(root, settings.policy_dir)
    builder, docs = build_inputs(scope, settings, library, root)
    bucket = bisect.bisect_right(builder.time_boundaries(), builder.now_ns)
    cache = DecisionCache(root, library.digest, enabled=settings.policy_cache)

    keys: list[str] = []
    missing: list[tuple[int, str]] = []
    decisions: list[Decision | None] = []
    for i, ((head_spec, _, _), doc) in enumerate(zip(scope.items, docs, strict=True)):
        text = dumps_without_now(doc["input"], head_spec)
        key = input_key(text, bucket)
        keys.append(key)
        hit = cache.get(key)
        decisions.append(hit)
        if hit is None:
            missing.append((i, text))

    run = {"config": builder.config_data, "freezes": builder.freezes, "waivers": builder.waivers}
    chosen = early.backend_for(library, run) if missing else None
    if chosen is None:
        chosen = get_backend(backend, settings)
        if missing:
            chosen.load(library, run if chosen.accepts_compact else None)
    if missing:
        try:
            batch = [(docs[i]["model"], _payload(chosen, docs[i]["input"], text, run, builder.now_ns))
                     for i, text in missing]
            fresh = chosen.evaluate_many(batch)
        finally:
            chosen.close()
        for (i, _), decision in zip(missing, fresh, strict=True):
            decisions[i] = decision
            cache.put(keys[i], decision)
        cache.save()

    stamp = datetime.fromtimestamp(builder.now_ns / 1e9, UTC).isoformat()
    revision = early.revision() if early.revision is not None else library.revision()
    missed = {i for i, _ in missing}
    records = [
        {
            "decision_id": str(uuid.uuid4()),
            "path": ENTRYPOINT_PATH,
            "model": doc["model"],
            "input_digest": keys[i],
            "result": decisions[i],
            "timestamp": stamp,
            "revision": revision,
            "policy_digest": library.digest,
            "backend": chosen.name,
            "cached": i not in missed,
        }
        for i, doc in enumerate(docs)
    ]
    diagnostics = list(scope.diagnostics)
    diagnostics.extend(_violations(scope, decisions))
    findings = Findings(diagnostics, models_checked=len(docs), tool="govops check")
    return CheckOutcome(findings=findings, decisions=records, inputs=docs)


def _payload(chosen: PolicyBackend, doc: dict[str, Any], text: str, run: dict[str, Any], now_ns: int) -> str:
    """What the backend receives for one model: the compact form where it takes it, else the full input."""
    if chosen.accepts_compact:
        small = compact(doc, run)
        if small is not None:
            small.pop("now_ns", None)
            return with_now(json.dumps(small, separators=(",", ":"), allow_nan=False), now_ns)
    return with_now(text, now_ns)


def _violations(scope: Scope, decisions: list[Decision | None]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen_change_level: set[tuple[str, str]] = set()
    for (head_spec, _, _), decision in zip(scope.items, decisions, strict=True):
        assert decision is not None
        for severity, key in (("error", "deny"), ("warning", "warn")):
            for item in decision[key]:
                other_file = item.get("file")
                if other_file:
                    if (item["rule"], item["message"]) in seen_change_level:
                        continue  # a change-level finding (e.g. govops.yaml edited) is reported once
                    seen_change_level.add((item["rule"], item["message"]))
                    file, line, col = other_file, 1, 1
                else:
                    file = head_spec.file
                    line, col = head_spec.doc.position(parse_path(item.get("path") or ""))
                out.append(
                    Diagnostic(
                        file=file,
                        line=line,
                        col=col,
                        rule=item["rule"],
                        message=item["message"],
                        severity=severity,  # type: ignore[arg-type]
                        model=head_spec.id,
                        path=item.get("path") or None,
                    )
                )
    return out
