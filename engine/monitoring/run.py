"""One monitoring pass: every deployed model's window → metrics → health → alerts → shutdown → state.

Monitoring stage, the orchestration. For each deployed model with a ``monitoring``
section: read the window of logged predictions (and feedback), load the champion's
reference profile (built once if missing), compute the six metric kinds, the health
score, reconcile alerts (one per model, metric and severity), shut the model down when
it is critical and auto-shutdown is enabled, and record everything in
``.govops/monitoring/state.json``. Failed sends from earlier passes are retried first.
An invalid spec entry (a KPI expression outside the language) is reported at its
``file:line:col`` and that model is skipped; other models are still monitored. Fails
closed: a model that cannot be measured (its spec no longer loads, or holds an invalid
KPI) is an error of the pass and gets a critical ``monitoring.blind`` alert; it never
silently drops out (see :mod:`engine.monitoring.blind`).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.gateway.overrides import clear_settled, read_overrides
from engine.monitoring import kpi
from engine.monitoring.alerts import Alert
from engine.monitoring.alerts.manager import AlertManager, parse_duration
from engine.monitoring.alerts.outbox import Outbox
from engine.monitoring.alerts.secrets import SecretStore, tenant_secrets_of
from engine.monitoring.blind import Blind, channel_data, find_blind, still_firing
from engine.monitoring.health import Health, health
from engine.monitoring.kinds import KINDS
from engine.monitoring.kinds.base import KindContext
from engine.monitoring.logread import log_dir as default_log_dir
from engine.monitoring.logread import read_predictions
from engine.monitoring.measure import Measured
from engine.monitoring.shutdown import shutdown
from engine.monitoring.state import locked, read_state, state_dir, update_models
from engine.monitoring.window import Window
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import GovopsError, InputError
from engine.spec.workspace import LoadedSpec, load_workspace
from engine.validation.profile import ensure_profile


@dataclass
class ModelReport:
    """The outcome of one pass for one model."""

    model: str
    rows: int = 0
    window: dict[str, Any] = field(default_factory=dict)
    measured: list[Measured] = field(default_factory=list)
    health: Health | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    shutdown: dict[str, Any] | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def flags(self) -> list[str]:
        """Failing gated metrics, plus ``health`` when red."""
        out = list(self.health.failing) if self.health else []
        return out + (["health"] if self.health is not None and self.health.red else [])

    def to_data(self) -> dict[str, Any]:
        """JSON form (``govops monitor --format json`` and the state file)."""
        return {
            "model": self.model, "rows": self.rows, "window": self.window,
            "health": self.health.to_data() if self.health else None, "flags": self.flags,
            "metrics": [m.to_data() for m in self.measured], "alerts": self.alerts,
            "shutdown": self.shutdown, "error": self.error, "details": self.details,
        }


@dataclass
class MonitorRun:
    """Everything one pass did."""

    at: str
    models: list[ModelReport]
    outbox: dict[str, int]
    errors: list[GovopsError] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        """JSON form."""
        return {"at": self.at, "models": [m.to_data() for m in self.models], "outbox": self.outbox,
                "errors": [e.render() for e in self.errors]}


def _check_kpis(loaded: LoadedSpec) -> None:
    mon = loaded.spec.spec.monitoring
    for i, k in enumerate(mon.thresholds.kpis if mon else []):
        try:
            kpi.parse(k.expression)
        except kpi.KpiError as exc:
            line, col = loaded.doc.position(("spec", "monitoring", "thresholds", "kpis", i, "expression"))
            raise InputError(f"KPI '{k.name}': {exc}", file=loaded.file, line=line, col=col) from exc


def firing_alerts(report: ModelReport, at: str) -> list[Alert]:
    """Warnings for gated metrics outside their bounds; a critical alert when health is below the minimum."""
    out: list[Alert] = []
    score = report.health.score if report.health else None
    for m in report.measured:
        if m.gate and m.passed is False:
            out.append(Alert(report.model, m.key, "warning", "firing", f"{m.describe()}", at, m.value,
                             m.bound_text(), score, {"window": report.window}))
    if report.health is not None and report.health.red:
        h = report.health
        out.append(Alert(report.model, "health", "critical", "firing",
                         f"health {h.score:.2f} below minimum {h.minimum:g}" + (
                             f" (failing: {', '.join(h.failing[:6])})" if h.failing else ""),
                         at, h.score, f">= {h.minimum:g}", h.score, {"kinds": h.kinds, "window": report.window}))
    return out


def measure_model(loaded: LoadedSpec, root: Path, logs: Path, since_ns: int, until_ns: int) -> ModelReport:
    """Metrics and health of one model over ``[since_ns, until_ns)`` (no alerts, no actions)."""
    spec = loaded.spec
    report = ModelReport(spec.id)
    _check_kpis(loaded)
    dep = spec.spec.deployment
    assert dep is not None
    table = read_predictions(logs, spec.id, since_ns, until_ns)
    fb = read_feedback_any(logs, spec.id, since_ns, until_ns)
    window = Window(spec.id, since_ns, until_ns, table, fb)
    report.rows = window.rows
    report.window = {"since": _iso_ns(since_ns), "until": _iso_ns(until_ns), "rows": window.rows}
    profile = ensure_profile(root, spec, dep.champion) if spec.spec.validation is not None else None
    ctx = KindContext(spec, window, profile)
    for name, fn in KINDS.items():
        try:
            report.measured.extend(fn(ctx))
        except kpi.KpiError as exc:
            line, col = loaded.doc.position(("spec", "monitoring", "thresholds", "kpis"))
            raise InputError(f"KPI evaluation failed: {exc}", file=loaded.file, line=line, col=col) from exc
        except (ValueError, KeyError, TypeError) as exc:  # a malformed log column must not stop the pass
            report.details.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: {exc}")
    report.details.update(ctx.details)
    report.health = health(spec, report.measured)
    return report


def read_feedback_any(logs: Path, model: str, since_ns: int, until_ns: int) -> Any:
    """Every feedback column that arrived in the window (``engine.gateway.predlog``), or ``None``."""
    from engine.gateway.predlog import read_feedback as pl_read_feedback

    table = pl_read_feedback(logs, model, since_ns, until_ns)
    return table if table.num_rows else None


def monitor_once(root: Path, *, window: str | None = None, models: list[str] | None = None,
                 now_ns: int | None = None, log_dir: Path | None = None, act: bool = True,
                 jobs: int | None = None) -> MonitorRun:
    """One pass over the repository's deployed, monitored models (``jobs`` threads measure them)."""
    ws = load_workspace(root)
    if ws.config is None:
        raise InputError("no govops.yaml: monitoring needs the repository's governance config", file=str(root))
    until = now_ns if now_ns is not None else time.time_ns()
    logs = log_dir or default_log_dir(root)
    by_id = ws.by_id()
    previous = read_state(root)["models"]
    blind = find_blind(ws, root, previous)
    if models:
        blind = [b for b in blind if b.model in models or b.model == b.file]  # an unknown id may be any model
        unknown = [m for m in models if m not in by_id and m not in {b.model for b in blind}]
        if unknown:
            raise InputError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(by_id)) or 'none'}")
    selected = [by_id[m] for m in (models or sorted(by_id)) if m in by_id
                and by_id[m].spec.spec.deployment is not None and by_id[m].spec.spec.monitoring is not None]
    folder = state_dir(root)
    secrets = SecretStore(root, ws.config.secrets.file, tenant_secrets=tenant_secrets_of(ws.config))
    run = MonitorRun(_iso_ns(until), [], {})
    with locked(root):
        outbox = Outbox(folder, secrets)
        delivered, pending = outbox.flush() if act else (0, len(outbox.entries()))
        run.outbox = {"delivered": delivered, "pending": pending}
        manager = AlertManager(folder, outbox)
        clear_settled(root, {s.id: s.spec for s in ws.specs})
        overrides = read_overrides(root)
        entries: dict[str, dict[str, Any]] = {}

        def measure(loaded: LoadedSpec) -> ModelReport | GovopsError:
            mon = loaded.spec.spec.monitoring
            assert mon is not None
            since = until - int(parse_duration(window or mon.window) * 1e9)
            try:
                return measure_model(loaded, root, logs, since, until)
            except GovopsError as exc:
                return exc

        # models are measured in threads (numpy and Arrow release the GIL); actions stay in order
        with ThreadPoolExecutor(max_workers=max(1, min(jobs or os.cpu_count() or 1, len(selected) or 1))) as pool:
            measured = list(pool.map(measure, selected))
        for loaded, outcome in zip(selected, measured, strict=True):
            mon = loaded.spec.spec.monitoring
            assert mon is not None
            if isinstance(outcome, GovopsError):  # an invalid KPI: blind, and said so
                d = Diagnostic(outcome.file or loaded.file, outcome.line or 1, outcome.col or 1, "monitoring/kpi",
                               outcome.message, model=loaded.id)
                b = Blind(loaded.id, loaded.file, [d], list(mon.channels))
                _report_blind(b, outcome, run, manager, entries, previous, act=act, until=until)
                continue
            report = outcome
            if act:
                sent = manager.reconcile(loaded.id, firing_alerts(report, run.at), list(mon.channels),
                                         now=until / 1e9)
                report.alerts = sent.sent
                if (report.health is not None and report.health.is_critical and loaded.id not in overrides):
                    res = shutdown(root, loaded.spec, loaded.file, report.health, report.measured, report.window)
                    report.shutdown = res.to_data()
            run.models.append(report)
            prev_alert = report.alerts[-1] if report.alerts else None
            entries[loaded.id] = {
                "updated": run.at, "window": report.window, "rows": report.rows,
                "health": report.health.to_data() if report.health else None, "flags": report.flags,
                "metrics": [m.to_data() for m in report.measured], "details": report.details,
                "last_alert": prev_alert,
                "shutdown": report.shutdown or overrides.get(loaded.id),
                "file": loaded.file, "channels": channel_data(list(mon.channels)), "blind": None,
            }
        for b in blind:
            _report_blind(b, b.error(), run, manager, entries, previous, act=act, until=until)
        _keep_last_alert(root, entries)
        update_models(root, entries)
    return run


def _report_blind(b: Blind, error: GovopsError, run: MonitorRun, manager: AlertManager,
                  entries: dict[str, dict[str, Any]], previous: dict[str, Any], *, act: bool, until: int) -> None:
    """A model this pass could not measure: an error, a critical alert, and a state entry that says so.

    Its other firing alerts stay firing (a blind model is not a recovered one), and its last
    known health stays in the state file beside ``blind``.
    """
    run.errors.append(error)
    report = ModelReport(b.model, error=error.render(), details={"blind": True, "file": b.file})
    if act:
        firing = [b.alert(run.at), *still_firing(manager.active(), b.model, run.at)]
        report.alerts = manager.reconcile(b.model, firing, b.channels, now=until / 1e9).sent
    run.models.append(report)
    old = previous.get(b.model) or {}
    flags = [f for f in old.get("flags", []) if f != "monitoring.blind"] + ["monitoring.blind"]
    entries[b.model] = {**old, "updated": run.at, "flags": flags, "file": b.file,
                        "blind": {"since": (old.get("blind") or {}).get("since", run.at), "error": error.render()},
                        "last_alert": (report.alerts[-1] if report.alerts else None)}


def _keep_last_alert(root: Path, entries: dict[str, dict[str, Any]]) -> None:
    from engine.monitoring.state import read_state

    old = read_state(root)["models"]
    for model, e in entries.items():
        if e["last_alert"] is None and model in old:
            e["last_alert"] = old[model].get("last_alert")


def _iso_ns(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="seconds")
