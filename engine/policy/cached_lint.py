"""``govops lint`` through the result cache: an unchanged spec is not parsed again, a changed one alone is.

Part of the policy stage because lint's evidence rules are (``engine.policy.evidence_lint``).
The run's scope digest covers the govops code, the ``GOVOPS_*`` settings, ``govops.yaml``
and the regulation packs; one entry per spec (``engine.spec.result_cache``) holds its
diagnostics. The config's own findings, its spec paths and the packs' findings are one more
entry under the scope digest. Specs whose entry is missing or stale are loaded together
(worker processes when many), their entries written back; duplicate model ids are found
across all specs every run, as ``load_workspace`` does. Returns None where the cache cannot
stand in for a full run (caching off, or two changed specs declaring the same model); the
caller then lints as before. Nothing heavy is imported unless a spec must be loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.spec import result_cache as rc
from engine.spec.diagnostics import Diagnostic, Findings

TOOL = "govops lint"


def lint_summary(loaded: Any) -> dict[str, Any]:
    """What a cache entry needs of a loaded spec beyond its diagnostics (computed in the loading process)."""
    from engine.policy.evidence_lint import evidence_summary

    return {"evidence": evidence_summary(loaded), "uris": rc.spec_uris(loaded.doc.data)}


def policy_directory(root: Path, env: Mapping[str, str]) -> tuple[Path, str]:
    """The policy directory on disk and as named (``GOVOPS_POLICY_DIR``, default ``policies``)."""
    named = rc.env_setting(env, "policy_dir", "policies") or "policies"
    return (Path(named) if Path(named).is_absolute() else root / named), named


def _scope(root: Path, config_path: Path | None, env: Mapping[str, str]) -> tuple[str, Path]:
    cfg = config_path or root / "govops.yaml"
    directory, _ = policy_directory(root, env)
    return rc.digest("lint", rc.code_digest(), rc.settings_digest(env), str(root), str(cfg),
                     rc.file_digest(cfg), rc.tree_digest(directory / "packs")), cfg


def _run_entry(store: rc.ResultStore, scope: str, root: Path, config_path: Path | None,
               env: Mapping[str, str]) -> dict[str, Any]:
    """The run-level entry: the config's findings and spec paths, the packs' findings (computed on a miss)."""
    found = store.get(scope)
    try:
        if isinstance(found, dict) and isinstance(found.get("spec_paths"), list) and all(
                isinstance(p, str) for p in found["spec_paths"]):
            return {"config": rc.diagnostics_from(found["config"]), "packs": rc.diagnostics_from(found["packs"]),
                    "spec_paths": found["spec_paths"], "config_file": str(found["config_file"])}
    except (KeyError, ValueError):
        pass
    from types import SimpleNamespace

    from engine.policy.evidence_lint import evidence_findings
    from engine.spec.workspace import load_config

    config, config_file, diags = load_config(root, config_path)
    _, named = policy_directory(root, env)
    packs = evidence_findings(SimpleNamespace(summaries=[], specs=[], config=config, config_file=config_file),
                              root, named)
    spec_paths = list(config.spec_paths) if config else ["specs"]
    store.put(scope, {"config": [rc.diagnostic_json(d) for d in diags],
                      "packs": [rc.diagnostic_json(d) for d in packs], "spec_paths": spec_paths,
                      "config_file": config_file})
    return {"config": diags, "packs": packs, "spec_paths": spec_paths, "config_file": config_file}


def cached_lint(root: Path, paths: list[Path] | None, config_path: Path | None, jobs: int | None,
                env: Mapping[str, str]) -> tuple[Findings, int] | None:
    """(lint's findings, specs loaded this run), or None when the caller must lint without the cache."""
    if not rc.enabled(env):
        return None
    store = rc.ResultStore(root, env)
    scope, _ = _scope(root, config_path, env)
    store.open_pack(scope)
    run = _run_entry(store, scope, root, config_path, env)
    from engine.spec.spec_files import discover_names

    files = rc.spec_keys(discover_names(root, paths, run["spec_paths"]), root, scope)
    entries: dict[str, rc.SpecEntry] = {}
    sig = rc.Signatures(root)
    for _, shown, key in files:
        entry = rc.SpecEntry.read(store.get(key), shown, sig)
        if entry is not None:
            entries[shown] = entry
    missed = [(path, shown, key) for path, shown, key in files if shown not in entries]
    if missed:
        fresh = _load(root, missed, config_path, jobs, run["config_file"])
        if fresh is None:
            return None
        for (_, shown, key), (entry, uris) in zip(missed, fresh, strict=True):
            entries[shown] = entry
            store.put(key, entry.value(uris, sig.of(uris)))
    own, evidence, _ = rc.assemble([entries[shown] for _, shown, _ in files])
    state = _tracked_state(store, scope, root, env)  # a committed .govops/ would be read as state next checkout
    diagnostics = [*run["config"], *own, *state, *evidence, *run["packs"]]
    store.save_pack(scope)
    return Findings(diagnostics, models_checked=len(files), tool=TOOL), len(missed)


def _load(root: Path, missed: list[tuple[str, str, str]], config_path: Path | None, jobs: int | None,
          config_file: str) -> list[tuple[rc.SpecEntry, list[str]]] | None:
    """Entries (with the URIs each depends on) for the specs not in the cache, or None to lint without it."""
    from engine.policy.evidence_lint import no_evaluation_data
    from engine.spec.workspace import load_workspace

    by_file: dict[str, list[Diagnostic]] = {}
    summaries: dict[str, Any] = {}
    pending = missed
    config: Any = None
    while pending:  # a spec declaring the model of another in the same batch is loaded again, in the next
        ws = load_workspace(root, [Path(p) for p, _, _ in pending], config_path=config_path, jobs=jobs,
                            summarise=lint_summary)
        config = ws.config
        again = rc.file_findings(ws.diagnostics, config_file, by_file, pending)
        if again is None:
            return None  # a finding of no spec: lint without the cache
        summaries.update({s.file: s for s in ws.summaries})
        pending = [m for m in pending if m[1] in again]
    out: list[tuple[rc.SpecEntry, list[str]]] = []
    for _, shown, _ in missed:
        s = summaries.get(shown)
        if s is None:
            out.append((rc.SpecEntry(shown, by_file[shown], None, (1, 1), []), []))
            continue
        found = no_evaluation_data(s.id, s.file, s.extra["evidence"], config)
        out.append((rc.SpecEntry(shown, by_file[shown], s.id, s.name_position, [found] if found else []),
                    s.extra["uris"]))
    return out


def _index_signature(root: Path, env: Mapping[str, str]) -> str | None:
    """Size, mtime and inode of the Git index ``git ls-files`` reads for ``root``; None where it is not plain."""
    import os

    if any(k in env for k in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_COMMON_DIR")):
        return None
    for d in (root, *root.parents):
        dot = d / ".git"
        if dot.exists():
            if not dot.is_dir():
                return None  # a worktree or submodule: ask git
            try:
                st = os.stat(dot / "index")
            except OSError:
                return None
            return f"{d}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"
    return "no-repository"


def _tracked_state(store: rc.ResultStore, scope: str, root: Path, env: Mapping[str, str]) -> list[Diagnostic]:
    """``tracked_state(root)``, remembered while the Git index is the same file, unchanged."""
    from engine.spec.statedir import tracked_state

    index = _index_signature(root, env)
    if index is None:
        return tracked_state(root)
    key = rc.digest(scope, "tracked-state", index)
    try:
        return rc.diagnostics_from(store.get(key))
    except ValueError:
        found = tracked_state(root)
        store.put(key, [rc.diagnostic_json(d) for d in found])
        return found
