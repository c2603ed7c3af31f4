"""``govops check --all`` through the result cache: an unchanged spec is neither loaded nor judged again.

The run's scope digest covers the govops code and the policy engine's version, the
``GOVOPS_*`` settings, ``govops.yaml``, everything in the policy directory (rules, waivers,
packs: the library as read for the run), the change context given by flags and the backend
asked for. Each spec's entry (``engine.spec.result_cache``) is further keyed by its bytes and
path and by where the clock falls among the times the policies compare it with (freeze
windows, waiver expiries), so a decision is never reused across such a boundary; it holds
the spec's load findings and its policy findings with their positions. Specs whose entry is
missing or stale are checked together by ``run_check(spec_files=...)`` (decisions still go
through the decision cache); duplicate model ids are found across all specs every run.

Returns None where the cache cannot stand in for ``run_check`` (caching off; a library or
backend that cannot take the per-model re-check path; two changed specs declaring one
model): the caller checks as before. Nothing heavy is imported unless a spec must be judged.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.spec import result_cache as rc
from engine.spec.diagnostics import Diagnostic, Findings

TOOL = "govops check"


@dataclass
class CachedCheck:
    """What the cached check found, and how much work it took (for tests and the benchmark)."""

    findings: Findings
    loaded: int
    """Specs loaded (cache misses)."""
    evaluated: int
    """Models the policy backend evaluated (misses of both caches)."""


def _engine_version() -> str:
    """The installed policy engine (regopy), by its files: ``importlib.metadata`` alone costs ~0.1 s to import."""
    import os
    from importlib.util import find_spec

    spec = find_spec("regopy")
    if spec is None or not spec.submodule_search_locations:
        return "none"
    parts = []
    for location in spec.submodule_search_locations:
        for name in sorted(n for n in os.listdir(location) if n != "__pycache__"):
            st = os.stat(os.path.join(location, name))
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return rc.digest(*parts)


def scope_digest(root: Path, config_path: Path | None, context: dict[str, Any] | None, backend: str | None,
                 env: Mapping[str, str]) -> str:
    """The digest of everything every spec's result in this run depends on, besides the spec and the clock."""
    from engine.policy.cached_lint import policy_directory

    cfg = config_path or root / "govops.yaml"
    directory, _ = policy_directory(root, env)
    return rc.digest("check-all", rc.code_digest(), _engine_version(), rc.settings_digest(env), str(root), str(cfg),
                     rc.file_digest(cfg), rc.tree_digest(directory), json.dumps(context, sort_keys=True),
                     backend or "")


def _now_ns(env: Mapping[str, str]) -> int:
    from engine.policy.timeutil import parse_now

    return parse_now(rc.env_setting(env, "now"))


def _run_entry(found: Any) -> dict[str, Any] | None:
    try:
        if not isinstance(found, dict):
            return None
        paths, bounds, config_file = found["spec_paths"], found["boundaries"], found["config_file"]
        if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths) and isinstance(config_file, str)
                and isinstance(bounds, list) and all(type(b) is int for b in bounds)):
            return None
        return {"config": rc.diagnostics_from(found["config"]), "spec_paths": paths, "boundaries": bounds,
                "config_file": config_file}
    except (KeyError, ValueError):
        return None


def cached_check_all(root: Path, *, context: dict[str, Any] | None, backend: str | None,
                     config_path: Path | None, env: Mapping[str, str]) -> CachedCheck | None:
    """``run_check`` of every model through the cache, or None when the caller must check without it."""
    if not rc.enabled(env):
        return None
    root = root.resolve()
    store = rc.ResultStore(root, env)
    scope = scope_digest(root, config_path, context, backend, env)
    store.open_pack(scope)
    run = _run_entry(store.get(scope))
    if run is None:
        return _cold(store, scope, root, context=context, backend=backend, config_path=config_path, env=env)
    bucket = bisect.bisect_right(run["boundaries"], _now_ns(env))
    from engine.spec.spec_files import discover_names

    files = rc.spec_keys(discover_names(root, None, run["spec_paths"]), root, rc.digest(scope, str(bucket)))
    sig = rc.Signatures(root)
    entries: dict[str, rc.SpecEntry] = {}
    for _, shown, key in files:
        entry = rc.SpecEntry.read(store.get(key), shown, sig)
        if entry is not None:
            entries[shown] = entry
    missed = [f for f in files if f[1] not in entries]
    evaluated = 0
    if missed:
        fresh = _judge(store, root, missed, sig, run["config_file"], context=context, backend=backend,
                       config_path=config_path)
        if fresh is None:
            return None
        evaluated = fresh
        for _, shown, key in missed:
            entry = rc.SpecEntry.read(store.get(key), shown, sig)
            if entry is None:
                return None  # not stored (an unwritable cache): check without it
            entries[shown] = entry
    own, violations, models = rc.assemble([entries[shown] for _, shown, _ in files])
    store.save_pack(scope)
    return CachedCheck(Findings([*run["config"], *own, *violations], models_checked=models, tool=TOOL),
                       len(missed), evaluated)


def _cold(store: rc.ResultStore, scope: str, root: Path, *, context: dict[str, Any] | None, backend: str | None,
          config_path: Path | None, env: Mapping[str, str]) -> CachedCheck | None:
    """No run entry yet: write it (config findings, spec paths, time boundaries), then check through the cache."""
    from engine.policy.check import _builder
    from engine.policy.compact import direct_reads
    from engine.policy.judge import rules_of_tree
    from engine.spec.settings import get_settings
    from engine.spec.workspace import load_config

    settings = get_settings(env)
    rules = rules_of_tree(root, settings.policy_dir, config_path)
    from engine.policy.backend import get_backend

    if direct_reads(rules.library.modules) or not get_backend(backend, settings).accepts_compact:
        return None  # every model is loaded at once on that path: nothing to gain per spec
    config, config_file, diags = load_config(root, config_path)
    bounds = _builder(rules.config, settings, rules.waivers, context, "recheck").time_boundaries()
    store.put(scope, {"config": [rc.diagnostic_json(d) for d in diags],
                      "spec_paths": list(config.spec_paths) if config else ["specs"], "boundaries": bounds,
                      "config_file": config_file})
    if _run_entry(store.get(scope)) is None:
        return None  # the cache cannot be written: check without it
    return cached_check_all(root, context=context, backend=backend, config_path=config_path, env=env)


def _judge(store: rc.ResultStore, root: Path, missed: list[tuple[str, str, str]], sig: rc.Signatures,
           config_file: str, *, context: dict[str, Any] | None, backend: str | None,
           config_path: Path | None) -> int | None:
    """Check the specs not in the cache and store their entries; the number of models evaluated, or None."""
    from engine.policy.check import run_check, violations_of

    by_file: dict[str, list[Diagnostic]] = {}
    judged: dict[str, tuple[Any, dict[str, Any]]] = {}
    evaluated = 0
    pending = missed
    while pending:  # a spec declaring the model of another in the same batch is checked again, in the next
        outcome = run_check(root, context=context, backend=backend, config_path=config_path,
                            spec_files=[Path(p) for p, _, _ in pending])
        again = rc.file_findings(outcome.spec_diagnostics, config_file, by_file, pending)
        if again is None:
            return None  # a finding of no spec: check without the cache
        for p, r in zip(outcome.prepared, outcome.decisions, strict=True):
            if p.file not in by_file or p.file in judged:
                return None  # not the per-model path after all
            judged[p.file] = (p, r)
        evaluated += sum(1 for r in outcome.decisions if not r["cached"])
        pending = [m for m in pending if m[1] in again]
    for _, shown, key in missed:
        if shown in judged:
            p, record = judged[shown]
            entry = rc.SpecEntry(shown, by_file[shown], p.model, p.name_position,
                                 violations_of(root, p, record["result"]))
            store.put(key, entry.value(list(p.uris), sig.of(p.uris)))
        else:  # an invalid spec: its load findings only
            store.put(key, rc.SpecEntry(shown, by_file[shown], None, (1, 1), []).value([], {}))
    return evaluated
