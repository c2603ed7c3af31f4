"""Regulation packs: versioned data that maps a regulation's controls to the evidence govops holds.

Part of the policy stage. A pack is a YAML file under ``policies/packs/`` (so it is governed
like the Rego library: a change is judged by the packs at the base branch's tip, never by
its own edits, see :mod:`engine.policy.judge`). Each control has an ``id``, a ``ref`` into the
published text (article, annex point, section), the control's ``text`` and the ``evidence``
that satisfies it, one kind per item:

- ``spec: PATH``: a spec field is present and not empty (``metadata.limitations``,
  ``spec.validation.evaluationData``; ``version.PATH`` is the served version's field);
- ``check: NAME``: a validation check of the catalogue (the tier must run it);
- ``approval: any | GROUP``: the change was approved (by a member of ``GROUP`` in govops.yaml);
- ``monitoring: thresholds | channels | autoShutdown | health | state``: declared monitoring
  (``state``: a health measured by ``govops monitor``);
- ``ledger: rollout | validation | policy_decision``: records govops writes to the ledger.

This module parses and validates packs (every error at file:line:col), and lints them
against ``govops.yaml``'s tiers; :mod:`engine.policy.pack_coverage` judges a model against
one. It never evaluates a policy and never reads Git itself.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.spec.diagnostics import Diagnostic
from engine.spec.loader import YamlDocument, YamlError, parse_yaml

PACKS_DIR = "packs"
"""Packs live in this folder of the policy library (``policies/packs/*.yaml``)."""
MAX_PACK_BYTES = 1 << 20
PACK_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
CONTROL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:()-]{0,63}$")

EVIDENCE_KINDS = ("spec", "check", "approval", "monitoring", "ledger")
MONITORING_ITEMS = {
    "thresholds": "alert thresholds declared (spec.monitoring.thresholds)",
    "channels": "alert channels declared (spec.monitoring.channels)",
    "autoShutdown": "automatic shutdown enabled (spec.monitoring.autoShutdown)",
    "health": "a health score with a minimum (spec.monitoring.health)",
    "state": "a health measured by govops monitor (monitoring state)",
}
LEDGER_ITEMS = {
    "rollout": "a rollout record in the ledger (git notes)",
    "validation": "validation results recorded with the rollout",
    "policy_decision": "policy decisions recorded with the rollout",
}


@dataclass(frozen=True)
class Evidence:
    """One evidence item of a control: its kind and what it names."""

    kind: str
    value: str

    @property
    def key(self) -> str:
        """``kind:value``, as reports and the policy input name it."""
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class Control:
    """One control of a regulation, and the evidence that covers it."""

    id: str
    ref: str
    title: str
    text: str
    evidence: tuple[Evidence, ...]
    line: int = 1


@dataclass
class Pack:
    """A regulation pack: its source document and its controls."""

    name: str
    title: str
    source: str
    published: str
    controls: list[Control]
    file: str
    positions: dict[Any, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    def where(self, *path: str | int) -> tuple[int, int]:
        """``(line, col)`` of a path in the pack file (its nearest ancestor that has one)."""
        p = tuple(path)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return (1, 1)


def _diag(doc: YamlDocument, path: tuple[str | int, ...], rule: str, message: str) -> Diagnostic:
    line, col = doc.position(path)
    return Diagnostic(doc.file, line, col, f"pack/{rule}", message)


def parse_pack(raw: bytes, shown: str) -> tuple[Pack | None, list[Diagnostic]]:
    """A pack from file bytes, or None with every problem found at file:line:col."""
    try:
        doc = parse_yaml(raw, shown, max_bytes=MAX_PACK_BYTES, what="a regulation pack")
    except YamlError as exc:
        return None, [Diagnostic(shown, exc.line or 1, exc.col or 1, "pack/yaml", exc.message)]
    data = doc.data
    diags: list[Diagnostic] = []
    if not isinstance(data, dict):
        return None, [_diag(doc, (), "shape", "a pack is a mapping with apiVersion, kind, metadata and controls")]
    for key, want in (("apiVersion", "govops/v1"), ("kind", "RegulationPack")):
        if data.get(key) != want:
            diags.append(_diag(doc, (key,), "shape", f"{key} must be {want!r}"))
    unknown = sorted(set(data) - {"apiVersion", "kind", "metadata", "controls"})
    for key in unknown:
        diags.append(_diag(doc, (key,), "shape",
                           f"unknown field {key!r} (known: apiVersion, kind, metadata, controls)"))
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        diags.append(_diag(doc, ("metadata",), "shape", "metadata must be a mapping with name, title, source"))
        meta = {}
    name = meta.get("name")
    if not isinstance(name, str) or not PACK_NAME.match(name):
        diags.append(_diag(doc, ("metadata", "name"), "shape",
                           "metadata.name must be a DNS label (lowercase letters, digits, '-')"))
    for key in ("title", "source", "published"):
        if not isinstance(meta.get(key), str) or not meta.get(key):
            diags.append(_diag(doc, ("metadata", key), "shape", f"metadata.{key} must be a non-empty string"))
    controls_raw = data.get("controls")
    if not isinstance(controls_raw, list) or not controls_raw:
        diags.append(_diag(doc, ("controls",), "shape", "controls must be a non-empty list"))
        controls_raw = []
    controls: list[Control] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(controls_raw):
        control = _control(doc, i, item, diags)
        if control is None:
            continue
        if control.id in seen:
            diags.append(_diag(doc, ("controls", i, "id"), "duplicate-control",
                               f"control id {control.id!r} is already used at line {seen[control.id]}; "
                               "each control id appears once in a pack"))
            continue
        seen[control.id] = control.line
        controls.append(control)
    if diags:
        return None, diags
    return Pack(str(name), str(meta["title"]), str(meta["source"]), str(meta["published"]), controls, shown,
                dict(doc.positions)), []


def _control(doc: YamlDocument, i: int, item: Any, diags: list[Diagnostic]) -> Control | None:
    here: tuple[str | int, ...] = ("controls", i)
    if not isinstance(item, dict):
        diags.append(_diag(doc, here, "shape", "a control is a mapping with id, ref, title, text, evidence"))
        return None
    bad = len(diags)
    for key in sorted(set(item) - {"id", "ref", "title", "text", "evidence"}):
        diags.append(_diag(doc, (*here, key), "shape", f"unknown control field {key!r}"))
    cid = item.get("id")
    if not isinstance(cid, str) or not CONTROL_ID.match(cid):
        diags.append(_diag(doc, (*here, "id"), "shape", "control id must be letters, digits and . _ : ( ) -"))
    for key in ("ref", "title", "text"):
        if not isinstance(item.get(key), str) or not str(item.get(key)).strip():
            diags.append(_diag(doc, (*here, key), "shape", f"control {key} must be a non-empty string"))
    items = item.get("evidence")
    evidence: list[Evidence] = []
    if not isinstance(items, list) or not items:
        diags.append(_diag(doc, (*here, "evidence"), "shape", "evidence must be a non-empty list"))
        items = []
    for j, ev in enumerate(items):
        where = (*here, "evidence", j)
        if not isinstance(ev, dict) or len(ev) != 1:
            diags.append(_diag(doc, where, "shape", "an evidence item is one 'kind: value' pair "
                                                    f"(kinds: {', '.join(EVIDENCE_KINDS)})"))
            continue
        ((kind, value),) = ev.items()
        if kind not in EVIDENCE_KINDS:
            diags.append(_diag(doc, (*where, kind), "unknown-evidence-kind",
                               f"unknown evidence kind {kind!r}; known: {', '.join(EVIDENCE_KINDS)}"))
            continue
        if not isinstance(value, str) or not value:
            diags.append(_diag(doc, (*where, kind), "shape", f"evidence {kind} needs a name (a string)"))
            continue
        problem = evidence_problem(kind, value)
        if problem:
            diags.append(_diag(doc, (*where, kind), "unknown-evidence", problem))
            continue
        evidence.append(Evidence(kind, value))
    if len(diags) > bad:
        return None
    return Control(str(cid), str(item["ref"]), str(item["title"]), " ".join(str(item["text"]).split()),
                   tuple(evidence), doc.position(here)[0])


def evidence_problem(kind: str, value: str) -> str | None:
    """Why ``kind: value`` names nothing govops knows (None when it does)."""
    from engine.spec.catalog_of_checks import CHECK_THRESHOLDS

    if kind == "spec":
        return None if spec_path_known(value) else (
            f"spec field {value!r} is not a field of a model spec (metadata.*, spec.*, or version.* for the "
            "served version; YAML names, e.g. spec.validation.evaluationData)")
    if kind == "check":
        return None if value in CHECK_THRESHOLDS else (
            f"check {value!r} is not in the catalogue; known: {', '.join(sorted(CHECK_THRESHOLDS))}")
    if kind == "monitoring":
        return None if value in MONITORING_ITEMS else (
            f"monitoring evidence {value!r} is unknown; known: {', '.join(MONITORING_ITEMS)}")
    if kind == "ledger":
        return None if value in LEDGER_ITEMS else (
            f"ledger evidence {value!r} is unknown; known: {', '.join(LEDGER_ITEMS)}")
    return None  # approval: 'any' or a group, checked against govops.yaml by lint_packs


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``X | None``, ``list[X]`` or ``dict[str, X]`` (None for a plain value)."""
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def spec_path_known(path: str) -> bool:
    """Whether ``path`` names a field of a model spec (``version.*``: of a version)."""
    from engine.spec.model import ModelSpec, Version

    parts = path.split(".")
    model: Any = Version if parts[0] == "version" else ModelSpec
    for part in parts[1:] if parts[0] == "version" else parts:
        if model is None:
            return False
        by_alias = {(f.alias or n): f for n, f in model.model_fields.items()}
        if part not in by_alias:
            return False
        model = _model_of(by_alias[part].annotation)
    return True


def load_packs(directory: Path, shown: str) -> tuple[dict[str, Pack], list[Diagnostic]]:
    """Every ``*.yaml`` pack in ``directory`` (from disk: the working tree's library)."""
    files: dict[str, bytes] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.yaml")):
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as fh:  # bounded: parse_pack refuses what is over the cap
                    files[path.name] = fh.read(MAX_PACK_BYTES + 1)
    return packs_from_files(files, shown)


def packs_from_files(files: dict[str, bytes], shown: str) -> tuple[dict[str, Pack], list[Diagnostic]]:
    """Packs from ``file name -> bytes`` (read from Git at the base, or from disk), by pack name."""
    packs: dict[str, Pack] = {}
    diags: list[Diagnostic] = []
    for name, raw in sorted(files.items()):
        file = f"{shown.rstrip('/')}/{name}"
        pack, found = parse_pack(raw, file)
        diags += found
        if pack is None:
            continue
        if pack.name in packs:
            line, col = pack.where("metadata", "name")
            diags.append(Diagnostic(file, line, col, "pack/duplicate-pack",
                                    f"pack {pack.name!r} is also defined in {packs[pack.name].file}"))
            continue
        packs[pack.name] = pack
    return packs, diags


def lint_packs(packs: dict[str, Pack], config: Any, config_file: str = "govops.yaml") -> list[Diagnostic]:
    """Packs against govops.yaml: required packs exist, their checks run in that tier, approval groups exist."""
    diags: list[Diagnostic] = []
    if config is None:
        return diags
    groups = set(getattr(config, "groups", {}) or {})
    for tier_name, tier in sorted(config.tiers.items()):
        for name in tier.require_packs or []:
            pack = packs.get(name)
            if pack is None:
                diags.append(Diagnostic(config_file, 1, 1, "pack/unknown-pack",
                                        f"tier {tier_name} requires regulation pack {name!r}, which is not in "
                                        f"policies/{PACKS_DIR}/ (known: {', '.join(sorted(packs)) or 'none'})"))
                continue
            runs = set(tier.required_checks)
            for i, control in enumerate(pack.controls):
                for j, ev in enumerate(control.evidence):
                    line, col = pack.where("controls", i, "evidence", j, ev.kind)
                    if ev.kind == "check" and ev.value not in runs:
                        diags.append(Diagnostic(
                            pack.file, line, col, "pack/check-not-run",
                            f"control {control.id} needs check {ev.value!r}, which tier {tier_name} (it requires "
                            f"this pack) does not run; add it to tiers.{tier_name}.requiredChecks in govops.yaml "
                            "or name a check the tier runs"))
                    if ev.kind == "approval" and ev.value != "any" and ev.value not in groups:
                        diags.append(Diagnostic(
                            pack.file, line, col, "pack/unknown-group",
                            f"control {control.id} needs an approval from group {ev.value!r}, which govops.yaml "
                            f"does not define (groups: {', '.join(sorted(groups)) or 'none'})"))
    return diags


def required_packs(config: Any, tier: str) -> list[str]:
    """The packs a tier requires (``tiers.<tier>.requirePacks`` in govops.yaml)."""
    t = config.tiers.get(tier) if config is not None else None
    return list(getattr(t, "require_packs", None) or []) if t is not None else []
