"""The policy input contract: one JSON document per model, exactly what the backends receive.

Part of the policy stage (between plan and policy). Builds, per model,
``{"model": ID, "input": {...}}`` from already-loaded specs, the plan entry, the change
context and govops.yaml; documented in ``policies/README.md`` and
``policies/input.schema.json``. It refuses what the input cannot express (NaN,
infinities, integers beyond 64 bits) at the spec's file:line, and validates the change
context's types, since regopy compares values of different JSON types differently from
OPA. It never evaluates a policy and never reads Git.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from typing import Any

from engine.change.plan import diff_specs
from engine.policy.errors import PolicyInputError
from engine.policy.pack_coverage import change_coverage
from engine.policy.packs import required_packs
from engine.policy.timeutil import to_ns, to_rfc3339
from engine.spec.config import Governance
from engine.spec.loader import format_path
from engine.spec.thresholds import effective_checks
from engine.spec.workspace import LoadedSpec

INT64 = 2**63 - 1
_LONG_DIGITS = re.compile(r"\d{19,}")

CONTEXT_DEFAULTS: dict[str, Any] = {
    "author": None,
    "approvals": [],
    "labels": [],
    "changed_files": [],
    "target_branch": None,
    "pr_number": None,
}


def normalise_context(context: dict[str, Any] | None) -> dict[str, Any]:
    """The change-request context with defaults filled in and every type checked."""
    ctx = {**CONTEXT_DEFAULTS, **(context or {})}

    def bad(field: str, want: str) -> PolicyInputError:
        return PolicyInputError(f"change context: {field} must be {want}, got {ctx.get(field)!r}")

    if ctx["author"] is not None and not isinstance(ctx["author"], str):
        raise bad("author", "a string or null")
    if ctx["target_branch"] is not None and not isinstance(ctx["target_branch"], str):
        raise bad("target_branch", "a string or null")
    pr = ctx["pr_number"]
    if pr is not None and (isinstance(pr, bool) or not isinstance(pr, int)):
        raise bad("pr_number", "an integer or null")
    for field in ("labels", "changed_files"):
        if not isinstance(ctx[field], list) or not all(isinstance(x, str) for x in ctx[field]):
            raise bad(field, "a list of strings")
    approvals = ctx["approvals"]
    if not isinstance(approvals, list):
        raise bad("approvals", "a list of {approver, group}")
    norm = []
    for a in approvals:
        if not isinstance(a, dict) or not isinstance(a.get("approver"), str) or not a["approver"]:
            raise bad("approvals", "a list of {approver: string, group: string or null}")
        group = a.get("group")
        if group is not None and not isinstance(group, str):
            raise bad("approvals", "a list of {approver: string, group: string or null}")
        norm.append({"approver": a["approver"], "group": group})
    ctx["approvals"] = norm
    return ctx


def freezes_data(config: Governance | None) -> list[dict[str, Any]]:
    """govops.yaml's freeze windows with integer nanosecond bounds."""
    if config is None:
        return []
    return [
        {
            "name": f.name,
            "start": to_rfc3339(f.start),
            "end": to_rfc3339(f.end),
            "start_ns": to_ns(f.start),
            "end_ns": to_ns(f.end),
            "tenants": list(f.tenants),
        }
        for f in config.freezes
    ]


class InputBuilder:
    """Builds the input documents of one run (config, context, waivers and clock shared)."""

    def __init__(
        self,
        config: Governance,
        *,
        context: dict[str, Any] | None,
        now_ns: int,
        waivers: list[dict[str, Any]],
        mode: str,
    ) -> None:
        self.config = config
        self.config_data = config.to_data()
        self.context = normalise_context(context)
        self.now_ns = now_ns
        self.waivers = waivers
        self.freezes = freezes_data(config)
        self.mode = mode
        self.packs: dict[str, Any] = {}
        """The judging library's regulation packs (``engine.policy.packs``), set by the caller."""
        self.removed_tiers: list[str] = []
        """Tiers of the models this change removes: a model it adds answers to their packs too (a rename)."""

    def time_boundaries(self) -> list[int]:
        """Every time the policies compare ``now_ns`` with (freeze bounds, waiver expiries)."""
        times = {w["expires_ns"] for w in self.waivers}
        for f in self.freezes:
            times.update((f["start_ns"], f["end_ns"]))
        return sorted(times)

    def time_bucket(self) -> int:
        """Where ``now_ns`` falls among ``time_boundaries`` (part of every decision-cache key)."""
        return bisect.bisect_right(self.time_boundaries(), self.now_ns)

    def build(
        self,
        head: LoadedSpec,
        base: LoadedSpec | None,
        plan_entry: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``{"model", "input"}`` for one model (``base`` is the spec at the base ref, or None)."""
        spec_data = head.spec.to_data()
        checks = effective_checks(head.spec, self.config)
        if base is head:
            previous_data: dict[str, Any] | None = spec_data
            previous_checks = checks
        elif base is not None:
            previous_data = base.spec.to_data()
            previous_checks = effective_checks(base.spec, self.config)
        else:
            previous_data, previous_checks = None, {}
        if plan_entry is None:
            plan_entry = diff_specs(
                base.spec if base else None,
                head.spec,
                base_file=base.file if base else None,
                head_file=head.file,
                config=self.config,
            )
        doc = {
            "model": head.id,
            "file": head.file,
            "mode": self.mode,
            "spec": spec_data,
            "previous": previous_data,
            "previous_file": base.file if base else None,
            "plan": plan_entry,
            "checks": checks,
            "previous_checks": previous_checks,
            "context": self.context,
            "config": self.config_data,
            "freezes": self.freezes,
            "waivers": self.waivers,
            "now_ns": self.now_ns,
        }
        required = required_packs(self.config, head.spec.spec.tier)
        if base is not None:  # lowering the tier in the same change does not shed the base tier's packs
            required += [p for p in required_packs(self.config, base.spec.spec.tier) if p not in required]
        else:  # nor does removing the model and adding it under a new id (or tenant) in the same change
            for tier in self.removed_tiers:
                required += [p for p in required_packs(self.config, tier) if p not in required]
        if required:  # only where a tier requires a pack: every other input stays as it was
            doc["packs"] = change_coverage(self.packs, required, spec_data, checks, self.context,
                                           dict(self.config.groups))
        return {"model": head.id, "input": doc}


def dumps_without_now(doc: dict[str, Any], head: LoadedSpec | None = None) -> str:
    """Canonical JSON of an input with ``now_ns`` left out (it is spliced in by ``with_now``).

    Raises ``PolicyInputError`` at the spec's file:line for values JSON/Rego cannot carry.
    """
    body = {k: v for k, v in doc.items() if k != "now_ns"}
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError:
        _raise_inexpressible(body, head)
        raise
    # Nanosecond times have 19 digits, so look for a run of digits that is really beyond
    # 64 bits before walking the document (the walk costs more than the dump).
    if any(int(m.group()) > INT64 for m in _LONG_DIGITS.finditer(text)):
        _check_ints(body, head)
    return text


def with_now(text: str, now_ns: int) -> str:
    """The input JSON ``text`` (from ``dumps_without_now``) with ``now_ns`` added."""
    return f'{text[:-1]},"now_ns":{int(now_ns)}}}'


def _find(value: Any, path: tuple[str | int, ...], bad: Any) -> tuple[str | int, ...] | None:
    if isinstance(value, dict):
        for k, v in value.items():
            found = _find(v, path + (k,), bad)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _find(v, path + (i,), bad)
            if found is not None:
                return found
    elif bad(value):
        return path
    return None


def _locate(body: dict[str, Any], head: LoadedSpec | None, bad: Any, what: str) -> None:
    path = _find(body, (), bad)
    if path is None:
        return
    where = format_path(path)
    if head is not None and path[:1] in (("spec",), ("previous",)):
        line, col = head.doc.position(path[1:])
        raise PolicyInputError(
            f"{format_path(path[1:])}: {what}; the policy input is JSON (finite numbers, "
            "64-bit integers) and cannot carry it",
            file=head.file,
            line=line,
            col=col,
        )
    raise PolicyInputError(f"policy input {where}: {what}")


def _raise_inexpressible(body: dict[str, Any], head: LoadedSpec | None) -> None:
    _locate(body, head, lambda v: isinstance(v, float) and not math.isfinite(v), "NaN or infinity")


def _check_ints(body: dict[str, Any], head: LoadedSpec | None) -> None:
    _locate(
        body,
        head,
        lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) > INT64,
        "an integer beyond 64 bits",
    )
