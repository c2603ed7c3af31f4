"""The local target (embedded default): a supervised MLServer on this machine.

Merge stage. govops materialises a model repository under ``.govops/serving/`` (one
folder and one ``model-settings.json`` per model *version*; MLServer model name
``tenant--name``), and changes what serves through MLServer's repository API. Order of
a rollout, written ahead in a journal so a killed rollout is undone or completed by the
next one:

1. every new artifact is verified against its sha256 and staged; nothing is loaded if
   any fails;
2. the staged folders enter the repository and their models are (re)loaded;
3. each new version must be ready and answer a smoke inference on real rows;
4. only then is the new state committed (roles move: this is the traffic switch);
5. after a short drain, versions no longer desired (and removed models) are unloaded.

A failure before step 4 unloads the new versions and restores the previous repository,
so the previous state keeps serving. This module must never unload a serving version
before its replacements are healthy.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.mlserver.client import MLServerClient, MLServerError
from engine.mlserver.local_serving import (
    ServerInfo,
    ServingPaths,
    notify_reload,
    read_gateway_state,
    read_json,
    write_json,
)
from engine.mlserver.settings import mlserver_name
from engine.rollout.desired import DesiredState
from engine.rollout.diff import Change, LiveState, LiveVersion, plan_changes, render_diff
from engine.rollout.health import HealthResult, check_version, smoke_rows
from engine.rollout.journal import (
    PHASE_COMMITTED,
    PHASE_STAGING,
    clear_journal,
    read_journal,
    rollout_lock,
    write_journal,
)
from engine.rollout.materialise import ArtifactError, read_record, stage_version
from engine.rollout.serving import rehash_served, running_server, start_server, stop_server, stray_entries
from engine.rollout.targets import RolloutResult
from engine.spec.errors import GovernanceFailure
from engine.spec.settings import get_settings


class RolloutFailure(GovernanceFailure):
    """The rollout did not happen; the previous state keeps serving (exit 1)."""


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class _Attempt:
    """One ``LocalTarget.apply``: the result it fills, its MLServer client, clock, id and journal."""

    result: RolloutResult
    client: MLServerClient
    t0: float
    rid: str
    journal: dict[str, Any] = field(default_factory=dict)

    def step(self, kind: str, model: str = "", version: str = "", ok: bool = True, **extra: Any) -> None:
        """Record one step of the rollout, with the seconds since it began."""
        self.result.steps.append(
            {"step": kind, "model": model, "version": version, "ok": ok,
             "t": round(time.monotonic() - self.t0, 3), **extra}
        )


class LocalTarget:
    """Roll the desired state out to the local, supervised MLServer."""

    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        http_port: int | None = None,
        drain_s: float | None = None,
        ready_timeout_s: float = 30.0,
        on_phase: Callable[[str], None] | None = None,
        **_ignored: Any,
    ) -> None:
        self.root = root.resolve()
        self.paths = ServingPaths.for_repo(self.root)
        self.http_port = http_port
        self.drain_s = drain_s if drain_s is not None else get_settings().rollout_drain_s
        self.ready_timeout_s = ready_timeout_s
        self.on_phase = on_phase
        self.server: ServerInfo | None = None
        self.notes: list[str] = []

    # -- session: lock, recovery, server --------------------------------------------------------
    @contextlib.contextmanager
    def session(self, dry_run: bool = False) -> Iterator[None]:
        """Hold the rollout lock, finish or undo an interrupted rollout, make sure MLServer runs.

        A dry run only looks: no lock, no recovery, no server start.
        """
        if dry_run:
            self.server = running_server(self.paths)
            yield
            return
        self.paths.ensure()
        with rollout_lock(self.paths.lock):
            self._phase("locked")
            self.server = running_server(self.paths)
            self.recover()
            self._clear_staging()
            self._remove_strays()
            if self.server is None:
                self.server, started = start_server(self.paths, http_port=self.http_port)
                if started:
                    self.notes.append(f"started MLServer at {self.server.url} (pid {self.server.pid})")
                    _say(self.notes[-1])
            yield

    def _clear_staging(self) -> None:
        """Remove every staged folder: with the lock held and any journal recovered, none belongs to a live rollout.

        A rollout killed after its journal reached ``committed`` is completed by ``recover``,
        which has no use for its staged copies; without this they would stay on disk for good.
        """
        if self.paths.staging.is_dir() and not self.paths.staging.is_symlink():  # never follow a planted link
            for child in self.paths.staging.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def _remove_strays(self) -> None:
        """Remove what govops did not write in the model repository, before MLServer (re)reads it.

        A stray may already be loaded (a folder naming a served version, a module the
        runtime imported): the running server is then stopped, so the one started next
        reads the clean repository.
        """
        strays = stray_entries(self.paths)
        for path in strays:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            self.notes.append(f"warning: removed {path} from the model repository: govops did not write it")
            _say(self.notes[-1])
        if strays and self.server is not None:
            stop_server(self.paths)
            self.server = None
            self.notes.append("stopped MLServer: it may have read the removed files; starting it again")
            _say(self.notes[-1])

    def _phase(self, name: str) -> None:
        if self.on_phase is not None:
            self.on_phase(name)

    def _client(self) -> MLServerClient | None:
        return MLServerClient(self.server.url) if self.server is not None else None

    def recover(self) -> str | None:
        """Undo (before its commit) or complete (after it) a rollout whose journal was left behind."""
        journal = read_journal(self.paths.journal)
        if journal is None:
            return None
        client = self._client()
        try:
            if journal.get("phase") == PHASE_COMMITTED:
                write_json(self.paths.state, journal["state"])
                self._retire(journal, client)
                what = "completed"
            else:
                self._undo(journal, client)
                what = "undid"
        finally:
            if client is not None:
                client.close()
        clear_journal(self.paths.journal)
        msg = (
            f"recovered: {what} the interrupted rollout {journal.get('id')} "
            f"(pid {journal.get('pid')}, commit {str(journal.get('commit'))[:12]})"
        )
        self.notes.append(msg)
        _say(msg)
        return msg

    # -- live state -------------------------------------------------------------------------------
    def live(self, desired: DesiredState | None = None) -> LiveState:
        """The versions in the model repository, their recorded roles, and their readiness."""
        state = read_json(self.paths.state) or {}
        roles: dict[str, Any] = state.get("models", {}) if isinstance(state, dict) else {}
        live = LiveState(commit=state.get("commit"), digest=state.get("digest"))
        client = self._client()
        # re-hash what serves: a file swapped under the repository is not the version govops.json names
        found = rehash_served(self.paths, desired, exact=False)
        tampered = {(m.model, m.version): m for m in found if m.model != "-"}
        for m in found:
            msg = f"warning: {m.message()}; " + ("it will be replaced" if m.model != "-" else "a rollout removes it")
            self.notes.append(msg)
            _say(msg)
        try:
            for folder in self._version_folders():
                rec = read_record(folder)
                if rec is None:
                    continue
                model, version = str(rec["model"]), str(rec["version"])
                role = roles.get(model, {}).get("versions", {}).get(version, {})
                ready = client.is_ready(mlserver_name(model), version) if client is not None else None
                live.models.setdefault(model, {})[version] = LiveVersion(
                    model=model,
                    version=version,
                    role=role.get("role"),
                    weight=role.get("weight"),
                    artifact_uri=rec.get("artifact_uri"),
                    sha256=tampered[(model, version)].actual if (model, version) in tampered else rec.get("sha256"),
                    runtime=rec.get("runtime"),
                    settings=rec.get("settings") or {},
                    ready=ready,
                )
        finally:
            if client is not None:
                client.close()
        return live

    def _version_folders(self) -> list[Path]:
        repo = self.paths.repository
        if not repo.is_dir():
            return []
        return sorted(v for n in repo.iterdir() if n.is_dir() for v in n.iterdir() if v.is_dir())

    def diff(self, desired: DesiredState, live: LiveState) -> tuple[str, list[Change]]:
        """The kubectl-diff-like text and the changes."""
        changes = plan_changes(desired, live)
        return render_diff(desired, live, changes), changes

    # -- apply --------------------------------------------------------------------------------------
    def apply(self, desired: DesiredState, live: LiveState, changes: list[Change]) -> RolloutResult:
        """Roll out ``changes`` (from :meth:`diff`) health-gated; never raises for a failed version.

        The numbered steps are the module docstring's; each is one method below.
        """
        result = RolloutResult(target=self.name, outcome="in-sync", changes=list(changes))
        if self.notes:
            result.details["notes"] = list(self.notes)
        new_state = self._state_doc(desired)
        if not changes:
            if read_json(self.paths.state) != new_state:
                write_json(self.paths.state, new_state)  # same roles; records the commit now in sync
            return result
        assert self.server is not None, "apply() runs inside session()"
        run = _Attempt(result, MLServerClient(self.server.url), time.monotonic(), uuid.uuid4().hex[:12])
        loads = [c for c in changes if c.action in ("load", "replace")]
        unloads = [c for c in changes if c.action == "unload"]
        run.journal = self._begin_journal(desired, run.rid, unloads, new_state)
        try:
            # 1. verify and stage every artifact; nothing enters the repository if one fails
            staged = self._stage(run, desired, loads)
            # 2. move them in (journal first), then (re)load each model once
            self._move_in(run, staged)
            load_errors = self._load(run, loads)
            # 3. health: ready + smoke inference on each new version
            failures = self._check_health(run, desired, loads, load_errors)
            if failures:
                return self._roll_back(run, live, failures)
            # 4. commit: roles move to the new versions
            self._commit(run, desired, new_state)
            # 5. drain, then retire what is no longer desired (removed models last of all)
            self._retire_unloads(run, unloads)
            result.outcome = "succeeded"
            serving = sum(len(m.versions) for m in desired.models.values())
            result.message = (
                f"{len(changes)} change(s) applied; {serving} version(s) of {len(desired.models)} model(s) serve"
            )
            return result
        except ArtifactError as exc:
            return self._abort_on_artifact(run, exc)
        except MLServerError as exc:
            return self._abort_on_server(run, exc)
        finally:
            run.client.close()
            shutil.rmtree(self.paths.staging / run.rid, ignore_errors=True)

    def _begin_journal(
        self, desired: DesiredState, rid: str, unloads: list[Change], new_state: dict[str, Any]
    ) -> dict[str, Any]:
        """The rollout's journal, written before anything moves (a killed rollout is undone from it)."""
        journal: dict[str, Any] = {
            "id": rid,
            "pid": os.getpid(),
            "started": time.time(),
            "ref": desired.ref,
            "commit": desired.commit,
            "digest": desired.digest,
            "phase": PHASE_STAGING,
            "staging": str(self.paths.staging / rid),
            "staged": [],
            "retire": [{"name": mlserver_name(c.model), "model": c.model, "version": c.version} for c in unloads],
            "state": new_state,
        }
        write_journal(self.paths.journal, journal)
        return journal

    def _stage(self, run: _Attempt, desired: DesiredState, loads: list[Change]) -> list[tuple[Change, Path]]:
        """Step 1: verify and stage every artifact (an ``ArtifactError`` stops the rollout before any move)."""
        staged: list[tuple[Change, Path]] = []
        for c in loads:
            version = desired.models[c.model].version(c.version)
            assert version is not None
            staged.append((c, stage_version(version, self.root, self.paths.staging / run.rid)))
            run.step("stage", c.model, c.version, sha256=version.sha256)
        self._phase("staged")
        return staged

    def _move_in(self, run: _Attempt, staged: list[tuple[Change, Path]]) -> None:
        """Step 2a: each staged folder enters the repository, the one it replaces kept as a backup (journal first)."""
        for c, folder in staged:
            name = mlserver_name(c.model)
            dest = self.paths.version_dir(name, c.version)
            backup = None
            if dest.exists():
                backup = str(self.paths.backup / run.rid / f"{name}@{c.version}")
            run.journal["staged"].append({"name": name, "model": c.model, "version": c.version, "backup": backup})
            write_journal(self.paths.journal, run.journal)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if backup is not None:
                Path(backup).parent.mkdir(parents=True, exist_ok=True)
                os.replace(dest, backup)
            os.replace(folder, dest)
        self._phase("materialised")

    def _load(self, run: _Attempt, loads: list[Change]) -> dict[str, str]:
        """Step 2b: (re)load each model once; the load errors by MLServer name (a dead server raises)."""
        load_errors: dict[str, str] = {}
        for name in dict.fromkeys(mlserver_name(c.model) for c in loads):
            try:
                run.client.load(name)
                run.step("load", name=name)
            except MLServerError as exc:
                if not run.client.live():
                    raise
                load_errors[name] = exc.message
                run.step("load", name=name, ok=False, error=exc.message)
        self._phase("loaded")
        return load_errors

    def _check_health(
        self, run: _Attempt, desired: DesiredState, loads: list[Change], load_errors: dict[str, str]
    ) -> list[HealthResult]:
        """Step 3: ready + smoke inference on each new version; the versions that failed."""
        failures: list[HealthResult] = []
        rows_cache: dict[str, tuple[np.ndarray | None, str | None]] = {}
        for c in loads:
            model = desired.models[c.model]
            if c.model not in rows_cache:
                try:
                    rows_cache[c.model] = (smoke_rows(model, self.root), None)
                except (ValueError, OSError) as exc:
                    rows_cache[c.model] = (None, str(exc))
            rows, rows_error = rows_cache[c.model]
            timeout = 0.5 if mlserver_name(c.model) in load_errors else self.ready_timeout_s
            health = check_version(run.client, model, c.version, rows, rows_error, ready_timeout_s=timeout)
            if not health.ready and mlserver_name(c.model) in load_errors:
                health.reason = f"failed to load: {load_errors[mlserver_name(c.model)]}"
            run.result.health.append(health.to_data())
            run.step("check", c.model, c.version, ok=health.ok, reason=health.reason)
            if not health.ok:
                if not run.client.live():
                    raise MLServerError(f"MLServer at {run.client.url} stopped answering during the health checks")
                failures.append(health)
        self._phase("checked")
        return failures

    def _roll_back(self, run: _Attempt, live: LiveState, failures: list[HealthResult]) -> RolloutResult:
        """A new version failed its health check: restore the previous repository; it keeps serving."""
        result = run.result
        self._undo(run.journal, run.client)
        hint = self._log_hint()
        for f in failures:
            if f.ready and hint:
                f.reason += hint
                for h in result.health:
                    if (h["model"], h["version"]) == (f.model, f.version):
                        h["reason"] = f.reason
        clear_journal(self.paths.journal)
        run.step("rollback", ok=True)
        result.outcome = "failed"
        result.message = "; ".join(f"{f.model} {f.version}: {f.reason}" for f in failures)
        result.details["previous_still_serving"] = self._still_serving(live, run.client)
        return result

    def _commit(self, run: _Attempt, desired: DesiredState, new_state: dict[str, Any]) -> None:
        """Step 4: the roles move to the new versions (the traffic switch); a running gateway is told."""
        run.journal["phase"] = PHASE_COMMITTED
        write_journal(self.paths.journal, run.journal)
        write_json(self.paths.state, new_state)
        run.step("commit", digest=desired.digest)
        gateway = self._notify_gateway()
        if gateway is not None:
            run.step("gateway", detail=gateway)
        self._phase("committed")

    def _retire_unloads(self, run: _Attempt, unloads: list[Change]) -> None:
        """Step 5: after the drain, unload what is no longer desired and drop the backups."""
        if unloads and self.drain_s > 0:
            time.sleep(self.drain_s)
        self._retire(run.journal, run.client)
        for c in unloads:
            gone = not run.client.is_ready(mlserver_name(c.model), c.version)
            run.step("unload", c.model, c.version, ok=gone)
        shutil.rmtree(self.paths.backup / run.rid, ignore_errors=True)
        clear_journal(self.paths.journal)
        self._phase("retired")

    def _abort_on_artifact(self, run: _Attempt, exc: ArtifactError) -> RolloutResult:
        """An artifact failed its check: undo what was staged; the previous state keeps serving."""
        self._undo(run.journal, run.client)
        clear_journal(self.paths.journal)
        run.step("rollback", ok=True)
        run.result.outcome = "failed"
        run.result.message = exc.message
        return run.result

    def _abort_on_server(self, run: _Attempt, exc: MLServerError) -> RolloutResult:
        """MLServer failed: before the commit undo, after it complete; the next rollout converges."""
        alive = run.client.live()
        if run.journal["phase"] == PHASE_STAGING:
            self._undo(run.journal, run.client if alive else None)
            clear_journal(self.paths.journal)
            what = "the repository was restored to the previous state"
        else:
            self._retire(run.journal, run.client if alive else None)
            clear_journal(self.paths.journal)
            what = "the new state was committed to the repository"
        run.result.outcome = "failed"
        run.result.message = (
            f"{exc.message}; MLServer {'is still running' if alive else 'is not running'}: {what}; "
            "the next `govops rollout` restarts it if needed and converges"
        )
        return run.result

    # -- helpers ------------------------------------------------------------------------------------
    def _state_doc(self, desired: DesiredState) -> dict[str, Any]:
        return {
            "ref": desired.ref,
            "commit": desired.commit,
            "digest": desired.digest,
            "models": {
                m.model: {
                    "name": mlserver_name(m.model),
                    "environment": m.environment,
                    "versions": {v.version: {"role": v.role, "weight": v.weight} for v in m.versions},
                }
                for m in desired.models.values()
            },
        }

    def _sync(self, name: str, client: MLServerClient | None) -> None:
        """Make MLServer serve exactly the versions of ``name`` on disk."""
        folder = self.paths.repository / name
        versions = [v for v in folder.iterdir() if v.is_dir()] if folder.is_dir() else []
        if not versions and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        if client is None:
            return
        if versions:
            client.load(name)
        else:
            client.unload(name)

    def _undo(self, journal: dict[str, Any], client: MLServerClient | None) -> None:
        names: list[str] = []
        for entry in reversed(journal.get("staged", [])):
            dest = self.paths.version_dir(entry["name"], entry["version"])
            if dest.exists():
                shutil.rmtree(dest)
            backup = entry.get("backup")
            if backup and Path(backup).exists():
                os.replace(backup, dest)
            names.append(entry["name"])
        shutil.rmtree(journal.get("staging") or self.paths.staging / "none", ignore_errors=True)
        for name in dict.fromkeys(names):
            with contextlib.suppress(MLServerError):
                self._sync(name, client)

    def _retire(self, journal: dict[str, Any], client: MLServerClient | None) -> None:
        names: list[str] = []
        for entry in journal.get("retire", []):
            dest = self.paths.version_dir(entry["name"], entry["version"])
            if dest.exists():
                shutil.rmtree(dest)
            names.append(entry["name"])
        for name in dict.fromkeys(names):
            self._sync(name, client)
        shutil.rmtree(self.paths.backup / str(journal.get("id")), ignore_errors=True)

    def _notify_gateway(self) -> str | None:
        """Ask a running gateway to reload its routes now (it also polls the state); ``None`` if none runs.

        Through the handshake file only (:mod:`engine.mlserver.local_serving`): the rollout never
        imports the gateway.
        """
        if not self.paths.gateway_state.exists() or read_gateway_state(self.root) is None:
            return None
        return notify_reload(self.root)

    def _gateway_url(self) -> str | None:
        if not self.paths.gateway_state.exists():
            return None
        doc = read_gateway_state(self.root)
        return str(doc["url"]) if doc and doc.get("url") else None

    def _log_hint(self) -> str:
        """The last exception line MLServer logged (its HTTP 500 answers carry no detail)."""
        try:
            lines = self.paths.log.read_text(errors="replace").splitlines()[-300:]
        except OSError:
            return ""
        errors = [ln.strip() for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception): ", ln.strip())]
        return f" (MLServer log: {errors[-1][:300]})" if errors else ""

    def _still_serving(self, live: LiveState, client: MLServerClient) -> dict[str, bool]:
        return {
            f"{m} {v}": client.is_ready(mlserver_name(m), v)
            for m, versions in live.models.items()
            for v in versions
        }

    # -- status ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Every served version with its role, Open Inference Protocol URL and readiness."""
        server = running_server(self.paths)
        self.server = server
        live = self.live()
        state = read_json(self.paths.state) or {}
        versions = []
        for model_id in sorted(live.models):
            for vid, v in sorted(live.models[model_id].items()):
                name = mlserver_name(model_id)
                versions.append(
                    {
                        "model": model_id,
                        "version": vid,
                        "role": v.role,
                        "weight": v.weight,
                        "mlserver_name": name,
                        "url": f"{server.url}/v2/models/{name}/versions/{vid}" if server else None,
                        "ready": bool(v.ready),
                        "sha256": v.sha256,
                    }
                )
        return {
            "target": self.name,
            "server": (
                {"url": server.url, "pid": server.pid, "running": True, "http_port": server.http_port,
                 "grpc_port": server.grpc_port, "metrics_port": server.metrics_port}
                if server else {"url": None, "pid": None, "running": False}
            ),
            "gateway_url": self._gateway_url(),
            "commit": state.get("commit"),
            "digest": state.get("digest"),
            "rollout_in_progress": self.paths.journal.exists(),
            "versions": versions,
        }
