"""Where the gateway's routing table comes from: the rollout's live state, or a table file.

Serving stage. By default the table is the local rollout's state (``.govops/serving/state.json``:
roles and weights of every version as last rolled out) joined with its MLServer (``server.json``:
the base URL), read through the serving directory's contract (:mod:`engine.mlserver.local_serving`),
never by importing the rollout; the feature names used for the prediction log's ``in.<feature>``
columns come from the specs at the rolled-out commit (:mod:`engine.change.specs_at`).
``--table FILE`` (JSON or YAML, see :func:`engine.gateway.routing.table_from_data`) replaces all of that, e.g.
for MLServers this machine does not run. This module only reads files; a change is noticed by
:func:`fingerprint` (polled) or a reload call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.gateway.routing import RouteTable, table_from_data
from engine.mlserver.local_serving import ServingPaths, read_json, read_server
from engine.spec.errors import TableError


def watched_files(root: Path, table_file: Path | None) -> list[Path]:
    """The files whose change means a new routing table."""
    if table_file is not None:
        return [table_file]
    from engine.gateway.overrides import overrides_path

    paths = ServingPaths.for_repo(root)
    return [paths.state, paths.server, overrides_path(root)]


def fingerprint(files: list[Path]) -> tuple[tuple[int, int], ...]:
    """(mtime_ns, size) of each file, (0, 0) when missing: equal fingerprints, same table."""
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)


_INPUTS_CACHE: dict[tuple[str, str | None], dict[str, list[str]]] = {}


def _inputs_at(root: Path, commit: str | None) -> dict[str, list[str]]:
    """Model inputs (``spec.model_inputs()``) of every deployed model at ``commit`` (cached per commit)."""
    key = (str(root), commit)
    if key in _INPUTS_CACHE and commit is not None:
        return _INPUTS_CACHE[key]
    from engine.change.specs_at import WORKTREE, load_specs_at
    from engine.spec.errors import GovopsError

    try:
        at = load_specs_at(root, commit or WORKTREE)
        found = {s.id: s.spec.model_inputs() for s in sorted(at.specs, key=lambda s: s.id)
                 if s.spec.spec.deployment is not None}  # the deployed models, as the rollout's desired state
    except (GovopsError, OSError, ValueError):
        found = {}
    _INPUTS_CACHE[key] = found
    return found


def state_document(root: Path) -> dict[str, Any]:
    """The table document of the local rollout's live state (empty ``models`` when nothing is rolled out)."""
    paths = ServingPaths.for_repo(root)
    state = read_json(paths.state)
    server = read_server(paths)
    if not isinstance(state, dict) or not isinstance(state.get("models"), dict):
        return {"models": {}, "commit": None}
    commit = state.get("commit") if isinstance(state.get("commit"), str) else None
    inputs = _inputs_at(root, commit)
    models: dict[str, Any] = {}
    for model_id, entry in state["models"].items():
        versions = entry.get("versions") if isinstance(entry, dict) else None
        if not isinstance(versions, dict):
            continue
        models[model_id] = {
            "inputs": inputs.get(model_id, []),
            "versions": {
                vid: {"role": v.get("role"), **({"weight": v["weight"]} if v.get("weight") is not None else {})}
                for vid, v in versions.items()
                if isinstance(v, dict)
            },
        }
    return {"commit": commit, "upstream": server.url if server else None, "models": models}


def load_table(root: Path, table_file: Path | None = None) -> RouteTable:
    """The routing table: from ``table_file`` if given, else from the local rollout's state."""
    if table_file is not None:
        try:
            text = table_file.read_text()
        except OSError as exc:
            raise TableError(f"{table_file}: cannot read the routing table ({exc.strerror or exc})") from exc
        if table_file.suffix in (".yaml", ".yml"):
            from engine.spec.loader import YamlError, parse_yaml

            try:
                doc: Any = parse_yaml(text, str(table_file)).data
            except YamlError as exc:
                raise TableError(exc.render()) from exc
        else:
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise TableError(f"{table_file}: not valid JSON ({exc})") from exc
        return table_from_data(doc, source=str(table_file))
    from engine.gateway.overrides import apply_overrides, read_overrides

    doc = apply_overrides(state_document(root), read_overrides(root))
    if doc.get("models") and not doc.get("upstream"):
        raise TableError("the rollout state names models but no MLServer is recorded (run govops serve/rollout)")
    return table_from_data(doc, source=str(ServingPaths.for_repo(root).state))
