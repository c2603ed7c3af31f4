"""Check results: what a validation check returns, as data (the contract between the checks and the engine).

A result is a plain dataclass serialised to JSON; its JSON Schema is generated from
these classes and committed at ``engine/spec/schemas/check-result.schema.json`` (a test
fails when the two drift apart). It lives in the spec layer, not in ``runners/``, because
both sides read it: the checks write results, and the executors, the report and the
hand-over judge them (:func:`document_passes`) without importing the checks. This module
never runs a check or reads data: it only holds, judges and serialises values.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict

from engine.spec.catalog_of_checks import direction

Status = Literal["pass", "fail", "error"]
Op = Literal[">=", "<="]
SCHEMA_FILE = Path(__file__).parent / "schemas" / "check-result.schema.json"
SCHEMA_ID = "https://govops.dev/schemas/check-result.schema.json"
RESULT_KIND = "govops/check-result/v1"
# every field is always written, so the schema marks them all required
_SCHEMA_CONFIG = ConfigDict(json_schema_serialization_defaults_required=True)


@dataclass
class Metric:
    """One measured value, the threshold it is judged against (if any) and the verdict.

    The verdict fails closed: a value judged against a threshold that could not be
    computed (``value`` is ``None``: no probabilities, one class, a non-finite number) has
    ``passed: false`` and a ``note`` saying why. ``passed`` is ``None`` only when nothing is
    judged: no threshold, a slice too small by the spec's own minimum, or a threshold the
    spec's task makes inapplicable (``min_r2`` on a classifier); the last has
    ``applicable: false`` and never gates. ``gate`` says whether this metric decides the
    check's status (per-feature drift values are evidence; the drifted share is the gate).
    """

    __pydantic_config__ = _SCHEMA_CONFIG

    name: str
    value: float | None
    threshold: float | None = None
    op: Op | None = None
    passed: bool | None = None
    scope: str = "overall"
    gate: bool = True
    note: str | None = None
    applicable: bool = True


@dataclass
class InputRef:
    """A file the check read, with the sha256 of the exact bytes used."""

    __pydantic_config__ = _SCHEMA_CONFIG

    role: str
    uri: str
    sha256: str


@dataclass
class CheckResult:
    """The outcome of one check on one model version."""

    __pydantic_config__ = _SCHEMA_CONFIG

    check: str
    model: str
    version: str
    status: Status
    summary: str
    metrics: list[Metric] = field(default_factory=list)
    inputs: list[InputRef] = field(default_factory=list)
    champion: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: str | None = None
    duration_s: float | None = None
    kind: str = RESULT_KIND

    def to_json(self) -> dict[str, Any]:
        """The JSON document (NaN and infinities become ``null``: JSON has neither)."""
        return _clean(asdict(self))

    def write(self, path: Path) -> None:
        """Write the document (parent folders created), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
        tmp.replace(path)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def judge(
    threshold_name: str,
    value: float | None,
    threshold: float | None,
    *,
    metric: str | None = None,
    scope: str = "overall",
    gate: bool = True,
    note: str | None = None,
    why: str | None = None,
) -> Metric:
    """A metric judged by a catalog threshold (``min_*``: value >= threshold; ``max_*``: value <= threshold).

    Fails closed: with a threshold and no finite value, the metric fails (``passed: false``)
    and its note says why (``why``, else a generic reason). A check that knows the value does
    not apply (the spec's task) uses :func:`not_applicable` instead; nothing else may skip a
    threshold.
    """
    name = metric or threshold_name.removeprefix("min_").removeprefix("max_")
    op: Op = ">=" if direction(threshold_name) == "min" else "<="
    if value is not None and not math.isfinite(value):
        why = why or f"the value is not a finite number ({value})"
        value = None
    if threshold is None:
        return Metric(name, value, None, None, None, scope, gate, note)
    if value is None:
        reason = f"could not be computed: {why or 'the check produced no value'}"
        return Metric(name, None, float(threshold), op, False, scope, gate, f"{reason}; {note}" if note else reason)
    passed = value >= threshold if op == ">=" else value <= threshold
    return Metric(name, float(value), float(threshold), op, bool(passed), scope, gate, note)


def not_applicable(threshold_name: str, threshold: float, reason: str, scope: str = "overall") -> Metric:
    """A threshold the spec's task makes inapplicable (``min_r2`` on a classifier): reported, never gating.

    Only the spec decides applicability (its ``task``): tier defaults set classification and
    regression thresholds for every model, so the other task's are expected. A value that
    merely could not be computed is not this: see :func:`judge`.
    """
    op: Op = ">=" if direction(threshold_name) == "min" else "<="
    name = threshold_name.removeprefix("min_").removeprefix("max_")
    return Metric(name, None, float(threshold), op, None, scope, False, f"not applicable: {reason}", False)


def unjudged(m: Metric) -> bool:
    """A gating metric with a threshold and no verdict that is not marked inapplicable (fails closed)."""
    return m.gate and m.threshold is not None and m.passed is None and m.applicable


def status_of(metrics: list[Metric]) -> Status:
    """``fail`` if any gating metric failed or was left unjudged under a threshold, else ``pass``."""
    return "fail" if failed(metrics) else "pass"


def failed(metrics: list[Metric]) -> list[Metric]:
    """The gating metrics that failed (an unjudged thresholded metric counts as failed)."""
    return [m for m in metrics if m.gate and (m.passed is False or unjudged(m))]


def describe(m: Metric) -> str:
    """``name=value (op threshold)`` for sentences and tables; an unknown value says why."""
    value = "n/a" if m.value is None else f"{m.value:.4g}"
    where = "" if m.scope == "overall" else f" [{m.scope}]"
    if m.threshold is None:
        return f"{m.name}{where}={value}"
    if m.value is None and m.note and m.applicable:
        return f"{m.name}{where} {m.note} (needs {m.op} {m.threshold:g})"
    return f"{m.name}{where}={value} (needs {m.op} {m.threshold:g})"


def document_passes(result: dict[str, Any] | None) -> bool:
    """A check result passes only if its status says so *and* no gating metric contradicts it.

    Fails closed: a result document (from a worker, an Argo step or an uploaded artifact) that says
    ``pass`` while a gating metric failed, or sits under a threshold with no verdict and is
    not marked ``applicable: false``, does not pass.
    """
    if not result or result.get("status") != "pass":
        return False
    for m in result.get("metrics") or []:
        if not isinstance(m, dict) or not m.get("gate", True):
            continue
        if m.get("passed") is False:
            return False
        if m.get("threshold") is not None and m.get("passed") is None and m.get("applicable", True) is not False:
            return False
    return True


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a result document, generated from :class:`CheckResult`."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(CheckResult).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["description"] = (
        "One validation check on one model version (python -m runners CHECK ... --out FILE). "
        "Fields are added, never renamed or dropped."
    )
    return schema
