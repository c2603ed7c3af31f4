"""Monitoring blind spots: spec files on main that no longer load, so their models go unwatched.

Monitoring stage, input side. A spec that stops loading (a ``champoin:`` typo, a YAML
error) must never make its model vanish from monitoring: a RED model would drop out of
the pass, with exit 0 and nothing on stderr. Every spec file with an error diagnostic that
produced no model is a blind spot: reported at the diagnostic's ``file:line:col``, and
alerted (``monitoring.blind``, critical) to the channels the model was last monitored
with (from the state file), else to the channels the broken file still names. Which
model it is comes from the state file's record of which file held which model, else from
the loader's guess (``metadata.tenant``/``name``), else the file itself stands for it.

This module never sends anything and never decides that a broken spec is harmless: a
typo in ``monitoring:`` itself must not read as "this model is not monitored".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.monitoring.alerts import Alert
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import GovopsError, InputError
from engine.spec.loader import YamlError, load_yaml_file
from engine.spec.model import Channel
from engine.spec.workspace import Workspace

METRIC = "monitoring.blind"
_CHANNEL = TypeAdapter(Channel)


@dataclass
class Blind:
    """A model (or a file standing for it) that this pass could not monitor, and why."""

    model: str
    file: str
    diagnostics: list[Diagnostic]
    channels: list[Any] = field(default_factory=list)

    @property
    def first(self) -> Diagnostic:
        """The first error: where the message points."""
        return self.diagnostics[0]

    def error(self) -> GovopsError:
        """The error printed on stderr (``file:line:col: error: monitoring blind: ...``)."""
        d = self.first
        rest = [f"{x.line}:{x.col}: {x.message} [{x.rule}]" for x in self.diagnostics[1:4]]
        more = f"; also {'; '.join(rest)}" if rest else ""
        more += f" (and {len(self.diagnostics) - 4} more)" if len(self.diagnostics) > 4 else ""
        return InputError(
            f"monitoring blind: {self.model} is not monitored because its spec does not load: "
            f"{d.message} [{d.rule}]{more} (fix the spec on main; `govops lint` lists every error)",
            file=d.file, line=d.line, col=d.col,
        )

    def alert(self, at: str) -> Alert:
        """The critical ``monitoring.blind`` alert."""
        d = self.first
        return Alert(
            self.model, METRIC, "critical", "firing",
            f"monitoring blind: the spec {d.file}:{d.line}:{d.col} does not load ({d.message}); "
            "this model is not being monitored",
            at, details={"file": d.file, "line": d.line, "col": d.col, "rule": d.rule,
                         "errors": [x.render() for x in self.diagnostics[:5]]},
        )


def channels_of(data: Any) -> list[Any]:
    """The valid channels among ``spec.monitoring.channels`` of raw (possibly invalid) spec data."""
    if not isinstance(data, dict):
        return []
    spec = data.get("spec")
    mon = spec.get("monitoring") if isinstance(spec, dict) else None
    raw = mon.get("channels") if isinstance(mon, dict) else None
    out: list[Any] = []
    for item in raw if isinstance(raw, list) else []:
        try:
            out.append(_CHANNEL.validate_python(item))
        except ValidationError:
            continue
    return out


def channel_data(channels: list[Any]) -> list[dict[str, Any]]:
    """Channels as JSON for the state file (secret *names* only, never values)."""
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in channels]


def find_blind(ws: Workspace, root: Path, state: dict[str, dict[str, Any]]) -> list[Blind]:
    """Every spec file with an error that yielded no model, as a blind spot (sorted by file)."""
    loaded = {s.file for s in ws.specs}
    by_file: dict[str, list[Diagnostic]] = {}
    for d in ws.diagnostics:
        if d.severity == "error" and d.file != ws.config_file and d.file not in loaded:
            by_file.setdefault(d.file, []).append(d)
    known = {str(e.get("file")): m for m, e in state.items() if isinstance(e, dict) and e.get("file")}
    out: list[Blind] = []
    for file, diags in sorted(by_file.items()):
        if any(d.rule == "spec/duplicate-id" for d in diags):
            continue  # the id is monitored from its first file; lint reports the duplicate
        # what was monitored from this file wins over the broken file's own (maybe misspelt) metadata
        model = known.get(file) or next((d.model for d in diags if d.model), None) or file
        entry = state.get(model) or {}
        channels = channels_of({"spec": {"monitoring": {"channels": entry.get("channels")}}})
        if not channels:
            try:
                channels = channels_of(load_yaml_file(root / file, file).data)
            except (YamlError, OSError, GovopsError):
                channels = []
        out.append(Blind(model, file, sorted(diags), channels))
    return out


def still_firing(active: dict[str, dict[str, Any]], model: str, at: str) -> list[Alert]:
    """The model's alerts that were firing: kept firing while it is blind, never sent as resolved."""
    return [
        Alert(model, str(a.get("metric")), str(a.get("severity")), "firing", str(a.get("summary") or ""), at,
              a.get("value"))
        for a in active.values()
        if a.get("model") == model and a.get("metric") != METRIC
    ]
